package org.dualdistill.rkd;

import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dualdistill.internal.torch.TensorBridge;
import org.dualdistill.kernels.KernelBackend;

/**
 * The RKD loss composed from LibTorch ops the naive way (backend {@link KernelBackend#TORCH}): the reference the
 * fused kernels are tested against, and the fallback when they are unavailable. It forms the B x B x D difference
 * tensor {@code diff[i, j] = e_j - e_i}, the distances from it, the B x B x B cosines by a batched matrix product of
 * the differences, masks the pairs (i != j) and triples (j != i, k != i), and lets autograd differentiate, through
 * mu_s as well. The teacher side runs without grad.
 *
 * <p>Precision: float32 and float64 embeddings are computed in their own dtype; float16 and bfloat16 are computed
 * in float32 (like the kernels' wider accumulation), with the gradient cast back by autograd. Embeddings above 1e18
 * in magnitude (whose squared differences would overflow float32) are computed in float64. Memory and time are
 * O(B^2 D) and O(B^3 D): this is the baseline, not the fast path.
 *
 * <p>Runs inside the caller's {@code PointerScope}; the tensors it returns in {@link RkdResult} are retained.
 */
final class TorchRkd {
    private static final long REDUCTION_MEAN = 1;

    private TorchRkd() {
    }

    static RkdResult compute(RkdLoss cfg, Tensor student, Tensor teacher, long b) {
        if (cfg.checkFinite()) {
            requireFinite(student, "studentEmbeddings");
            requireFinite(teacher, "teacherEmbeddings");
        }
        ScalarType in = TensorBridge.dtype(student);
        ScalarType work = in == ScalarType.Double || needsFloat64(student, teacher) ? ScalarType.Double : ScalarType.Float;
        Tensor s = student.to(work);
        // pair mask i != j [B, B] and triple mask j != i, k != i [B, B, B], on the embeddings' device
        Tensor pairs = torch.eye(b, new TensorOptions(ScalarType.Bool).device(new DeviceOptional(student.device())))
                .logical_not();
        Tensor triples = pairs.unsqueeze(2).logical_and(pairs.unsqueeze(1));

        Tensor psiT;
        Tensor cosT;
        try (NoGradGuard g = new NoGradGuard()) {
            Tensor[] rt = relations(teacher.to(work), pairs, cfg.eps());
            psiT = rt[0].masked_select(pairs);
            cosT = rt[1].masked_select(triples);
        }
        Tensor[] rs = relations(s, pairs, cfg.eps());
        Tensor distance = torch.smooth_l1_loss(rs[0].masked_select(pairs), psiT, REDUCTION_MEAN, 1.0);
        Tensor angle = torch.smooth_l1_loss(rs[1].masked_select(triples), cosT, REDUCTION_MEAN, 1.0);
        Tensor total = distance.mul(new Scalar(cfg.distanceWeight())).add(angle.mul(new Scalar(cfg.angleWeight())));
        if (work != in && in != ScalarType.Double) {
            total = total.to(ScalarType.Float); // widened only for the range: the loss keeps float32
        }
        if (cfg.checkFinite() && !torch.isfinite(total.detach()).all().item_bool()) {
            // the inputs were checked above: finite embeddings, a loss beyond float32 (huge term weights)
            throw new IllegalArgumentException("RKD loss overflows float32: the embeddings are finite, but the loss "
                    + "exceeds the float32 range (|x| > 3.4e38); lower distanceWeight/angleWeight");
        }
        Tensor parts = torch.stack(new TensorVector(total.detach(), distance.detach(), angle.detach()), 0)
                .to(ScalarType.Float);
        total.retainReference();
        parts.retainReference();
        return new RkdResult(total, parts, KernelBackend.TORCH);
    }

    /**
     * @return {psi = d / mu [B, B], cos [B, B, B]} with {@code d_ij = sqrt(max(|e_j - e_i|^2, eps))}, mu the mean of
     *     d over the pairs, and {@code cos[i, j, k] = <e_j - e_i, e_k - e_i> / (d_ij d_ik)}
     */
    private static Tensor[] relations(Tensor e, Tensor pairs, double eps) {
        Tensor diff = e.unsqueeze(0).sub(e.unsqueeze(1)); // [B, B, D]: diff[i, j] = e_j - e_i
        Tensor sq = torch.sum(diff.mul(diff), new long[] {2}, false, new ScalarTypeOptional());
        Tensor d = torch.clamp_min(sq, new Scalar(eps)).sqrt();
        Tensor mu = d.masked_select(pairs).mean();
        Tensor dots = torch.bmm(diff, diff.transpose(1, 2)); // [i, j, k] = <e_j - e_i, e_k - e_i>
        Tensor cos = dots.div(d.unsqueeze(2).mul(d.unsqueeze(1)));
        return new Tensor[] {d.div(mu), cos};
    }

    /**
     * Squared differences of float32 embeddings overflow float32 once |e| passes ~1e19 (the distances turn inf and
     * the relations NaN); above 1e18 the relations are computed in float64, which holds any float32 input. One
     * reduction and one host read per input: the naive baseline's cost for correctness at every magnitude.
     */
    private static boolean needsFloat64(Tensor student, Tensor teacher) {
        for (Tensor t : new Tensor[] {student, teacher}) {
            if (TensorBridge.dtype(t) != ScalarType.Double
                    && torch.max(torch.abs(t.detach())).item_double() > 1e18) {
                return true;
            }
        }
        return false;
    }

    private static void requireFinite(Tensor t, String name) {
        if (!torch.isfinite(t).all().item_bool()) {
            throw new IllegalArgumentException(name + ": contains NaN or infinity");
        }
    }
}
