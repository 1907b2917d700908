package org.dualdistill.sdd;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicBoolean;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dualdistill.internal.ffm.DualdistillNative;
import org.dualdistill.internal.kernels.CudaStreams;
import org.dualdistill.internal.kernels.FusedLosses;
import org.dualdistill.internal.kernels.NativeLibrary;
import org.dualdistill.internal.kernels.SddKernel;
import org.dualdistill.internal.torch.TensorBridge;
import org.dualdistill.internal.torch.TorchRuntime;
import org.dualdistill.kernels.KernelBackend;
import org.dualdistill.kernels.KernelException;

/**
 * SDD (structure discrepancy-aware distillation) loss: the student's structure discrepancy branch predicts the
 * residual between the two teachers' normalized features ("Revisiting Cross-Architecture Distillation: Adaptive
 * Dual-Teacher Transfer for Lightweight Video Models", Peng et al., arXiv 2511.09469; the
 * formulas: docs/method.md).
 *
 * <p>With rHat, a, b of shape [B, D, ...positions] (for X3D-S res5: [B, 192, 13, 5, 5]), a = phi_ViT(f_ViT) and
 * b = phi_CNN(f_CNN) the projected, resampled teacher features, P the number of positions and N = B D P:
 * <pre>
 *   n(x)[:, p] = x[:, p] / max(||x[:, p]||_2, eps)       (L2 normalization along the D channels, per position)
 *   r          = n(a) - n(b)                              (a constant: stop-gradient)
 *   L_sdd      = 1/N sum (rHat - r)^2,        dL_sdd/drHat = 2 (rHat - r) / N
 * </pre>
 * a and b are constants: they never receive gradients, even when they require grad.
 *
 * <p>Backends ({@link KernelBackend}): the fused kernels compute L and {@code dL/drHat} in one native call on the
 * tensors' memory (no copies, each input read from memory once) and plug into LibTorch autograd through a surrogate
 * {@code L + (<rHat, g> - <rHat, g>.detach())} whose value is L and whose gradient with respect to rHat is the
 * kernel's g; {@code TORCH} composes the same math from LibTorch ops. {@code AUTO} picks the fused kernel for the
 * tensors' device when its library is loaded, else {@code TORCH} after one log line; an explicit fused backend that
 * is unavailable throws {@link KernelException}. Arithmetic is float32 on every backend (float16/bfloat16 inputs
 * are widened; the gradient is rounded back to the input dtype).
 *
 * <p>Immutable and thread-safe: one instance may serve many threads; each call's tensors belong to that call.
 */
public final class SddLoss {
    private static final AtomicBoolean FALLBACK_LOGGED = new AtomicBoolean();

    static {
        TorchRuntime.init();
    }


    private final double eps;
    private final KernelBackend backend;
    private final int numThreads;
    private final boolean checkFinite;

    private SddLoss(Builder b) {
        if (!(b.eps > 0) || Double.isInfinite(b.eps) || (float) b.eps == 0f) {
            throw new IllegalArgumentException("eps must be finite and > 0 (and representable in float32), got " + b.eps);
        }
        if (b.backend == null) {
            throw new IllegalArgumentException("backend must not be null");
        }
        if (b.numThreads < 0) {
            throw new IllegalArgumentException("numThreads must be >= 0 (0 = default), got " + b.numThreads);
        }
        this.eps = b.eps;
        this.backend = b.backend;
        this.numThreads = b.numThreads;
        this.checkFinite = b.checkFinite;
    }

    /** @return a loss with the defaults (eps 1e-6, backend AUTO, default threads, finiteness checks on) */
    public static SddLoss create() {
        return builder().build();
    }

    /** @return a builder starting from the defaults */
    public static Builder builder() {
        return new Builder();
    }

    /** @return the normalization floor eps */
    public double eps() {
        return eps;
    }

    /** @return the requested backend (AUTO resolves per call) */
    public KernelBackend backend() {
        return backend;
    }

    /** @return CPU kernel threads, 0 = OpenMP default */
    public int numThreads() {
        return numThreads;
    }

    /** @return whether the TORCH backend (and FUSED_CUDA, at the cost of one sync) reject NaN/inf inputs */
    public boolean checkFinite() {
        return checkFinite;
    }

