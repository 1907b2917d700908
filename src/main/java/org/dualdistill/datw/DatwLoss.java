package org.dualdistill.datw;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dualdistill.internal.ffm.DualdistillNative;
import org.dualdistill.internal.kernels.CudaStreams;
import org.dualdistill.internal.kernels.DatwKernel;
import org.dualdistill.internal.kernels.FusedLosses;
import org.dualdistill.internal.kernels.NativeLibrary;
import org.dualdistill.internal.torch.TensorBridge;
import org.dualdistill.internal.torch.TorchRuntime;
import org.dualdistill.kernels.KernelBackend;
import org.dualdistill.kernels.KernelException;

/**
 * DATW (discrepancy-aware teacher weighting) knowledge distillation with cross-entropy, for K >= 1 teachers.
 *
 * <p>Per sample b, with student logits s and teacher logits t_k (docs/method.md):
 * <pre>
 *   conf_k = 1 - H(softmax(t_k / tau_c)) / log C          disc_k = (1 - cos(s, t_k)) / 2
 *   e_k    = conf_k * disc_k  (PRODUCT)  or  lambda conf_k + (1 - lambda) disc_k  (SUM)
 *   w      = softmax_k(e / tau_w)  (SOFTMAX)  or  (e_k + eps) / sum_j (e_j + eps)  (LINEAR)
 *   z      = sum_k w_k t_k,   q = softmax(z / T),   p = softmax(s / T)
 *   L_kd   = T^2 / B sum_b KL(q_b || p_b)                  L_ce = CE(s, y) with label smoothing
 *   L      = alpha_ce L_ce + alpha_kd L_kd
 * </pre>
 * Teacher quantities, including the weights, are constants for the gradient (teachers are frozen). The baseline
 * weightings of {@link Weighting} share the interface for ablations.
 *
 * <p>Backends ({@link KernelBackend}): the fused kernels compute the loss and {@code dL/ds} in one native call on
 * the tensors' memory (no copies) and plug into LibTorch autograd through a surrogate whose value is L and whose
 * gradient with respect to s is the kernel's {@code dL/ds}; {@code TORCH} composes the same math from LibTorch ops.
 * Both give the student's parameters the same gradients.
 *
 * <p>Immutable and thread-safe: one instance may serve many threads; each call's tensors belong to that call.
 */
public final class DatwLoss {
    private static final AtomicBoolean FALLBACK_LOGGED = new AtomicBoolean();

    static {
        TorchRuntime.init();
    }


    private final DatwConfig config;
    private final DatwKernel.Knobs knobs;

    private DatwLoss(DatwConfig config) {
        this.config = config;
        this.knobs = new DatwKernel.Knobs(code(config.weighting()), config.scoreMode() == ScoreMode.PRODUCT
                ? DualdistillNative.DD_SCORE_PRODUCT() : DualdistillNative.DD_SCORE_SUM(),
                config.normalization() == Normalization.SOFTMAX ? DualdistillNative.DD_NORM_SOFTMAX()
                        : DualdistillNative.DD_NORM_LINEAR(),
                (float) config.temperature(), (float) config.tauConf(), (float) config.tauWeight(),
                (float) config.lambda(), (float) config.linearEps(), (float) config.alphaCe(), (float) config.alphaKd(),
                (float) config.labelSmoothing(), config.numThreads());
    }

    private static int code(Weighting w) {
        return switch (w) {
            case DATW -> DualdistillNative.DD_WEIGHTING_DATW();
            case UNIFORM -> DualdistillNative.DD_WEIGHTING_UNIFORM();
            case EBKD -> DualdistillNative.DD_WEIGHTING_EBKD();
            case CAMKD -> DualdistillNative.DD_WEIGHTING_CAMKD();
        };
    }

    /** @return a loss with {@link DatwConfig#defaults()} */
    public static DatwLoss create() {
        return new DatwLoss(DatwConfig.defaults());
    }

    /** @return a loss with the given configuration */
    public static DatwLoss of(DatwConfig config) {
        return new DatwLoss(Objects.requireNonNull(config, "config"));
    }

    /** @return a builder starting from the defaults */
    public static Builder builder() {
        return new Builder();
    }

    /** @return this loss's configuration */
    public DatwConfig config() {
        return config;
    }

