package org.dualdistill.internal.kernels;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import org.dualdistill.internal.ffm.DualdistillNative;
import org.dualdistill.internal.ffm.dd_rkd_params;
import org.dualdistill.kernels.KernelException;

/**
 * Fills a {@code dd_rkd_params} struct and calls {@code dd_rkd_cpu} or {@code dd_rkd_cuda}.
 *
 * <p>The struct lives in one small per-thread segment, reused across calls, so the hot path allocates nothing on the
 * Java side (the segment is about a hundred bytes; its arena is reclaimed with the thread). Every pointer passed in is borrowed
 * for the duration of the call (CPU) or until the enqueued work completes (CUDA). Stateless otherwise, so callable
 * from any thread.
 */
public final class RkdKernel {
    private static final ThreadLocal<MemorySegment> PARAMS =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(dd_rkd_params.layout()));

    private RkdKernel() {
    }

    /** Scalar knobs in kernel form. */
    public record Knobs(float distanceWeight, float angleWeight, float eps, int numThreads) {
    }

    /**
     * @param batch B
     * @return the float32 workspace the kernels need for a batch of B ({@code dd_rkd_workspace_floats}), 0 when B is
     *     out of the kernels' range
     */
    public static long workspaceFloats(long batch) {
        return DualdistillNative.dd_rkd_workspace_floats(batch);
    }

    /**
     * Runs the kernel.
     *
     * @param cuda       the CUDA kernel (on {@code stream}) instead of the CPU kernel
     * @param batch      B
     * @param studentDim Ds
     * @param teacherDim Dt
     * @param dtype      {@code dd_dtype} of student, teacher and grad
     * @param student    [B, Ds] contiguous
     * @param teacher    [B, Dt] contiguous
     * @param k          the scalar knobs
     * @param grad       [B, Ds] of dtype, or NULL for the loss only
     * @param workspace  float32, at least {@link #workspaceFloats(long)} floats
     * @param loss       [3] float32: (L, L_D, L_A)
     * @param errorFlag  int32 device flag or NULL (CUDA)
     * @param stream     cudaStream_t address or NULL
     * @throws KernelException when the kernel returns a status other than DD_OK
     */
    public static void run(boolean cuda, long batch, long studentDim, long teacherDim, int dtype, MemorySegment student,
                           MemorySegment teacher, Knobs k, MemorySegment grad, MemorySegment workspace,
                           MemorySegment loss, MemorySegment errorFlag, MemorySegment stream) {
        MemorySegment p = PARAMS.get();
        p.fill((byte) 0);
        dd_rkd_params.batch(p, batch);
        dd_rkd_params.student_dim(p, studentDim);
        dd_rkd_params.teacher_dim(p, teacherDim);
        dd_rkd_params.dtype(p, dtype);
        dd_rkd_params.num_threads(p, k.numThreads());
        dd_rkd_params.student(p, student);
        dd_rkd_params.teacher(p, teacher);
        dd_rkd_params.distance_weight(p, k.distanceWeight());
        dd_rkd_params.angle_weight(p, k.angleWeight());
        dd_rkd_params.eps(p, k.eps());
        dd_rkd_params.grad_student(p, grad);
        dd_rkd_params.workspace(p, workspace);
        dd_rkd_params.workspace_floats(p, workspace.byteSize() / Float.BYTES);
        dd_rkd_params.loss(p, loss);
        dd_rkd_params.error_flag(p, errorFlag);
        dd_rkd_params.stream(p, stream);
        int rc = cuda ? DualdistillNative.dd_rkd_cuda(p) : DualdistillNative.dd_rkd_cpu(p);
        if (rc != DualdistillNative.DD_OK()) {
            throw new KernelException(rc, cuda ? "dd_rkd_cuda" : "dd_rkd_cpu", NativeLibrary.statusString(rc));
        }
    }
}
