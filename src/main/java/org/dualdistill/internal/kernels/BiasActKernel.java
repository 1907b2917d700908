package org.dualdistill.internal.kernels;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import org.dualdistill.internal.ffm.DualdistillNative;
import org.dualdistill.internal.ffm.dd_bias_act_params;
import org.dualdistill.kernels.KernelException;

/**
 * Fills a {@code dd_bias_act_params} struct and calls {@code dd_bias_act_cpu}: the in-place GEMM epilogue
 * {@code y = act(y + bias + residual)} on a row-major float32 [rows, cols] matrix.
 *
 * <p>Lifetime: one small per-thread struct reused by every call on that thread; every pointer is borrowed for the
 * (synchronous) call. Thread-safe.
 */
public final class BiasActKernel {
    /** {@code DD_ACT_NONE}. */
    public static final int NONE = 0;
    /** {@code DD_ACT_RELU}. */
    public static final int RELU = 1;

    private static final ThreadLocal<MemorySegment> PARAMS =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(dd_bias_act_params.layout()));

    private BiasActKernel() {
    }

    /**
     * @param rows       rows of y
     * @param cols       columns of y
     * @param act        {@link #NONE} or {@link #RELU}
     * @param numThreads CPU worker threads, 0 = OpenMP default
     * @param y          [rows, cols] float32, updated in place
     * @param bias       [cols] float32, or NULL
     * @param residual   [rows, cols] float32 not overlapping y, or NULL
     * @throws IllegalArgumentException when a buffer is smaller than rows and cols need
     * @throws KernelException          when the kernel returns a status other than DD_OK
     */
    public static void run(long rows, long cols, int act, int numThreads, MemorySegment y, MemorySegment bias,
                           MemorySegment residual) {
        Buffers.requireBytes(y, 4 * rows * cols, "bias_act", "y");
        Buffers.requireBytes(bias, 4 * cols, "bias_act", "bias");
        Buffers.requireBytes(residual, 4 * rows * cols, "bias_act", "residual");
        MemorySegment p = PARAMS.get();
        p.fill((byte) 0);
        dd_bias_act_params.rows(p, rows);
        dd_bias_act_params.cols(p, cols);
        dd_bias_act_params.act(p, act);
        dd_bias_act_params.num_threads(p, numThreads);
        dd_bias_act_params.y(p, y);
        dd_bias_act_params.bias(p, bias);
        dd_bias_act_params.residual(p, residual);
        int rc = DualdistillNative.dd_bias_act_cpu(p);
        if (rc != DualdistillNative.DD_OK()) {
            throw new KernelException(rc, "dd_bias_act_cpu", NativeLibrary.statusString(rc));
        }
    }

    /** The raw call, for tests of the kernel's own parameter checks. */
    static int rawCpu(MemorySegment params) {
        return DualdistillNative.dd_bias_act_cpu(params);
    }
}
