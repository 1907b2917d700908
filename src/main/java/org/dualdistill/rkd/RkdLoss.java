package org.dualdistill.rkd;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicBoolean;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dualdistill.internal.ffm.DualdistillNative;
import org.dualdistill.internal.kernels.CudaStreams;
import org.dualdistill.internal.kernels.FusedLosses;
import org.dualdistill.internal.kernels.NativeLibrary;
import org.dualdistill.internal.kernels.RkdKernel;
import org.dualdistill.internal.torch.TensorBridge;
import org.dualdistill.internal.torch.TorchRuntime;
import org.dualdistill.kernels.KernelBackend;
import org.dualdistill.kernels.KernelException;

/**
 * RKD: relational knowledge distillation on embeddings (Park, Kim, Lu and Cho, "Relational Knowledge Distillation",
 * CVPR 2019), which transfers the teacher's pairwise distances and triplet angles to the student instead of its
 * outputs. In dualdistill it carries the ViT teacher's relational structure to the CNN student
 * (docs/method.md).
 *
 * <p>For student embeddings e^s [B, Ds] and teacher embeddings e^t [B, Dt] (the dimensions may differ; only the
 * relations among the B samples are compared), with h = SmoothL1 (beta 1):
 * <pre>
 *   d_ij    = sqrt(max(|e_i - e_j|^2, eps)),     mu = mean of d_ij over the pairs i != j
 *   L_D     = mean over i != j of h(d^s_ij / mu_s - d^t_ij / mu_t)
 *   cos_ijk = &lt;e_j - e_i, e_k - e_i&gt; / (d_ij d_ik)
 *   L_A     = mean over the B (B - 1)^2 triples with j != i and k != i of h(cos^s_ijk - cos^t_ijk)
 *   L       = lambda_D L_D + lambda_A L_A        (defaults 25 and 50)
 * </pre>
 * The teacher is a constant: it never receives gradients. The student's gradient flows through mu_s too. The eps
 * floor (default 1e-12) keeps coincident embeddings finite; where it is active, no gradient passes.
 *
 * <p>Backends ({@link KernelBackend}), resolved as in {@code DatwLoss}: the fused kernels ({@code FUSED_CPU},
 * {@code FUSED_CUDA}) compute L and {@code dL/de^s} in one native call on the tensors' memory, from the two B x B
 * squared-distance matrices (O(B^2 D + B^3) work, no B x B x D tensor), and plug into LibTorch autograd through a
 * surrogate whose value is L and whose gradient with respect to e^s is the kernel's; {@code TORCH} builds the
 * B x B x D differences naively and lets autograd differentiate (the reference). {@code AUTO} takes the fused kernel
 * of the tensors' device when it is loaded, else {@code TORCH} after one log line; float64 embeddings and batches
 * above {@link #MAX_FUSED_BATCH}, which the kernels do not take, go to {@code TORCH} under {@code AUTO}.
 *
 * <p>Accuracy: the kernels work in double from the converted inputs on (dL/de^s is rounded to the input dtype at the
 * end); they agree with a float64 autograd reference to about 1e-7 relative for float32 inputs. The float32
 * {@code TORCH} composite is the less accurate of the two where points nearly coincide or are collinear (about 2e-5
 * relative in the gradient at B = 64, D = 1).
 *
 * <p>Immutable and thread-safe: one instance may serve many threads; each call's tensors belong to that call.
 */
public final class RkdLoss {
    private static final AtomicBoolean FALLBACK_LOGGED = new AtomicBoolean();

    /** Largest batch the fused kernels take ({@code DD_RKD_MAX_BATCH} in native/common/rkd_common.h). */
    public static final long MAX_FUSED_BATCH = 32768;

    static {
        TorchRuntime.init();
    }


    private final double distanceWeight;
    private final double angleWeight;
    private final double eps;
    private final KernelBackend backend;
    private final int numThreads;
    private final boolean checkFinite;
    private final RkdKernel.Knobs knobs;

