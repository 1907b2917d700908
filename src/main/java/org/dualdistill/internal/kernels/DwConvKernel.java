package org.dualdistill.internal.kernels;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import org.dualdistill.internal.ffm.DualdistillNative;
import org.dualdistill.internal.ffm.dd_dwconv3d_params;
import org.dualdistill.kernels.KernelException;

/**
 * Fills a {@code dd_dwconv3d_params} struct and calls {@code dd_dwconv3d_cpu} or {@code dd_dwconv3d_cuda}: one pass
 * (forward, input gradient or weight gradient) of a depthwise Conv3d over contiguous NCDHW tensors, or the
 * channels-last (NDHWC) forward with a fused bias on the CPU.
 *
 * <p>Lifetime: the struct lives in one small per-thread segment reused by every call on that thread, so the hot path
 * allocates nothing on the Java side. Every pointer is borrowed for the call (CPU) or until the enqueued work
 * completes (CUDA); the caller keeps the owning tensors alive that long. Thread-safe (per-thread struct).
 */
public final class DwConvKernel {
    /** {@code DD_DWCONV_FORWARD}: output from input and weight. */
    public static final int FORWARD = 0;
    /** {@code DD_DWCONV_GRAD_INPUT}: grad_input from grad_output and weight. */
    public static final int GRAD_INPUT = 1;
    /** {@code DD_DWCONV_GRAD_WEIGHT}: grad_weight from grad_output and input. */
    public static final int GRAD_WEIGHT = 2;

