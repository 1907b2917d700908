package org.dualdistill.internal.kernels;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

import org.dualdistill.internal.ffm.DualdistillNative;
import org.dualdistill.internal.ffm.dd_datw_params;
import org.dualdistill.kernels.KernelException;

/**
 * Fills a {@code dd_datw_params} struct and calls {@code dd_datw_cpu} or {@code dd_datw_cuda}.
 *
 * <p>The struct lives in one small per-thread segment, reused across calls, so the hot path allocates nothing on the
 * Java side (the segment is a few hundred bytes; its arena is reclaimed with the thread). Every pointer passed in is
 * borrowed for the duration of the call (CPU) or until the enqueued work completes (CUDA).
 */
public final class DatwKernel {
    private static final ThreadLocal<MemorySegment> PARAMS =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(dd_datw_params.layout()));

    private DatwKernel() {
    }

    /** Scalar knobs in kernel form (codes of the DD_* enums). */
    public record Knobs(int weighting, int scoreMode, int normMode, float temperature, float tauConf, float tauWeight,
                        float lambda, float linearEps, float alphaCe, float alphaKd, float labelSmoothing,
                        int numThreads) {
    }

    /**
     * Runs the kernel.
     *
     * @param cuda     the CUDA kernel (on {@code stream}) instead of the CPU kernel
     * @param batch    B
     * @param classes  C
     * @param dtype    {@code dd_dtype} of student, teachers and grad
     * @param student  [B, C] contiguous
     * @param teachers K segments [B, C] contiguous
     * @param labels   [B] int64 or {@link MemorySegment#NULL}
     * @param grad     [B, C] of dtype, or NULL
     * @param weights  [B, K] float32 or NULL; likewise confidence and discrepancy
     * @param rowLoss  [B, 2] float32
     * @param loss     [3] float32
     * @param errorFlag int32 device flag or NULL (CUDA)
     * @param stream   cudaStream_t address or NULL
     * @throws KernelException when the kernel returns a status other than DD_OK
     */
    public static void run(boolean cuda, long batch, long classes, int dtype, MemorySegment student,
                           List<MemorySegment> teachers, MemorySegment labels, Knobs k, MemorySegment grad,
                           MemorySegment weights, MemorySegment confidence, MemorySegment discrepancy,
                           MemorySegment rowLoss, MemorySegment loss, MemorySegment errorFlag, MemorySegment stream) {
        MemorySegment p = PARAMS.get();
        p.fill((byte) 0);
        dd_datw_params.batch(p, batch);
        dd_datw_params.classes(p, classes);
        dd_datw_params.teachers(p, teachers.size());
        dd_datw_params.dtype(p, dtype);
        dd_datw_params.student(p, student);
        dd_datw_params.student_stride(p, classes);
        for (int i = 0; i < teachers.size(); i++) {
            dd_datw_params.teacher(p, i, teachers.get(i));
            dd_datw_params.teacher_stride(p, i, classes);
        }
        dd_datw_params.labels(p, labels);
        dd_datw_params.weighting(p, k.weighting());
        dd_datw_params.score_mode(p, k.scoreMode());
        dd_datw_params.norm_mode(p, k.normMode());
        dd_datw_params.num_threads(p, k.numThreads());
        dd_datw_params.temperature(p, k.temperature());
        dd_datw_params.tau_conf(p, k.tauConf());
        dd_datw_params.tau_weight(p, k.tauWeight());
        dd_datw_params.lambda(p, k.lambda());
        dd_datw_params.linear_eps(p, k.linearEps());
        dd_datw_params.alpha_ce(p, k.alphaCe());
        dd_datw_params.alpha_kd(p, k.alphaKd());
        dd_datw_params.label_smoothing(p, k.labelSmoothing());
        dd_datw_params.grad_student(p, grad);
        dd_datw_params.grad_stride(p, classes);
        dd_datw_params.weights(p, weights);
        dd_datw_params.confidence(p, confidence);
        dd_datw_params.discrepancy(p, discrepancy);
        dd_datw_params.row_loss(p, rowLoss);
        dd_datw_params.loss(p, loss);
        dd_datw_params.error_flag(p, errorFlag);
        dd_datw_params.stream(p, stream);
        int rc = cuda ? DualdistillNative.dd_datw_cuda(p) : DualdistillNative.dd_datw_cpu(p);
        if (rc != DualdistillNative.DD_OK()) {
            throw new KernelException(rc, cuda ? "dd_datw_cuda" : "dd_datw_cpu", NativeLibrary.statusString(rc));
        }
    }
}
