package org.dualdistill.distill;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.dualdistill.datw.DatwLoss;
import org.dualdistill.datw.DatwResult;
import org.dualdistill.internal.torch.TensorBridge;
import org.dualdistill.internal.torch.TorchRuntime;
import org.dualdistill.kernels.KernelBackend;
import org.dualdistill.rkd.RkdLoss;
import org.dualdistill.rkd.RkdResult;
import org.dualdistill.sdd.FeatureAlignment;
import org.dualdistill.sdd.HintLoss;
import org.dualdistill.sdd.SddLoss;
import org.dualdistill.sdd.SddResult;
import org.dualdistill.sdd.StructureDiscrepancyBranch;

/**
 * The paper's full objective (docs/method.md):
 * <pre>
 *   L = a_ce L_ce + a_kd L_kd(DATW) + b L_sdd + g L_rkd + d L_hint
 * </pre>
 * <ul>
 *   <li>L_ce, L_kd: {@link DatwLoss} over K >= 1 teachers' logits (any weighting mode).</li>
 *   <li>L_sdd: the {@link StructureDiscrepancyBranch} on the student's feature map predicts
 *       r = n(phi_ViT(f_ViT)) - n(phi_CNN(f_CNN)) ({@link FeatureAlignment}, frozen projections), scored by
 *       {@link SddLoss}. Needs the ViT and the CNN teacher's feature maps.</li>
 *   <li>L_rkd: {@link RkdLoss} between the student's embedding and the ViT teacher's.</li>
 *   <li>L_hint: {@link HintLoss}, student map to the CNN teacher's (default weight 0).</li>
 * </ul>
 * A weight of 0 switches a term off (its modules are not even built). Teacher outputs are constants: no gradient
 * flows into a teacher or a projection. The trainable modules it owns (SDB, hint psi) are listed by
 * {@link #trainableModules()} for the optimizer, and are dropped when the student is exported.
 *
 * <p>Owns its losses, alignment and modules; {@link #close()} releases them. {@link #compute} is not thread-safe
 * (the SDB is a module in training mode).
 */
public final class DistillationObjective implements AutoCloseable {
    static {
        TorchRuntime.init();
    }

    private final Builder cfg;
    private final DatwLoss datw;
    private final SddLoss sdd;
    private final RkdLoss rkd;
    private final FeatureAlignment alignment;
    private final StructureDiscrepancyBranch branch;
    private final HintLoss hint;
    private final AtomicBoolean closed = new AtomicBoolean();

    private DistillationObjective(Builder b) {
        this.cfg = b;
        this.datw = b.datw.alphaCe(b.alphaCe).alphaKd(b.alphaKd).backend(b.backend).build();
        boolean useSdd = b.sddWeight != 0;
        FeatureAlignment al = null;
        StructureDiscrepancyBranch br = null;
        HintLoss hl = null;
        try {
            if (useSdd) {
                requirePositive("studentChannels", b.studentChannels);
                requirePositive("vitChannels", b.vitChannels);
                requirePositive("cnnChannels", b.cnnChannels);
                long d = b.dim > 0 ? b.dim : b.studentChannels;
                al = FeatureAlignment.create(b.vitChannels, b.cnnChannels, d, b.seed);
                br = new StructureDiscrepancyBranch(b.studentChannels, d);
            }
            if (b.hintWeight != 0) {
                requirePositive("studentChannels", b.studentChannels);
                requirePositive("cnnChannels", b.cnnChannels);
                hl = new HintLoss(b.studentChannels, b.cnnChannels);
            }
        } catch (RuntimeException e) {
            if (al != null) {
                al.close();
            }
            if (br != null) {
                br.close();
            }
            throw e;
        }
        this.alignment = al;
        this.branch = br;
        this.hint = hl;
        this.sdd = useSdd ? SddLoss.builder().backend(b.backend).build() : null;
        this.rkd = b.rkdWeight != 0 ? RkdLoss.builder().distanceWeight(b.rkdDistanceWeight)
                .angleWeight(b.rkdAngleWeight).backend(b.backend).build() : null;
    }

    private static void requirePositive(String name, long v) {
        if (v < 1) {
            throw new IllegalArgumentException(name + " must be set (>= 1) when its term is on, got " + v);
        }
    }