    private static final ThreadLocal<MemorySegment> PARAMS =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(dd_dwconv3d_params.layout()));

    private DwConvKernel() {
    }

    /**
     * The geometry of one depthwise Conv3d: sizes in elements, kernel, stride and padding per (T, H, W).
     *
     * @param batch    N
     * @param channels C
     * @param in       input {T, H, W}
     * @param out      output {To, Ho, Wo}
     * @param kernel   {kt, kh, kw}
     * @param stride   {st, sh, sw}
     * @param pad      {pt, ph, pw}
     */
    public record Geometry(long batch, long channels, long[] in, long[] out, int[] kernel, int[] stride, int[] pad) {
        /** @return N * C * T * H * W, the input's (and the input gradient's) elements in either layout */
        long inElements() {
            return batch * channels * in[0] * in[1] * in[2];
        }

        /** @return N * C * To * Ho * Wo, the output's (and the output gradient's) elements */
        long outElements() {
            return batch * channels * out[0] * out[1] * out[2];
        }

        /** @return C * kt * kh * kw, the weight's elements */
        long weightElements() {
            return channels * kernel[0] * kernel[1] * kernel[2];
        }
    }

    /**
     * Runs one pass.
     *
     * @param cuda        the CUDA kernel (enqueued on {@code stream}) instead of the CPU kernel
     * @param g           the geometry
     * @param mode        {@link #FORWARD}, {@link #GRAD_INPUT} or {@link #GRAD_WEIGHT}
     * @param dtype       {@code dd_dtype} of every tensor (the CPU kernel takes float32 only)
     * @param numThreads  CPU worker threads, 0 = OpenMP default
     * @param input       [N, C, T, H, W] or NULL when the mode does not read it
     * @param weight      [C, 1, kt, kh, kw] or NULL
     * @param gradOutput  [N, C, To, Ho, Wo] or NULL
     * @param output      [N, C, To, Ho, Wo] (FORWARD) or NULL
     * @param gradInput   [N, C, T, H, W] (GRAD_INPUT) or NULL
     * @param gradWeight  [C, 1, kt, kh, kw] (GRAD_WEIGHT) or NULL
     * @param stream      cudaStream_t address or NULL
     * @throws KernelException when the kernel returns a status other than DD_OK
     */
    public static void run(boolean cuda, Geometry g, int mode, int dtype, int numThreads, MemorySegment input,
                           MemorySegment weight, MemorySegment gradOutput, MemorySegment output, MemorySegment gradInput,
                           MemorySegment gradWeight, MemorySegment stream) {
        long es = dtype == DualdistillNative.DD_FLOAT32() ? 4 : 2;
        Buffers.requireBytes(input, g.inElements() * es, "depthwise conv3d", "input");
        Buffers.requireBytes(weight, g.weightElements() * es, "depthwise conv3d", "weight");
        Buffers.requireBytes(gradOutput, g.outElements() * es, "depthwise conv3d", "grad_output");
        Buffers.requireBytes(output, g.outElements() * es, "depthwise conv3d", "output");
        Buffers.requireBytes(gradInput, g.inElements() * es, "depthwise conv3d", "grad_input");
        Buffers.requireBytes(gradWeight, g.weightElements() * es, "depthwise conv3d", "grad_weight");
        MemorySegment p = fill(g, mode, dtype, numThreads, DualdistillNative.DD_LAYOUT_NCDHW());
        dd_dwconv3d_params.input(p, input);
        dd_dwconv3d_params.weight(p, weight);
        dd_dwconv3d_params.grad_output(p, gradOutput);
        dd_dwconv3d_params.output(p, output);
        dd_dwconv3d_params.grad_input(p, gradInput);
        dd_dwconv3d_params.grad_weight(p, gradWeight);
        dd_dwconv3d_params.stream(p, stream);
        call(p, cuda);
    }

    /**
     * Runs the channels-last forward on the CPU ({@code DD_LAYOUT_NDHWC}, float32): the fused eval path, where a
     * folded batch norm arrives as the bias.
     *
     * @param g          the geometry
     * @param numThreads CPU worker threads, 0 = OpenMP default
     * @param input      [N, T, H, W, C]
     * @param weight     [kt, kh, kw, C]
     * @param bias       [C] added to every output, or NULL
     * @param output     [N, To, Ho, Wo, C]
     * @throws KernelException when the kernel returns a status other than DD_OK
     */
    public static void forwardChannelsLast(Geometry g, int numThreads, MemorySegment input, MemorySegment weight,
                                           MemorySegment bias, MemorySegment output) {
        Buffers.requireBytes(input, 4 * g.inElements(), "depthwise conv3d", "input");
        Buffers.requireBytes(weight, 4 * g.weightElements(), "depthwise conv3d", "weight");
        Buffers.requireBytes(bias, 4 * g.channels(), "depthwise conv3d", "bias");
        Buffers.requireBytes(output, 4 * g.outElements(), "depthwise conv3d", "output");
        MemorySegment p = fill(g, FORWARD, DualdistillNative.DD_FLOAT32(), numThreads,
                DualdistillNative.DD_LAYOUT_NDHWC());
        dd_dwconv3d_params.input(p, input);
        dd_dwconv3d_params.weight(p, weight);
        dd_dwconv3d_params.bias(p, bias);
        dd_dwconv3d_params.output(p, output);
        call(p, false);
    }

    /** This thread's struct, zeroed, with the geometry and the scalar fields set; every pointer NULL. */
    private static MemorySegment fill(Geometry g, int mode, int dtype, int numThreads, int layout) {
        MemorySegment p = PARAMS.get();
        p.fill((byte) 0);
        dd_dwconv3d_params.batch(p, g.batch());
        dd_dwconv3d_params.channels(p, g.channels());
        dd_dwconv3d_params.in_t(p, g.in()[0]);
        dd_dwconv3d_params.in_h(p, g.in()[1]);
        dd_dwconv3d_params.in_w(p, g.in()[2]);
        dd_dwconv3d_params.out_t(p, g.out()[0]);
        dd_dwconv3d_params.out_h(p, g.out()[1]);
        dd_dwconv3d_params.out_w(p, g.out()[2]);
        dd_dwconv3d_params.k_t(p, g.kernel()[0]);
        dd_dwconv3d_params.k_h(p, g.kernel()[1]);
        dd_dwconv3d_params.k_w(p, g.kernel()[2]);
        dd_dwconv3d_params.stride_t(p, g.stride()[0]);
        dd_dwconv3d_params.stride_h(p, g.stride()[1]);
        dd_dwconv3d_params.stride_w(p, g.stride()[2]);
        dd_dwconv3d_params.pad_t(p, g.pad()[0]);
        dd_dwconv3d_params.pad_h(p, g.pad()[1]);
        dd_dwconv3d_params.pad_w(p, g.pad()[2]);
        dd_dwconv3d_params.mode(p, mode);
        dd_dwconv3d_params.dtype(p, dtype);
        dd_dwconv3d_params.num_threads(p, numThreads);
        dd_dwconv3d_params.layout(p, layout);
        return p;
    }

    private static void call(MemorySegment p, boolean cuda) {
        int rc = cuda ? DualdistillNative.dd_dwconv3d_cuda(p) : DualdistillNative.dd_dwconv3d_cpu(p);
        if (rc != DualdistillNative.DD_OK()) {
            throw new KernelException(rc, cuda ? "dd_dwconv3d_cuda" : "dd_dwconv3d_cpu", NativeLibrary.statusString(rc));
        }
    }

    /** Calls the CPU kernel with a raw struct (for tests of hostile parameters). */
    public static int rawCpu(MemorySegment params) {
        return DualdistillNative.dd_dwconv3d_cpu(params);
    }
}