    /**
     * Computes L_sdd and, through autograd, its gradient with respect to rHat.
     *
     * @param rHat the structure discrepancy branch's output [B, D, ...positions] (rank >= 3, every size >= 1),
     *             float32/float16/bfloat16, CPU or CUDA; contiguous for the fused backends; borrowed. Gradients
     *             flow into it when it requires grad (and grad mode is on).
     * @param a    projected ViT-teacher features phi_ViT(f_ViT), same shape, dtype and device as rHat; borrowed;
     *             a constant (never receives gradients)
     * @param b    projected CNN-teacher features phi_CNN(f_CNN), same shape, dtype and device; borrowed; a constant
     * @return the result; caller must close (after {@code loss().backward()})
     * @throws IllegalArgumentException naming the argument for a shape, dtype, device or contiguity mismatch, or
     *                                  NaN/infinity in an input; on the fused backends also when finite inputs give a
     *                                  per-sample squared-error sum or a loss beyond the float32 range ("overflows
     *                                  float32": rHat of ~1e19 and up), while teacher features of any float32
     *                                  magnitude are normalized correctly
     * @throws KernelException          when a fused backend was requested explicitly but is unavailable
     */
    public SddResult compute(Tensor rHat, Tensor a, Tensor b) {
        try (PointerScope scope = new PointerScope()) {
            Shape shape = validate(rHat, a, b);
            KernelBackend be = FusedLosses.resolve(backend, shape.cuda, "SDD", FALLBACK_LOGGED);
            if (be == KernelBackend.TORCH) {
                if (checkFinite) {
                    requireFinite(rHat, a, b);
                }
                return TorchSdd.compute(rHat, a, b, eps, checkFinite);
            }
            return fused(be == KernelBackend.FUSED_CUDA, rHat, a, b, shape);
        }
    }

    private record Shape(long batch, long channels, long positions, boolean cuda) {
    }

    private static Shape validate(Tensor rHat, Tensor a, Tensor b) {
        TensorBridge.requireDefined(rHat, "rHat");
        TensorBridge.requireDefined(a, "a");
        TensorBridge.requireDefined(b, "b");
        if (rHat.dim() < 3) {
            throw new IllegalArgumentException("rHat: expected [B, D, ...positions] with at least 3 dimensions, got shape "
                    + TensorBridge.shapeString(rHat));
        }
        long[] s = TensorBridge.shape(rHat);
        long positions = 1;
        for (int i = 0; i < s.length; i++) {
            if (s[i] < 1) {
                throw new IllegalArgumentException("rHat: expected every dimension >= 1, got shape " + TensorBridge.shapeString(rHat));
            }
            if (i >= 2) {
                positions = Math.multiplyExact(positions, s[i]);
            }
        }
        ScalarType dtype = TensorBridge.dtype(rHat);
        TensorBridge.kernelDtype(dtype, "rHat");
        boolean cuda = rHat.is_cuda();
        String where = cuda ? "CUDA:" + rHat.device().index() : "CPU";
        for (int k = 0; k < 2; k++) {
            Tensor t = k == 0 ? a : b;
            String name = k == 0 ? "a" : "b";
            if (!Arrays.equals(TensorBridge.shape(t), s)) {
                throw new IllegalArgumentException(name + ": expected shape " + TensorBridge.shapeString(rHat) + " like rHat, got "
                        + TensorBridge.shapeString(t));
            }
            if (TensorBridge.dtype(t) != dtype) {
                throw new IllegalArgumentException(name + ": expected dtype " + dtype + " like rHat, got " + TensorBridge.dtype(t));
            }
            String tw = t.is_cuda() ? "CUDA:" + t.device().index() : "CPU";
            if (!tw.equals(where)) {
                throw new IllegalArgumentException(name + ": expected rHat's device (" + where + "), got " + tw);
            }
        }
        return new Shape(s[0], s[1], positions, cuda);
    }

