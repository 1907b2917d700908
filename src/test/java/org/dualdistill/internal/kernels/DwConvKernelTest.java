package org.dualdistill.internal.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.function.Consumer;

import org.dualdistill.internal.ffm.DualdistillNative;
import org.dualdistill.internal.ffm.dd_dwconv3d_params;
import org.dualdistill.kernels.KernelException;
import org.junit.jupiter.api.Test;

/**
 * dd_dwconv3d_cpu on hostile parameters: every malformed struct returns an error status (never a crash), and the
 * Java wrapper turns it into a KernelException. Values are checked against LibTorch in
 * org.dualdistill.model.x3d.DepthwiseConv3dTest and KernelDepthwiseTest.
 */
class DwConvKernelTest {

    /** A valid forward call on a 1x2x3x4x5 input with a 3x3x3 kernel, padding 1, then one field broken. */
    static int call(Consumer<MemorySegment> breakIt) {
        NativeLibrary.requireCpu();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment x = arena.allocate(4L * 1 * 2 * 3 * 4 * 5);
            MemorySegment w = arena.allocate(4L * 2 * 27);
            MemorySegment y = arena.allocate(4L * 1 * 2 * 3 * 4 * 5);
            MemorySegment p = arena.allocate(dd_dwconv3d_params.layout());
            dd_dwconv3d_params.batch(p, 1);
            dd_dwconv3d_params.channels(p, 2);
            dd_dwconv3d_params.in_t(p, 3);
            dd_dwconv3d_params.in_h(p, 4);
            dd_dwconv3d_params.in_w(p, 5);
            dd_dwconv3d_params.out_t(p, 3);
            dd_dwconv3d_params.out_h(p, 4);
            dd_dwconv3d_params.out_w(p, 5);
            dd_dwconv3d_params.k_t(p, 3);
            dd_dwconv3d_params.k_h(p, 3);
            dd_dwconv3d_params.k_w(p, 3);
            dd_dwconv3d_params.stride_t(p, 1);
            dd_dwconv3d_params.stride_h(p, 1);
            dd_dwconv3d_params.stride_w(p, 1);
            dd_dwconv3d_params.pad_t(p, 1);
            dd_dwconv3d_params.pad_h(p, 1);
            dd_dwconv3d_params.pad_w(p, 1);
            dd_dwconv3d_params.mode(p, DualdistillNative.DD_DWCONV_FORWARD());
            dd_dwconv3d_params.dtype(p, DualdistillNative.DD_FLOAT32());
            dd_dwconv3d_params.input(p, x);
            dd_dwconv3d_params.weight(p, w);
            dd_dwconv3d_params.output(p, y);
            breakIt.accept(p);
            return DwConvKernel.rawCpu(p);
        }
    }

    @Test
    void aValidCallSucceeds() {
        assertEquals(DualdistillNative.DD_OK(), call(p -> { }));
    }

    @Test
    void hostileParametersReturnAnErrorStatus() {
        int shape = DualdistillNative.DD_ERR_BAD_SHAPE();
        int param = DualdistillNative.DD_ERR_BAD_PARAMETER();
        int nul = DualdistillNative.DD_ERR_NULL_POINTER();
        assertEquals(nul, DwConvKernel.rawCpu(MemorySegment.NULL), "NULL params");
        assertEquals(shape, call(p -> dd_dwconv3d_params.batch(p, -1)));
        assertEquals(shape, call(p -> dd_dwconv3d_params.batch(p, 0)));
        assertEquals(shape, call(p -> dd_dwconv3d_params.channels(p, -5)));
        assertEquals(shape, call(p -> dd_dwconv3d_params.in_w(p, -3)));
        assertEquals(shape, call(p -> dd_dwconv3d_params.in_h(p, Long.MAX_VALUE)));
        assertEquals(shape, call(p -> dd_dwconv3d_params.out_h(p, 7)), "output size inconsistent with the input");
        assertEquals(shape, call(p -> {
            dd_dwconv3d_params.batch(p, 1L << 30);
            dd_dwconv3d_params.channels(p, 1L << 30);
        }), "element count beyond 2^62");
        assertEquals(param, call(p -> dd_dwconv3d_params.k_t(p, 0)));
        assertEquals(param, call(p -> dd_dwconv3d_params.k_w(p, -3)));
        assertEquals(param, call(p -> dd_dwconv3d_params.stride_h(p, 0)));
        assertEquals(param, call(p -> dd_dwconv3d_params.pad_w(p, -1)));
        assertEquals(param, call(p -> dd_dwconv3d_params.num_threads(p, -2)));
        assertEquals(DualdistillNative.DD_ERR_BAD_MODE(), call(p -> dd_dwconv3d_params.mode(p, 7)));
        assertEquals(DualdistillNative.DD_ERR_BAD_DTYPE(), call(p -> dd_dwconv3d_params.dtype(p, 9)));
        assertEquals(DualdistillNative.DD_ERR_BAD_DTYPE(), call(p -> dd_dwconv3d_params.dtype(p, DualdistillNative.DD_FLOAT16())),
                "the CPU kernel takes float32 only");
        assertEquals(nul, call(p -> dd_dwconv3d_params.input(p, MemorySegment.NULL)));
        assertEquals(nul, call(p -> dd_dwconv3d_params.weight(p, MemorySegment.NULL)));
        assertEquals(nul, call(p -> dd_dwconv3d_params.output(p, MemorySegment.NULL)));
        // the gradient passes read and write other pointers: those are required then
        assertEquals(nul, call(p -> dd_dwconv3d_params.mode(p, DualdistillNative.DD_DWCONV_GRAD_INPUT())));
        assertEquals(nul, call(p -> dd_dwconv3d_params.mode(p, DualdistillNative.DD_DWCONV_GRAD_WEIGHT())));
        // the channels-last layout: forward only, a bias only there, kt * kh at most 64
        int mode = DualdistillNative.DD_ERR_BAD_MODE();
        int ndhwc = DualdistillNative.DD_LAYOUT_NDHWC();
        assertEquals(mode, call(p -> dd_dwconv3d_params.layout(p, 2)), "unknown layout");
        assertEquals(mode, call(p -> dd_dwconv3d_params.layout(p, -1)), "unknown layout");
        assertEquals(mode, call(p -> {
            dd_dwconv3d_params.layout(p, ndhwc);
            dd_dwconv3d_params.mode(p, DualdistillNative.DD_DWCONV_GRAD_INPUT());
        }), "NDHWC has no gradient passes");
        assertEquals(param, call(p -> dd_dwconv3d_params.bias(p, dd_dwconv3d_params.weight(p))),
                "a bias is an NDHWC-only field");
        assertEquals(DualdistillNative.DD_OK(), call(p -> {
            dd_dwconv3d_params.layout(p, ndhwc);
            dd_dwconv3d_params.bias(p, dd_dwconv3d_params.weight(p));
        }), "NDHWC forward with a bias");
        assertEquals(param, call(p -> {
            dd_dwconv3d_params.layout(p, ndhwc);
            dd_dwconv3d_params.in_t(p, 65);
            dd_dwconv3d_params.out_t(p, 1);
            dd_dwconv3d_params.k_t(p, 65);
            dd_dwconv3d_params.pad_t(p, 0);
        }), "kt * kh over 64 tap rows");
    }

    @Test
    void theWrapperThrowsAKernelException() {
        DwConvKernel.Geometry g = new DwConvKernel.Geometry(1, 2, new long[] {3, 4, 5}, new long[] {3, 4, 5},
                new int[] {3, 3, 3}, new int[] {1, 1, 1}, new int[] {1, 1, 1});
        KernelException e = assertThrows(KernelException.class, () -> DwConvKernel.run(false, g, DwConvKernel.FORWARD,
                DualdistillNative.DD_FLOAT32(), 0, MemorySegment.NULL, MemorySegment.NULL, MemorySegment.NULL,
                MemorySegment.NULL, MemorySegment.NULL, MemorySegment.NULL, MemorySegment.NULL));
        assertEquals(DualdistillNative.DD_ERR_NULL_POINTER(), e.status());
    }

    /** A buffer smaller than its geometry (a bf16 tensor passed as float32, a wrong shape) never reaches the kernel. */
    @Test
    void theWrapperRefusesBuffersSmallerThanTheGeometry() {
        NativeLibrary.requireCpu();
        DwConvKernel.Geometry g = new DwConvKernel.Geometry(1, 16, new long[] {3, 4, 5}, new long[] {3, 4, 5},
                new int[] {3, 3, 3}, new int[] {1, 1, 1}, new int[] {1, 1, 1});
        long act = 4L * 16 * 3 * 4 * 5;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment x = arena.allocate(act);
            MemorySegment w = arena.allocate(4L * 16 * 27);
            MemorySegment b = arena.allocate(4L * 16);
            MemorySegment y = arena.allocate(act);
            MemorySegment half = arena.allocate(act / 2);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> DwConvKernel.forwardChannelsLast(g, 1, x, w, b, half));
            assertEquals("depthwise conv3d: output holds " + act / 2 + " bytes, the geometry needs " + act
                    + " (wrong dtype or shape)", e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> DwConvKernel.forwardChannelsLast(g, 1, half, w, b, y));
            assertThrows(IllegalArgumentException.class,
                    () -> DwConvKernel.forwardChannelsLast(g, 1, x, w, b.asSlice(0, 8), y));
            assertThrows(IllegalArgumentException.class, () -> DwConvKernel.run(false, g, DwConvKernel.FORWARD,
                    DualdistillNative.DD_FLOAT32(), 1, x, w, MemorySegment.NULL, half, MemorySegment.NULL,
                    MemorySegment.NULL, MemorySegment.NULL));
            DwConvKernel.forwardChannelsLast(g, 1, x, w, b, y); // the right sizes run
        }
    }
}