    /**
     * Computes the loss, its breakdown and the teacher weights.
     *
     * @param student  student logits [B, C], float32/float16/bfloat16, CPU or CUDA; contiguous for the fused backends;
     *                 borrowed. Gradients flow into it if it requires grad.
     * @param teachers K = 1..8 teacher logits, each [B, C], same dtype and device as the student; borrowed; never
     *                 receive gradients
     * @param labels   int64 [B] class indices in 0..C-1 on the same device, or null (then alpha_ce must be 0 and the
     *                 weighting must not be CAMKD); borrowed
     * @return the result; caller must close
     * @throws IllegalArgumentException for shape, dtype, device, contiguity, label-range or non-finite problems
     *                                  ("contains NaN or infinity", naming the tensor), and for finite logits whose
     *                                  loss or gradient exceeds the float32 range ("overflows float32"; logits of
     *                                  any smaller magnitude, up to ~1e38, are computed; the TORCH backend checks
     *                                  this only with checkFinite)
     * @throws KernelException          when a fused backend was requested explicitly but is unavailable
     */
    public DatwResult compute(Tensor student, List<Tensor> teachers, Tensor labels) {
        try (PointerScope scope = new PointerScope()) {
            Shape shape = validate(student, teachers, labels);
            KernelBackend backend = FusedLosses.resolve(config.backend(), shape.cuda, "DATW", FALLBACK_LOGGED);
            if (backend == KernelBackend.TORCH) {
                return TorchDatw.compute(config, student, teachers, labels, shape.batch, shape.classes);
            }
            return fused(backend == KernelBackend.FUSED_CUDA, student, teachers, labels, shape);
        }
    }

    private record Shape(long batch, long classes, boolean cuda) {
    }

    private Shape validate(Tensor student, List<Tensor> teachers, Tensor labels) {
        TensorBridge.requireDefined(student, "student");
        if (teachers == null || teachers.isEmpty() || teachers.size() > DualdistillNative.DD_MAX_TEACHERS()) {
            throw new IllegalArgumentException("teachers: expected 1.." + DualdistillNative.DD_MAX_TEACHERS()
                    + " teacher logit tensors, got " + (teachers == null ? "null" : teachers.size()));
        }
        if (student.dim() != 2) {
            throw new IllegalArgumentException("student: expected logits [B, C], got shape " + TensorBridge.shapeString(student));
        }
        long b = student.size(0);
        long c = student.size(1);
        if (b < 1 || c < 2) {
            throw new IllegalArgumentException("student: expected B >= 1 and C >= 2, got shape " + TensorBridge.shapeString(student));
        }
        ScalarType dtype = TensorBridge.dtype(student);
        TensorBridge.kernelDtype(dtype, "student");
        boolean cuda = student.is_cuda();
        for (int k = 0; k < teachers.size(); k++) {
            Tensor t = teachers.get(k);
            String name = "teachers[" + k + "]";
            TensorBridge.requireDefined(t, name);
            if (t.dim() != 2 || t.size(0) != b || t.size(1) != c) {
                throw new IllegalArgumentException(name + ": expected shape [" + b + ", " + c + "] like the student, got "
                        + TensorBridge.shapeString(t));
            }
            if (TensorBridge.dtype(t) != dtype) {
                throw new IllegalArgumentException(name + ": expected dtype " + dtype + " like the student, got " + t.scalar_type());
            }
            if (t.is_cuda() != cuda) {
                throw new IllegalArgumentException(name + ": expected the student's device (" + (cuda ? "CUDA" : "CPU")
                        + "), got " + (t.is_cuda() ? "CUDA" : "CPU"));
            }
        }
        if (config.weighting() == Weighting.CAMKD && teachers.size() < 2) {
            throw new IllegalArgumentException("teachers: CAMKD weighting needs K >= 2 teachers, got " + teachers.size());
        }
        if (labels == null) {
            if (config.alphaCe() != 0 || config.weighting() == Weighting.CAMKD) {
                throw new IllegalArgumentException("labels: required when alphaCe != 0 (" + config.alphaCe()
                        + ") or the weighting is CAMKD; pass labels or set alphaCe(0)");
            }
        } else {
            TensorBridge.requireDefined(labels, "labels");
            if (labels.dim() != 1 || labels.size(0) != b) {
                throw new IllegalArgumentException("labels: expected shape [" + b + "], got " + TensorBridge.shapeString(labels));
            }
            if (TensorBridge.dtype(labels) != ScalarType.Long) {
                throw new IllegalArgumentException("labels: expected dtype int64 (Long), got " + labels.scalar_type());
            }
            if (labels.is_cuda() != cuda) {
                throw new IllegalArgumentException("labels: expected the student's device (" + (cuda ? "CUDA" : "CPU") + ")");
            }
        }
        return new Shape(b, c, cuda);
    }

