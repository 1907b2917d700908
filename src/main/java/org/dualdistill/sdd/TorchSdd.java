package org.dualdistill.sdd;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dualdistill.kernels.KernelBackend;

/**
 * The SDD loss composed from LibTorch ops (backend {@link KernelBackend#TORCH}): the reference the fused kernels are
 * tested against, and the fallback when they are unavailable. The target {@code r = n(a) - n(b)} is built without
 * grad from detached a and b, so the teachers' features never receive gradients; autograd differentiates
 * {@code mse_loss(rHat, r)} with respect to rHat. The target is normalized in float64 (finite features of any float32
 * magnitude) and rounded to float32; the loss runs in float32 whatever the input dtype (the gradient reaches a
 * float16/bfloat16 rHat through the cast), like the kernels' float32 arithmetic.
 *
 * <p>Runs inside the caller's {@code PointerScope}; the tensors it puts in the {@link SddResult} are retained.
 */
final class TorchSdd {
    private static final long REDUCTION_MEAN = 1;

    private TorchSdd() {
    }

    static SddResult compute(Tensor rHat, Tensor a, Tensor b, double eps, boolean checkFinite) {
        Tensor r;
        try (NoGradGuard guard = new NoGradGuard()) {
            r = normalized(a.detach(), eps).sub(normalized(b.detach(), eps)).to(ScalarType.Float);
        }
        Tensor loss = torch.mse_loss(rHat.to(ScalarType.Float), r, REDUCTION_MEAN);
        Tensor value = loss.detach().reshape(1);
        if (checkFinite && !torch.isfinite(value).all().item_bool()) {
            // the inputs were checked by the caller: finite, but the loss is beyond float32
            throw new IllegalArgumentException("SDD loss overflows float32: rHat, a and b are finite, but the loss "
                    + "exceeds the float32 range (|x| > 3.4e38); rHat is far too large");
        }
        return new SddResult(keep(loss), keep(value), 0, KernelBackend.TORCH);
    }

    /**
     * x / max(||x||_2 along dim 1, eps), in float64: the squares of float32 features above ~1e19 overflow float32
     * (the norm would be inf and the target silently 0), and float64 holds them for any float32 input.
     */
    private static Tensor normalized(Tensor x, double eps) {
        Tensor xd = x.to(ScalarType.Double);
        Tensor norm = torch.linalg_vector_norm(xd, new Scalar(2.0), new long[] {1}, true, new ScalarTypeOptional());
        return xd.div(torch.clamp_min(norm, new Scalar(eps)));
    }

    private static Tensor keep(Tensor t) {
        t.retainReference();
        return t;
    }
}
