package org.dualdistill.datw;

import java.util.List;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dualdistill.kernels.KernelBackend;

/**
 * The DATW loss composed from LibTorch ops (backend {@link KernelBackend#TORCH}): the reference the fused kernels
 * are tested against, and the fallback when they are unavailable. Autograd differentiates the KD and CE terms with
 * respect to the student; the teacher statistics and weights are computed without grad, in float64 (the confidence
 * {@code 1 - H / log C} cancels for near-uniform teachers, and the LINEAR normalization amplifies any error there).
 * KD and CE run in float32 whatever the input dtype, like the kernels' float32 accumulation.
 *
 * <p>Runs inside the caller's {@code PointerScope}; the tensors it returns in {@link DatwResult} are retained.
 */
final class TorchDatw {
    private static final long REDUCTION_NONE = 0;
    private static final long REDUCTION_MEAN = 1;
    private static final long REDUCTION_SUM = 2;

    private TorchDatw() {
    }

    static DatwResult compute(DatwConfig cfg, Tensor student, List<Tensor> teachers, Tensor labels, long b, long c) {
        int k = teachers.size();
        if (cfg.checkFinite()) {
            requireFinite(student, "student");
            for (int i = 0; i < k; i++) {
                requireFinite(teachers.get(i), "teachers[" + i + "]");
            }
        }
        if (labels != null) {
            long lo = torch.min(labels).item_long();
            long hi = torch.max(labels).item_long();
            if (lo < 0 || hi >= c) {
                throw new IllegalArgumentException("labels: a label is outside 0.." + (c - 1) + " (C = " + c
                        + "): found range [" + lo + ", " + hi + "]");
            }
        }
        double logC = Math.log(c);
        Tensor w;
        Tensor conf;
        Tensor disc;
        try (var g = new org.bytedeco.pytorch.NoGradGuard()) {
            Tensor sd = student.detach().to(ScalarType.Double);
            Tensor sNorm = torch.clamp_min(norm1(sd), new Scalar(1e-8));
            TensorVector ents = new TensorVector();
            TensorVector confs = new TensorVector();
            TensorVector discs = new TensorVector();
            TensorVector ces = new TensorVector();
            for (Tensor t : teachers) {
                Tensor td = t.to(ScalarType.Double);
                Tensor lp = torch.log_softmax(td.div(new Scalar(cfg.tauConf())), 1);
                Tensor h = torch.sum(lp.exp().mul(lp), new long[] {1}, false, new ScalarTypeOptional()).neg();
                ents.push_back(h);
                confs.push_back(torch.clamp(h.div(new Scalar(logC)).neg().add(new Scalar(1.0)),
                        new org.bytedeco.pytorch.ScalarOptional(new Scalar(0.0)),
                        new org.bytedeco.pytorch.ScalarOptional(new Scalar(1.0))));
                Tensor dot = torch.sum(sd.mul(td), new long[] {1}, false, new ScalarTypeOptional());
                Tensor cos = dot.div(sNorm.mul(torch.clamp_min(norm1(td), new Scalar(1e-8))));
                discs.push_back(cos.neg().add(new Scalar(1.0)).mul(new Scalar(0.5)));
                if (cfg.weighting() == Weighting.CAMKD) {
                    ces.push_back(torch.nll_loss(torch.log_softmax(td, 1), labels, new TensorOptional(), REDUCTION_NONE, -100));
                }
            }
            Tensor ent = torch.stack(ents, 1);
            conf = torch.stack(confs, 1);
            disc = torch.stack(discs, 1);
            w = weights(cfg, k, ent, conf, disc, k >= 2 && cfg.weighting() == Weighting.CAMKD ? torch.stack(ces, 1) : null);
        }

        Tensor s = student.to(ScalarType.Float);
        Tensor wf = w.to(ScalarType.Float);
        Tensor z;
        try (var g = new org.bytedeco.pytorch.NoGradGuard()) {
            z = teachers.get(0).to(ScalarType.Float).mul(wf.narrow(1, 0, 1));
            for (int i = 1; i < k; i++) {
                z = z.add(teachers.get(i).to(ScalarType.Float).mul(wf.narrow(1, i, 1)));
            }
        }
        double temp = cfg.temperature();
        Tensor logq = torch.log_softmax(z.div(new Scalar(temp)), 1);
        Tensor logp = torch.log_softmax(s.div(new Scalar(temp)), 1);
        Tensor kd = torch.kl_div(logp, logq, REDUCTION_SUM, true).mul(new Scalar(temp * temp / b));
        Tensor total = kd.mul(new Scalar(cfg.alphaKd()));
        Tensor ce;
        if (labels != null) {
            Tensor lsm = torch.log_softmax(s, 1);
            ce = torch.nll_loss(lsm, labels, new TensorOptional(), REDUCTION_MEAN, -100);
            double ls = cfg.labelSmoothing();
            if (ls > 0) {
                ce = ce.mul(new Scalar(1.0 - ls)).sub(lsm.mean().mul(new Scalar(ls)));
            }
            total = total.add(ce.mul(new Scalar(cfg.alphaCe())));
        } else {
            ce = torch.zeros_like(kd);
        }
        if (cfg.checkFinite() && !torch.isfinite(total.detach()).all().item_bool()) {
            throw DatwLoss.overflow(null); // the inputs were checked above: finite logits, a loss beyond float32
        }
        // the kernels' aux layout: weights | confidence | discrepancy | row losses (unused here, zero) | (L, L_kd, L_ce)
        Tensor aux = torch.cat(new TensorVector(wf.reshape(-1), conf.to(ScalarType.Float).reshape(-1),
                disc.to(ScalarType.Float).reshape(-1), torch.zeros(new long[] {2 * b},
                        new org.bytedeco.pytorch.TensorOptions(ScalarType.Float).device(new org.bytedeco.pytorch.DeviceOptional(wf.device()))),
                total.detach().reshape(1), kd.detach().reshape(1), ce.detach().reshape(1)), 0);
        return new DatwResult(keep(total), keep(aux), b, k, KernelBackend.TORCH);
    }