    /** @return a builder with the reference defaults (a_ce = a_kd = b = g = 1, d = 0, ViT teacher 0, CNN teacher 1) */
    public static Builder builder() {
        return new Builder();
    }

    /** @return the modules whose parameters must be trained with the student (SDB, hint psi); owned by this object */
    public List<Module> trainableModules() {
        List<Module> out = new ArrayList<>();
        if (branch != null) {
            out.add(branch);
        }
        if (hint != null) {
            out.add(hint);
        }
        return out;
    }

    /** @return the feature alignment (frozen projections) or null when SDD is off; owned by this object */
    public FeatureAlignment alignment() {
        return alignment;
    }

    /** @return the Structure Discrepancy Branch or null when SDD is off; owned by this object */
    public StructureDiscrepancyBranch branch() {
        return branch;
    }

    /**
     * Evaluates the objective.
     *
     * @param student  the student's outputs (borrowed; gradients flow into them)
     * @param teachers K >= 1 teachers' outputs, ViT teacher at {@code vitTeacher}, CNN teacher at {@code cnnTeacher}
     *                 (borrowed; constants)
     * @param labels   int64 [B] or null (then a_ce must be 0)
     * @return the result; caller must close
     */
    public ObjectiveResult compute(StudentOutputs student, List<TeacherOutputs> teachers, Tensor labels) {
        if (closed.get()) {
            throw new IllegalStateException("DistillationObjective is closed");
        }
        Objects.requireNonNull(student, "student");
        if (teachers == null || teachers.isEmpty()) {
            throw new IllegalArgumentException("teachers: expected at least one teacher");
        }
        DatwResult d = null;
        SddResult s = null;
        RkdResult r = null;
        Tensor hintLoss = null;
        try (PointerScope scope = new PointerScope()) {
            List<Tensor> logits = new ArrayList<>(teachers.size());
            for (TeacherOutputs t : teachers) {
                TensorBridge.requireDefined(t.logits(), "teacher logits");
                logits.add(t.logits().detach());
            }
            d = datw.compute(student.logits(), logits, labels);
            Tensor total = d.loss();
            if (sdd != null) {
                TeacherOutputs vit = teacher(teachers, cfg.vitTeacher, "SDD", "vitTeacher");
                TeacherOutputs cnn = teacher(teachers, cfg.cnnTeacher, "SDD", "cnnTeacher");
                Tensor f = require(student.features(), "student features (SDD)");
                FeatureAlignment.Aligned ab = alignment.align(require(vit.features(), "ViT teacher features (SDD)"),
                        require(cnn.features(), "CNN teacher features (SDD)"), new long[] {f.size(2), f.size(3), f.size(4)});
                Tensor rHat = branch.forward(f);
                s = sdd.compute(rHat.contiguous(), ab.a().contiguous(), ab.b().contiguous());
                total = total.add(s.loss().mul(new Scalar(cfg.sddWeight)));
            }
            if (rkd != null) {
                TeacherOutputs vit = teacher(teachers, cfg.vitTeacher, "RKD", "vitTeacher");
                r = rkd.compute(require(student.embedding(), "student embedding (RKD)").contiguous(),
                        require(vit.embedding(), "ViT teacher embedding (RKD)").detach().contiguous());
                total = total.add(r.loss().mul(new Scalar(cfg.rkdWeight)));
            }
            if (hint != null) {
                TeacherOutputs cnn = teacher(teachers, cfg.cnnTeacher, "hint", "cnnTeacher");
                hintLoss = hint.compute(require(student.features(), "student features (hint)"),
                        require(cnn.features(), "CNN teacher features (hint)"));
                total = total.add(hintLoss.mul(new Scalar(cfg.hintWeight)));
                hintLoss.retainReference();
            }
            total.retainReference();
            return new ObjectiveResult(total, d, s, r, hintLoss, cfg.rkdWeight != 0, cfg);
        } catch (RuntimeException e) {
            for (AutoCloseable c : new AutoCloseable[] {d, s, r}) {
                if (c != null) {
                    try {
                        c.close();
                    } catch (Exception ignored) {
                        // already failing; the first exception wins
                    }
                }
            }
            if (hintLoss != null) {
                hintLoss.close();
            }
            throw e;
        }
    }