    private RkdLoss(Builder b) {
        finite("distanceWeight", b.distanceWeight);
        finite("angleWeight", b.angleWeight);
        if (!(b.eps > 0) || !Float.isFinite((float) b.eps) || (float) b.eps == 0f) {
            throw new IllegalArgumentException("eps must be > 0 and representable as a float32, got " + b.eps);
        }
        if (b.backend == null) {
            throw new IllegalArgumentException("backend must not be null");
        }
        if (b.numThreads < 0) {
            throw new IllegalArgumentException("numThreads must be >= 0 (0 = default), got " + b.numThreads);
        }
        // the kernels take float32 knobs: keep exactly those values, so TORCH computes the same function
        this.distanceWeight = (float) b.distanceWeight;
        this.angleWeight = (float) b.angleWeight;
        this.eps = (float) b.eps;
        this.backend = b.backend;
        this.numThreads = b.numThreads;
        this.checkFinite = b.checkFinite;
        this.knobs = new RkdKernel.Knobs((float) distanceWeight, (float) angleWeight, (float) eps, numThreads);
    }

    private static void finite(String name, double v) {
        if (!Float.isFinite((float) v)) {
            throw new IllegalArgumentException(name + " must be finite (as a float32), got " + v);
        }
    }

    /** @return a loss with the defaults: lambda_D 25, lambda_A 50, eps 1e-12, backend AUTO */
    public static RkdLoss create() {
        return builder().build();
    }

    /** @return a builder starting from the defaults */
    public static Builder builder() {
        return new Builder();
    }

    /** @return lambda_D, the weight of the distance term (as the float32 the kernels use) */
    public double distanceWeight() {
        return distanceWeight;
    }

    /** @return lambda_A, the weight of the angle term (as the float32 the kernels use) */
    public double angleWeight() {
        return angleWeight;
    }

    /** @return the floor of the squared distances (as the float32 the kernels use) */
    public double eps() {
        return eps;
    }

    /** @return the requested backend (AUTO resolves per call) */
    public KernelBackend backend() {
        return backend;
    }

    /** @return CPU kernel threads, 0 = the OpenMP default */
    public int numThreads() {
        return numThreads;
    }

    /** @return whether the TORCH backend and the CUDA kernel check the inputs for NaN/inf (the CPU kernel always does) */
    public boolean checkFinite() {
        return checkFinite;
    }

    /**
     * Computes the loss and its breakdown.
     *
     * @param studentEmbeddings student embeddings [B, Ds], B >= 2, float32/float16/bfloat16 (float64 on the TORCH
     *                          backend), CPU or CUDA; contiguous for the fused backends; borrowed. Gradients flow
     *                          into it if it requires grad.
     * @param teacherEmbeddings teacher embeddings [B, Dt], same dtype and device as the student (Dt may differ from
     *                          Ds); borrowed; never receives gradients
     * @return the result; caller must close
     * @throws IllegalArgumentException for shape, dtype, device, contiguity or non-finite problems, naming the argument;
     *                                  on the fused backends also when finite embeddings give a loss or gradient beyond
     *                                  the float32 range ("overflows float32": huge term weights), while embeddings of
     *                                  any float32 magnitude are computed
     * @throws KernelException          when a fused backend was requested explicitly but is unavailable
     */
    public RkdResult compute(Tensor studentEmbeddings, Tensor teacherEmbeddings) {
        try (PointerScope scope = new PointerScope()) {
            Shape shape = validate(studentEmbeddings, teacherEmbeddings);
            KernelBackend be = resolve(backend, shape);
            if (be == KernelBackend.TORCH) {
                return TorchRkd.compute(this, studentEmbeddings, teacherEmbeddings, shape.batch);
            }
            return fused(be == KernelBackend.FUSED_CUDA, studentEmbeddings, teacherEmbeddings, shape);
        }
    }

    private record Shape(long batch, long studentDim, long teacherDim, boolean cuda, boolean kernelDtype) {
    }

