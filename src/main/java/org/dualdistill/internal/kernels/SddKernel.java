package org.dualdistill.internal.kernels;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import org.dualdistill.internal.ffm.DualdistillNative;
import org.dualdistill.internal.ffm.dd_sdd_params;
import org.dualdistill.kernels.KernelException;

/**
 * Fills a {@code dd_sdd_params} struct and calls {@code dd_sdd_cpu} or {@code dd_sdd_cuda}.
 *
 * <p>Lifetime: the struct lives in one small per-thread segment (about 100 bytes), reused by every call on that
 * thread, so the hot path allocates nothing on the Java side; its arena is reclaimed with the thread. Every pointer
 * passed in is borrowed for the duration of the call (CPU) or until the enqueued work completes (CUDA); the caller
 * keeps the owning tensors open that long.
 */
public final class SddKernel {
    private static final ThreadLocal<MemorySegment> PARAMS =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(dd_sdd_params.layout()));

    private SddKernel() {
    }

    /**
     * Runs the kernel ({@code dd_status dd_sdd_cpu(const dd_sdd_params *)} or {@code dd_sdd_cuda}).
     *
     * @param cuda       the CUDA kernel (enqueued on {@code stream}) instead of the CPU kernel
     * @param batch      B >= 1
     * @param channels   D >= 1
     * @param positions  P >= 1 (the product of the trailing dimensions)
     * @param dtype      {@code dd_dtype} of rHat, a, b and grad
     * @param numThreads CPU worker threads, 0 = OpenMP default
     * @param rHat       [B, D, P] contiguous
     * @param a          [B, D, P] contiguous
     * @param b          [B, D, P] contiguous
     * @param eps        normalization floor, > 0
     * @param grad       [B, D, P] of dtype for dL/drHat, or {@link MemorySegment#NULL} for the loss only
     * @param partial    [B] float32: per-sample sums of squared error
     * @param loss       [1] float32
     * @param errorFlag  device int32 flag (CUDA) or NULL
     * @param stream     cudaStream_t address or NULL
     * @throws KernelException when the kernel returns a status other than DD_OK
     */
    public static void run(boolean cuda, long batch, long channels, long positions, int dtype, int numThreads,
                           MemorySegment rHat, MemorySegment a, MemorySegment b, float eps, MemorySegment grad,
                           MemorySegment partial, MemorySegment loss, MemorySegment errorFlag, MemorySegment stream) {
        MemorySegment p = PARAMS.get();
        p.fill((byte) 0);
        dd_sdd_params.batch(p, batch);
        dd_sdd_params.channels(p, channels);
        dd_sdd_params.positions(p, positions);
        dd_sdd_params.dtype(p, dtype);
        dd_sdd_params.num_threads(p, numThreads);
        dd_sdd_params.r_hat(p, rHat);
        dd_sdd_params.a(p, a);
        dd_sdd_params.b(p, b);
        dd_sdd_params.eps(p, eps);
        dd_sdd_params.grad_r_hat(p, grad);
        dd_sdd_params.partial(p, partial);
        dd_sdd_params.loss(p, loss);
        dd_sdd_params.error_flag(p, errorFlag);
        dd_sdd_params.stream(p, stream);
        int rc = cuda ? DualdistillNative.dd_sdd_cuda(p) : DualdistillNative.dd_sdd_cpu(p);
        if (rc != DualdistillNative.DD_OK()) {
            throw new KernelException(rc, cuda ? "dd_sdd_cuda" : "dd_sdd_cpu", NativeLibrary.statusString(rc));
        }
    }
}