    private static TeacherOutputs teacher(List<TeacherOutputs> teachers, int index, String term, String knob) {
        if (index < 0 || index >= teachers.size()) {
            throw new IllegalArgumentException(term + " needs teacher " + knob + " = " + index + " but only "
                    + teachers.size() + " teachers were given (switch the term off or pass both teachers)");
        }
        return teachers.get(index);
    }

    private static Tensor require(Tensor t, String what) {
        if (t == null || t.isNull() || !t.defined()) {
            throw new IllegalArgumentException(what + ": required by a term that is switched on");
        }
        return t;
    }

    @Override
    public void close() {
        if (!closed.getAndSet(true)) {
            if (alignment != null) {
                alignment.close();
            }
            if (branch != null) {
                branch.close();
            }
            if (hint != null) {
                hint.close();
            }
        }
    }

    /** Every weight and knob of the objective. Not thread-safe. */
    public static final class Builder {
        private final DatwLoss.Builder datw = DatwLoss.builder();
        double alphaCe = 1;
        double alphaKd = 1;
        double sddWeight = 1;
        double rkdWeight = 1;
        double hintWeight = 0;
        double rkdDistanceWeight = 25;
        double rkdAngleWeight = 50;
        KernelBackend backend = KernelBackend.AUTO;
        long studentChannels;
        long vitChannels;
        long cnnChannels;
        long dim;
        long seed = 20251112L;
        int vitTeacher = 0;
        int cnnTeacher = 1;

        private Builder() {
        }

        /** @return the DATW loss builder, for its knobs (temperature, weighting, ...); alphas and backend are set here */
        public DatwLoss.Builder datw() {
            return datw;
        }

        /** @param a a_ce; @return this */
        public Builder alphaCe(double a) { this.alphaCe = finite("alphaCe", a); return this; }
        /** @param a a_kd; @return this */
        public Builder alphaKd(double a) { this.alphaKd = finite("alphaKd", a); return this; }
        /** @param w b, 0 switches SDD off; @return this */
        public Builder sddWeight(double w) { this.sddWeight = finite("sddWeight", w); return this; }
        /** @param w g, 0 switches RKD off; @return this */
        public Builder rkdWeight(double w) { this.rkdWeight = finite("rkdWeight", w); return this; }
        /** @param w d, 0 (default) switches the hint off; @return this */
        public Builder hintWeight(double w) { this.hintWeight = finite("hintWeight", w); return this; }
        /** @param w lambda_D (25); @return this */
        public Builder rkdDistanceWeight(double w) { this.rkdDistanceWeight = finite("rkdDistanceWeight", w); return this; }
        /** @param w lambda_A (50); @return this */
        public Builder rkdAngleWeight(double w) { this.rkdAngleWeight = finite("rkdAngleWeight", w); return this; }
        /** @param b backend of every loss; @return this */
        public Builder backend(KernelBackend b) { this.backend = Objects.requireNonNull(b, "backend"); return this; }
        /** @param c the student feature tap's channels (192 for X3D-S res5); @return this */
        public Builder studentChannels(long c) { this.studentChannels = c; return this; }
        /** @param c the ViT teacher map's channels (768 for MViTv2-S); @return this */
        public Builder vitChannels(long c) { this.vitChannels = c; return this; }
        /** @param c the CNN teacher map's channels (192 for X3D-M); @return this */
        public Builder cnnChannels(long c) { this.cnnChannels = c; return this; }
        /** @param d projection dimension D (default: studentChannels); @return this */
        public Builder dim(long d) { this.dim = d; return this; }
        /** @param s projection seed; @return this */
        public Builder seed(long s) { this.seed = s; return this; }
        /** @param i index of the ViT teacher in the teachers list (0); @return this */
        public Builder vitTeacher(int i) { this.vitTeacher = i; return this; }
        /** @param i index of the CNN teacher (1); @return this */
        public Builder cnnTeacher(int i) { this.cnnTeacher = i; return this; }

        private static double finite(String name, double v) {
            if (!Double.isFinite(v) || v < 0) {
                throw new IllegalArgumentException(name + " must be finite and >= 0, got " + v);
            }
            return v;
        }

        /** @return the objective; caller must close */
        public DistillationObjective build() {
            return new DistillationObjective(this);
        }
    }
}