    private static Shape validate(Tensor s, Tensor t) {
        TensorBridge.requireDefined(s, "studentEmbeddings");
        TensorBridge.requireDefined(t, "teacherEmbeddings");
        if (s.dim() != 2) {
            throw new IllegalArgumentException("studentEmbeddings: expected embeddings [B, Ds], got shape "
                    + TensorBridge.shapeString(s));
        }
        if (t.dim() != 2) {
            throw new IllegalArgumentException("teacherEmbeddings: expected embeddings [B, Dt], got shape "
                    + TensorBridge.shapeString(t));
        }
        long b = s.size(0);
        if (b < 2 || s.size(1) < 1) {
            throw new IllegalArgumentException("studentEmbeddings: expected B >= 2 rows (RKD relates pairs of samples) "
                    + "and Ds >= 1, got shape " + TensorBridge.shapeString(s));
        }
        if (t.size(0) != b || t.size(1) < 1) {
            throw new IllegalArgumentException("teacherEmbeddings: expected [" + b + ", Dt] with Dt >= 1 (B rows like the "
                    + "student), got shape " + TensorBridge.shapeString(t));
        }
        ScalarType dtype = TensorBridge.dtype(s);
        boolean kernelDtype = dtype == ScalarType.Float || dtype == ScalarType.Half || dtype == ScalarType.BFloat16;
        if (!kernelDtype && dtype != ScalarType.Double) {
            throw new IllegalArgumentException("studentEmbeddings: expected dtype float32, float16 or bfloat16 (or float64 "
                    + "on the TORCH backend), got " + dtype);
        }
        ScalarType tt = TensorBridge.dtype(t);
        if (tt != dtype) {
            throw new IllegalArgumentException("teacherEmbeddings: expected dtype " + dtype + " like the student, got " + tt);
        }
        boolean cuda = s.is_cuda();
        if (t.is_cuda() != cuda || (cuda && s.device().index() != t.device().index())) {
            throw new IllegalArgumentException("teacherEmbeddings: expected the student's device (" + deviceName(s)
                    + "), got " + deviceName(t));
        }
        return new Shape(b, s.size(1), t.size(1), cuda, kernelDtype);
    }

    private static String deviceName(Tensor t) {
        return t.is_cuda() ? "CUDA:" + t.device().index() : "CPU";
    }

    private static KernelBackend resolve(KernelBackend requested, Shape shape) {
        if (requested == KernelBackend.FUSED_CPU || requested == KernelBackend.FUSED_CUDA) {
            requireFusable(requested, shape);
        } else if (requested == KernelBackend.AUTO && (!shape.kernelDtype || shape.batch > MAX_FUSED_BATCH)) {
            return KernelBackend.TORCH; // float64, or a batch beyond the kernels' workspace limit
        }
        return FusedLosses.resolve(requested, shape.cuda, "RKD", FALLBACK_LOGGED);
    }

    private static void requireFusable(KernelBackend requested, Shape shape) {
        if (!shape.kernelDtype) {
            throw new IllegalArgumentException("studentEmbeddings: backend " + requested + " takes float32, float16 or "
                    + "bfloat16, got float64 (use TORCH or AUTO)");
        }
        if (shape.batch > MAX_FUSED_BATCH) {
            throw new IllegalArgumentException("studentEmbeddings: backend " + requested + " takes B <= " + MAX_FUSED_BATCH
                    + ", got B = " + shape.batch + " (use TORCH)");
        }
    }