    private DatwResult fused(boolean cuda, Tensor student, List<Tensor> teachers, Tensor labels, Shape shape) {
        long b = shape.batch;
        long c = shape.classes;
        int k = teachers.size();
        int dtype = TensorBridge.kernelDtype(student.scalar_type(), "student");
        MemorySegment s = TensorBridge.borrow(student, "student", cuda);
        List<MemorySegment> ts = new ArrayList<>(k);
        for (int i = 0; i < k; i++) {
            ts.add(TensorBridge.borrow(teachers.get(i), "teachers[" + i + "]", cuda));
        }
        MemorySegment y = labels == null ? MemorySegment.NULL : TensorBridge.borrow(labels, "labels", cuda);

        TensorOptions f32 = FusedLosses.floatOptions(cuda, student);
        // One float32 buffer for everything the kernel writes besides the gradient:
        // weights [B,K] | confidence [B,K] | discrepancy [B,K] | row losses [B,2] | (L, L_kd, L_ce)
        long bk = b * k;
        Tensor aux = torch.empty(new long[] {DatwResult.auxLength(b, k)}, f32, null);
        Tensor grad = student.requires_grad() ? torch.empty_like(student) : null;
        // CUDA reports bad data (labels, NaN) through a device flag, read back below (one sync) when checkFinite.
        Tensor flag = cuda ? torch.zeros(new long[] {1}, new TensorOptions(ScalarType.Int).device(new org.bytedeco.pytorch.DeviceOptional(student.device()))) : null;
        MemorySegment auxSeg = TensorBridge.borrow(aux, "aux", cuda);
        long f = Float.BYTES;
        MemorySegment stream = cuda ? CudaStreams.current(student) : MemorySegment.NULL;
        try {
            DatwKernel.run(cuda, b, c, dtype, s, ts, y, knobs,
                    grad == null ? MemorySegment.NULL : TensorBridge.borrow(grad, "grad", cuda),
                    auxSeg.asSlice(0, bk * f), auxSeg.asSlice(bk * f, bk * f), auxSeg.asSlice(2 * bk * f, bk * f),
                    auxSeg.asSlice(3 * bk * f, 2 * b * f), auxSeg.asSlice((3 * bk + 2 * b) * f, 3 * f),
                    flag == null ? MemorySegment.NULL : TensorBridge.borrow(flag, "flag", true), stream);
            if (flag != null && config.checkFinite()) {
                int status = (int) flag.item_long();
                if (status != 0) {
                    throw new KernelException(status, "dd_datw_cuda", NativeLibrary.statusString(status));
                }
            }
        } catch (KernelException e) {
            throw translate(e, c, student, teachers);
        }
        Tensor total = aux.select(0, DatwResult.partsOffset(b, k));
        Tensor loss;
        if (grad != null) {
            loss = FusedLosses.surrogate(total, student, grad); // value L, gradient dL/ds = grad
        } else {
            loss = total; // a view of aux, which the result owns as well
        }
        return new DatwResult(FusedLosses.keep(loss), FusedLosses.keep(aux), b, k, cuda ? KernelBackend.FUSED_CUDA : KernelBackend.FUSED_CPU);
    }

    /**
     * The kernels report a loss beyond float32 under the NaN/inf status (the ABI has no overflow code yet, see
     * native/common/dd_common.h): on that status the inputs are checked here, on the error path only, and finite
     * inputs mean an overflow.
     */
    private static RuntimeException translate(KernelException e, long classes, Tensor student, List<Tensor> teachers) {
        if (e.status() == DualdistillNative.DD_ERR_LABEL_OUT_OF_RANGE()) {
            return new IllegalArgumentException("labels: a label is outside 0.." + (classes - 1) + " (C = " + classes + ")", e);
        }
        if (e.status() == DualdistillNative.DD_ERR_NONFINITE_INPUT()) {
            String bad = firstNonFinite(student, teachers);
            if (bad == null) {
                return overflow(e);
            }
            return new IllegalArgumentException(bad + ": contains NaN or infinity", e);
        }
        return e;
    }

