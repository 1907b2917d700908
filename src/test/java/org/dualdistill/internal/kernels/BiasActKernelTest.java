package org.dualdistill.internal.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.internal.ffm.DualdistillNative;
import org.dualdistill.internal.ffm.dd_bias_act_params;
import org.dualdistill.internal.torch.TensorBridge;
import org.dualdistill.internal.torch.TorchRuntime;
import org.junit.jupiter.api.Test;

/**
 * dd_bias_act_cpu (the folded X3D eval's GEMM epilogue) against LibTorch's elementwise ops, which compute each
 * element with the same float32 operations in the same order, so the results are bit-identical; NaN handling;
 * hostile parameters.
 */
class BiasActKernelTest {
    static {
        TorchRuntime.init();
    }

    private static float[] run(Tensor y, Tensor bias, Tensor residual, int act, int threads) {
        Tensor out = y.clone();
        BiasActKernel.run(out.size(0), out.size(1), act, threads, TensorBridge.borrow(out, "y", false),
                bias == null ? MemorySegment.NULL : TensorBridge.borrow(bias, "bias", false),
                residual == null ? MemorySegment.NULL : TensorBridge.borrow(residual, "residual", false));
        return TensorBridge.toFloats(out);
    }

    @Test
    void equalsLibTorchBitForBitInEveryCombination() {
        NativeLibrary.requireCpu();
        torch.manual_seed(3);
        // odd column counts (vector tails), one row, and a matrix large enough to split over threads
        long[][] shapes = {{1, 1}, {7, 13}, {1, 432}, {3000, 48}, {2, 2048}};
        try (PointerScope scope = new PointerScope()) {
            for (long[] sh : shapes) {
                Tensor y = torch.randn(sh[0], sh[1]);
                Tensor b = torch.randn(sh[1]);
                Tensor r = torch.randn(sh[0], sh[1]);
                for (int mask = 0; mask < 8; mask++) {
                    Tensor bias = (mask & 1) != 0 ? b : null;
                    Tensor res = (mask & 2) != 0 ? r : null;
                    int act = (mask & 4) != 0 ? BiasActKernel.RELU : BiasActKernel.NONE;
                    Tensor want = y.clone();
                    if (bias != null) {
                        want = want.add(bias);
                    }
                    if (res != null) {
                        want = want.add(res);
                    }
                    if (act == BiasActKernel.RELU) {
                        want = want.relu();
                    }
                    float[] w = TensorBridge.toFloats(want);
                    String what = sh[0] + "x" + sh[1] + " mask " + mask;
                    assertArrayEquals(w, run(y, bias, res, act, 1), what);
                    assertArrayEquals(w, run(y, bias, res, act, 2), what + ", 2 threads");
                }
            }
        }
    }

    @Test
    void reluKeepsNaNAsTorchDoes() {
        NativeLibrary.requireCpu();
        try (PointerScope scope = new PointerScope()) {
            Tensor y = torch.tensor(new float[] {Float.NaN, -1f, 2f, Float.NEGATIVE_INFINITY}).view(1, 4);
            float[] got = run(y, null, null, BiasActKernel.RELU, 1);
            assertTrue(Float.isNaN(got[0]));
            assertArrayEquals(new float[] {0f, 2f, 0f}, new float[] {got[1], got[2], got[3]});
        }
    }

    @Test
    void hostileParametersReturnAnErrorStatus() {
        NativeLibrary.requireCpu();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment y = arena.allocate(4L * 6);
            MemorySegment p = arena.allocate(dd_bias_act_params.layout());
            java.util.function.IntSupplier call = () -> BiasActKernel.rawCpu(p);
            assertEquals(DualdistillNative.DD_ERR_NULL_POINTER(), BiasActKernel.rawCpu(MemorySegment.NULL));
            dd_bias_act_params.rows(p, 2);
            dd_bias_act_params.cols(p, 3);
            assertEquals(DualdistillNative.DD_ERR_NULL_POINTER(), call.getAsInt(), "no y");
            dd_bias_act_params.y(p, y);
            assertEquals(DualdistillNative.DD_OK(), call.getAsInt());
            dd_bias_act_params.act(p, 2);
            assertEquals(DualdistillNative.DD_ERR_BAD_MODE(), call.getAsInt(), "unknown activation");
            dd_bias_act_params.act(p, 0);
            dd_bias_act_params.num_threads(p, -1);
            assertEquals(DualdistillNative.DD_ERR_BAD_PARAMETER(), call.getAsInt());
            dd_bias_act_params.num_threads(p, 0);
            dd_bias_act_params.rows(p, 0);
            assertEquals(DualdistillNative.DD_ERR_BAD_SHAPE(), call.getAsInt());
            dd_bias_act_params.rows(p, 1L << 40);
            dd_bias_act_params.cols(p, 1L << 40);
            assertEquals(DualdistillNative.DD_ERR_BAD_SHAPE(), call.getAsInt(), "element count overflow");
            // the wrapper refuses buffers smaller than rows x cols before the call
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> BiasActKernel.run(2, 4, BiasActKernel.RELU, 1, y, MemorySegment.NULL, MemorySegment.NULL));
            assertEquals("bias_act: y holds 24 bytes, the geometry needs 32 (wrong dtype or shape)", e.getMessage());
            assertThrows(IllegalArgumentException.class,
                    () -> BiasActKernel.run(2, 3, BiasActKernel.RELU, 1, y, y.asSlice(0, 8), MemorySegment.NULL));
        }
    }
}