    private RkdResult fused(boolean cuda, Tensor student, Tensor teacher, Shape shape) {
        long b = shape.batch;
        int dtype = TensorBridge.kernelDtype(student.scalar_type(), "studentEmbeddings");
        MemorySegment s = TensorBridge.borrow(student, "studentEmbeddings", cuda);
        MemorySegment t = TensorBridge.borrow(teacher, "teacherEmbeddings", cuda);
        TensorOptions f32 = FusedLosses.floatOptions(cuda, student);
        // (L, L_D, L_A): kept by the result. The workspace (O(B^2)) is released when this call's scope closes; on
        // CUDA the caching allocator reuses it only in stream order, after the kernels that use it.
        Tensor parts = torch.empty(new long[] {3}, f32, null);
        Tensor workspace = torch.empty(new long[] {RkdKernel.workspaceFloats(b)}, f32, null);
        Tensor grad = student.requires_grad() ? torch.empty_like(student) : null;
        Tensor flag = cuda && checkFinite
                ? torch.zeros(new long[] {1}, new TensorOptions(ScalarType.Int).device(new DeviceOptional(student.device())))
                : null;
        MemorySegment stream = cuda ? CudaStreams.current(student) : MemorySegment.NULL;
        try {
            RkdKernel.run(cuda, b, shape.studentDim, shape.teacherDim, dtype, s, t, knobs,
                    grad == null ? MemorySegment.NULL : TensorBridge.borrow(grad, "grad", cuda),
                    TensorBridge.borrow(workspace, "workspace", cuda), TensorBridge.borrow(parts, "loss", cuda),
                    flag == null ? MemorySegment.NULL : TensorBridge.borrow(flag, "flag", true), stream);
            if (flag != null) {
                int status = (int) flag.item_long(); // one synchronization, as in DatwLoss
                if (status != 0) {
                    throw new KernelException(status, "dd_rkd_cuda", NativeLibrary.statusString(status));
                }
            }
        } catch (KernelException e) {
            throw translate(e, student, teacher);
        }
        Tensor total = parts.select(0, 0);
        Tensor loss;
        if (grad != null) {
            loss = FusedLosses.surrogate(total, student, grad); // value L, gradient dL/de_s = grad
        } else {
            loss = total; // a view of parts, which the result owns as well
        }
        loss.retainReference();
        parts.retainReference();
        return new RkdResult(loss, parts, cuda ? KernelBackend.FUSED_CUDA : KernelBackend.FUSED_CPU);
    }

    /** Names the offending argument for a NaN/inf report (checked here, on the error path only). */
    private static RuntimeException translate(KernelException e, Tensor student, Tensor teacher) {
        if (e.status() == DualdistillNative.DD_ERR_NONFINITE_INPUT()) {
            if (!torch.isfinite(student).all().item_bool()) {
                return new IllegalArgumentException("studentEmbeddings: contains NaN or infinity", e);
            }
            if (!torch.isfinite(teacher).all().item_bool()) {
                return new IllegalArgumentException("teacherEmbeddings: contains NaN or infinity", e);
            }
            // both finite: the kernels report a result beyond float32 under this status (the ABI has no overflow code
            // yet, see native/common/dd_common.h)
            return new IllegalArgumentException("RKD loss overflows float32: the embeddings are finite, but the loss or "
                    + "its gradient exceeds the float32 range (|x| > 3.4e38); lower distanceWeight/angleWeight", e);
        }
        return e;
    }

    /** Builder of an {@link RkdLoss}; {@link #build()} validates. Not thread-safe. */
    public static final class Builder {
        private double distanceWeight = 25.0;
        private double angleWeight = 50.0;
        private double eps = 1e-12;
        private KernelBackend backend = KernelBackend.AUTO;
        private int numThreads = 0;
        private boolean checkFinite = true;

        private Builder() {
        }

        /** @param w lambda_D, finite (default 25); @return this */
        public Builder distanceWeight(double w) { this.distanceWeight = w; return this; }
        /** @param w lambda_A, finite (default 50); @return this */
        public Builder angleWeight(double w) { this.angleWeight = w; return this; }
        /** @param e floor of the squared distances, > 0 (default 1e-12); @return this */
        public Builder eps(double e) { this.eps = e; return this; }
        /** @param b backend (default AUTO); @return this */
        public Builder backend(KernelBackend b) { this.backend = b; return this; }
        /** @param n CPU kernel threads, 0 = OpenMP default; @return this */
        public Builder numThreads(int n) { this.numThreads = n; return this; }
        /**
         * @param c whether the TORCH backend checks for NaN/inf and FUSED_CUDA reads the kernel's error flag (one
         *          device synchronization each); the CPU kernel always checks. Default true.
         * @return this
         */
        public Builder checkFinite(boolean c) { this.checkFinite = c; return this; }

        /** @return the loss; @throws IllegalArgumentException naming the bad knob */
        public RkdLoss build() {
            return new RkdLoss(this);
        }
    }
}