    /** Teacher weights [B, K] in float64 from the per-teacher statistics (all [B, K]). */
    private static Tensor weights(DatwConfig cfg, int k, Tensor ent, Tensor conf, Tensor disc, Tensor ceT) {
        if (cfg.weighting() == Weighting.UNIFORM || k == 1) {
            return torch.ones_like(conf).div(new Scalar((double) k));
        }
        switch (cfg.weighting()) {
            case EBKD: {
                Tensor hs = torch.sum(ent, new long[] {1}, true, new ScalarTypeOptional()).add(new Scalar(1e-12));
                Tensor w = ent.div(hs).neg().add(new Scalar(1.0));
                return w.div(torch.sum(w, new long[] {1}, true, new ScalarTypeOptional()));
            }
            case CAMKD:
                return torch.softmax(ceT, 1).neg().add(new Scalar(1.0)).div(new Scalar((double) (k - 1)));
            default: {
                Tensor e = cfg.scoreMode() == ScoreMode.PRODUCT ? conf.mul(disc)
                        : conf.mul(new Scalar(cfg.lambda())).add(disc.mul(new Scalar(1.0 - cfg.lambda())));
                if (cfg.normalization() == Normalization.SOFTMAX) {
                    return torch.softmax(e.div(new Scalar(cfg.tauWeight())), 1);
                }
                Tensor num = e.add(new Scalar(cfg.linearEps()));
                Tensor den = torch.sum(num, new long[] {1}, true, new ScalarTypeOptional());
                // all scores 0 with eps 0: no preference, uniform weights (as the kernels do)
                Tensor uniform = torch.ones_like(num).div(new Scalar((double) k));
                return torch.where(den.gt(new Scalar(0.0)), num.div(den.clamp_min(new Scalar(Double.MIN_NORMAL))), uniform);
            }
        }
    }

    private static Tensor norm1(Tensor x) {
        return torch.sum(x.mul(x), new long[] {1}, false, new ScalarTypeOptional()).sqrt();
    }

    private static void requireFinite(Tensor t, String name) {
        if (!torch.isfinite(t).all().item_bool()) {
            throw new IllegalArgumentException(name + ": contains NaN or infinity");
        }
    }

    private static Tensor keep(Tensor t) {
        t.retainReference();
        return t;
    }
}