    private SddResult fused(boolean cuda, Tensor rHat, Tensor a, Tensor b, Shape shape) {
        long batch = shape.batch;
        int dtype = TensorBridge.kernelDtype(TensorBridge.dtype(rHat), "rHat");
        MemorySegment rh = TensorBridge.borrow(rHat, "rHat", cuda);
        MemorySegment as = TensorBridge.borrow(a, "a", cuda);
        MemorySegment bs = TensorBridge.borrow(b, "b", cuda);

        TensorOptions f32 = FusedLosses.floatOptions(cuda, rHat);
        // one float32 buffer for what the kernel writes besides the gradient: per-sample sums [B] | L
        Tensor aux = torch.empty(new long[] {batch + 1}, f32, null);
        boolean wantGrad = rHat.requires_grad() && GradMode.is_enabled();
        Tensor grad = wantGrad ? torch.empty_like(rHat) : null;
        // CUDA reports NaN/inf through a device flag, read back below (one sync) when checkFinite
        Tensor flag = cuda ? torch.zeros(new long[] {1}, new TensorOptions(ScalarType.Int).device(new DeviceOptional(rHat.device())))
                : null;
        MemorySegment auxSeg = TensorBridge.borrow(aux, "aux", cuda);
        long f = Float.BYTES;
        try {
            SddKernel.run(cuda, batch, shape.channels, shape.positions, dtype, numThreads, rh, as, bs, (float) eps,
                    grad == null ? MemorySegment.NULL : TensorBridge.borrow(grad, "grad", cuda),
                    auxSeg.asSlice(0, batch * f), auxSeg.asSlice(batch * f, f),
                    flag == null ? MemorySegment.NULL : TensorBridge.borrow(flag, "flag", true),
                    cuda ? CudaStreams.current(rHat) : MemorySegment.NULL);
            if (flag != null && checkFinite) {
                int status = (int) flag.item_long();
                if (status != 0) {
                    throw new KernelException(status, "dd_sdd_cuda", NativeLibrary.statusString(status));
                }
            }
        } catch (KernelException e) {
            if (e.status() == DualdistillNative.DD_ERR_NONFINITE_INPUT()) {
                requireFinite(rHat, a, b); // names the argument
                // every input is finite: the kernels report a result beyond float32 under this status (the ABI has
                // no overflow code yet, see native/common/dd_common.h)
                throw new IllegalArgumentException("SDD loss overflows float32: rHat, a and b are finite, but a "
                        + "per-sample sum of squared errors or the loss exceeds the float32 range (|x| > 3.4e38); "
                        + "rHat is far too large", e);
            }
            throw e;
        }
        Tensor total = aux.select(0, batch);
        Tensor loss;
        if (grad != null) {
            loss = FusedLosses.surrogate(total, rHat, grad); // value L, gradient dL/drHat = grad
        } else {
            loss = total; // a view of aux, which the result owns as well
        }
        return new SddResult(FusedLosses.keep(loss), FusedLosses.keep(aux), batch, cuda ? KernelBackend.FUSED_CUDA : KernelBackend.FUSED_CPU);
    }

    /** @throws IllegalArgumentException naming the first of rHat, a, b that holds a NaN or infinity */
    private static void requireFinite(Tensor rHat, Tensor a, Tensor b) {
        Tensor[] ts = {rHat, a, b};
        String[] names = {"rHat", "a", "b"};
        try (PointerScope scope = new PointerScope()) {
            for (int i = 0; i < 3; i++) {
                if (!torch.isfinite(ts[i].detach()).all().item_bool()) {
                    throw new IllegalArgumentException(names[i] + ": contains NaN or infinity");
                }
            }
        }
    }

    /** Builder of an {@link SddLoss}; the knobs are validated by {@link #build()}. Not thread-safe. */
    public static final class Builder {
        private double eps = 1e-6;
        private KernelBackend backend = KernelBackend.AUTO;
        private int numThreads = 0;
        private boolean checkFinite = true;

        private Builder() {
        }

        /** @param e normalization floor eps > 0 (default 1e-6); @return this */
        public Builder eps(double e) {
            this.eps = e;
            return this;
        }

        /** @param b backend (default AUTO); @return this */
        public Builder backend(KernelBackend b) {
            this.backend = b;
            return this;
        }

        /** @param n CPU kernel threads, 0 = OpenMP default (default 0); @return this */
        public Builder numThreads(int n) {
            this.numThreads = n;
            return this;
        }

        /**
         * @param c whether the TORCH backend scans the inputs for NaN/inf and FUSED_CUDA reads its error flag (one
         *          sync); the CPU kernel always checks, at no extra cost (default true)
         * @return this
         */
        public Builder checkFinite(boolean c) {
            this.checkFinite = c;
            return this;
        }

        /**
         * @return the loss
         * @throws IllegalArgumentException naming the bad knob
         */
        public SddLoss build() {
            return new SddLoss(this);
        }
    }
}