    /** @return "student" or "teachers[k]" for the first input holding a NaN or infinity, or null if all are finite */
    static String firstNonFinite(Tensor student, List<Tensor> teachers) {
        try (PointerScope scope = new PointerScope()) {
            if (!torch.isfinite(student.detach()).all().item_bool()) {
                return "student";
            }
            for (int k = 0; k < teachers.size(); k++) {
                if (!torch.isfinite(teachers.get(k)).all().item_bool()) {
                    return "teachers[" + k + "]";
                }
            }
            return null;
        }
    }

    /** The exception for finite logits whose loss or gradient does not fit float32. */
    static IllegalArgumentException overflow(Throwable cause) {
        return new IllegalArgumentException("DATW loss overflows float32: the logits are finite, but the loss or its "
                + "gradient exceeds the float32 range (|x| > 3.4e38); scale the logits or the loss weights down", cause);
    }

    /** Builder over {@link DatwConfig}; every setter validates when {@link #build()} runs. Not thread-safe. */
    public static final class Builder {
        private Weighting weighting = Weighting.DATW;
        private ScoreMode scoreMode = ScoreMode.PRODUCT;
        private Normalization normalization = Normalization.SOFTMAX;
        private double temperature = 4.0;
        private double tauConf = 1.0;
        private double tauWeight = 0.25;
        private double lambda = 0.5;
        private double linearEps = 1e-8;
        private double alphaCe = 1.0;
        private double alphaKd = 1.0;
        private double labelSmoothing = 0.0;
        private KernelBackend backend = KernelBackend.AUTO;
        private boolean checkFinite = true;
        private int numThreads = 0;

        private Builder() {
        }

        /** @param w teacher weighting; @return this */
        public Builder weighting(Weighting w) { this.weighting = w; return this; }
        /** @param m DATW score mode; @return this */
        public Builder scoreMode(ScoreMode m) { this.scoreMode = m; return this; }
        /** @param n DATW normalization; @return this */
        public Builder normalization(Normalization n) { this.normalization = n; return this; }
        /** @param t KD temperature T > 0; @return this */
        public Builder temperature(double t) { this.temperature = t; return this; }
        /** @param t confidence temperature tau_c > 0; @return this */
        public Builder tauConf(double t) { this.tauConf = t; return this; }
        /** @param t weight temperature tau_w > 0; @return this */
        public Builder tauWeight(double t) { this.tauWeight = t; return this; }
        /** @param l SUM mixing in [0, 1]; @return this */
        public Builder lambda(double l) { this.lambda = l; return this; }
        /** @param e LINEAR smoothing >= 0; @return this */
        public Builder linearEps(double e) { this.linearEps = e; return this; }
        /** @param a weight of L_ce; @return this */
        public Builder alphaCe(double a) { this.alphaCe = a; return this; }
        /** @param a weight of L_kd; @return this */
        public Builder alphaKd(double a) { this.alphaKd = a; return this; }
        /** @param ls label smoothing in [0, 1); @return this */
        public Builder labelSmoothing(double ls) { this.labelSmoothing = ls; return this; }
        /** @param b backend; @return this */
        public Builder backend(KernelBackend b) { this.backend = b; return this; }
        /** @param c whether the TORCH backend checks for NaN/inf; @return this */
        public Builder checkFinite(boolean c) { this.checkFinite = c; return this; }
        /** @param n CPU kernel threads (0 = default); @return this */
        public Builder numThreads(int n) { this.numThreads = n; return this; }

        /** @return the loss; @throws IllegalArgumentException naming the bad knob */
        public DatwLoss build() {
            return new DatwLoss(new DatwConfig(weighting, scoreMode, normalization, temperature, tauConf, tauWeight,
                    lambda, linearEps, alphaCe, alphaKd, labelSmoothing, backend, checkFinite, numThreads));
        }
    }
}
