package org.dualdistill.internal.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.internal.torch.TensorBridge;
import org.dualdistill.internal.torch.TorchRuntime;
import org.junit.jupiter.api.Test;

/**
 * The channels-last (NDHWC) depthwise forward with a fused bias ({@code DD_LAYOUT_NDHWC}) against LibTorch's
 * grouped conv3d in float64, over X3D-S's depthwise shapes at batch 1 (conv_b stride 1 and 2 at every stage width,
 * the stem's 5x1x1) and odd sizes: channel counts below one vector (the scalar path), one above a vector multiple
 * (the overlapping last vector), widths narrower than a register block, no bias. Within 1e-5 of the output's scale
 * (LibTorch's own float32 conv is about 1e-7 there). The AVX2 copy gives the same bits as the widest one.
 */
class ChannelsLastDwConvTest {
    static {
        TorchRuntime.init();
    }

    /** {N, C, T, H, W, kt, kh, kw, stride, pt, ph, pw, bias} */
    private static final int[][] SHAPES = {
            {1, 54, 4, 40, 40, 3, 3, 3, 1, 1, 1, 1, 1},   // res2
            {1, 54, 4, 80, 80, 3, 3, 3, 2, 1, 1, 1, 1},   // res2 first block
            {1, 108, 3, 20, 20, 3, 3, 3, 1, 1, 1, 1, 1},  // res3
            {1, 216, 3, 10, 10, 3, 3, 3, 1, 1, 1, 1, 1},  // res4
            {1, 432, 3, 10, 10, 3, 3, 3, 2, 1, 1, 1, 1},  // res5 first block
            {1, 432, 3, 5, 5, 3, 3, 3, 1, 1, 1, 1, 1},    // res5
            {1, 24, 13, 20, 20, 5, 1, 1, 1, 2, 0, 0, 1},  // stem conv_xy
            {2, 3, 3, 5, 7, 3, 3, 3, 1, 1, 1, 1, 1},      // C below one vector
            {2, 17, 2, 3, 11, 3, 3, 3, 1, 1, 1, 1, 0},    // C one past a vector, no bias
            {1, 33, 2, 9, 13, 3, 3, 3, 2, 1, 1, 1, 1},    // odd sizes, stride 2
            {1, 16, 1, 1, 2, 3, 3, 3, 1, 1, 1, 1, 1},     // narrower than a block
            {3, 20, 5, 6, 6, 3, 3, 3, 2, 0, 0, 0, 1},     // no padding
    };

    private static Tensor run(int[] s, Tensor x, Tensor w, Tensor b, int threads) {
        int n = s[0], c = s[1];
        long[] in = {s[2], s[3], s[4]};
        int[] k = {s[5], s[6], s[7]};
        int[] st = {1, s[8], s[8]};
        int[] pad = {s[9], s[10], s[11]};
        long[] out = new long[3];
        for (int i = 0; i < 3; i++) {
            out[i] = (in[i] + 2L * pad[i] - k[i]) / st[i] + 1;
        }
        Tensor y = torch.full(new long[] {n, out[0], out[1], out[2], c}, new org.bytedeco.pytorch.Scalar(Float.NaN));
        DwConvKernel.forwardChannelsLast(new DwConvKernel.Geometry(n, c, in, out, k, st, pad), threads,
                TensorBridge.borrow(x, "x", false), TensorBridge.borrow(w, "w", false),
                b == null ? java.lang.foreign.MemorySegment.NULL : TensorBridge.borrow(b, "b", false),
                TensorBridge.borrow(y, "y", false));
        return y;
    }

    private static Tensor reference(int[] s, Tensor x, Tensor w, Tensor b) {
        Tensor xd = x.permute(0, 4, 1, 2, 3).to(torch.ScalarType.Double);
        Tensor wd = w.permute(3, 0, 1, 2).unsqueeze(1).to(torch.ScalarType.Double);
        TensorOptional bias = b == null ? new TensorOptional() : new TensorOptional(b.to(torch.ScalarType.Double));
        return torch.conv3d(xd, wd, bias, new long[] {1, s[8], s[8]}, new long[] {s[9], s[10], s[11]},
                new long[] {1, 1, 1}, s[1]).permute(0, 2, 3, 4, 1);
    }

    @Test
    void matchesLibTorchOnX3dShapesAndOddSizes() {
        NativeLibrary.requireCpu();
        torch.manual_seed(21);
        for (int[] s : SHAPES) {
            try (PointerScope scope = new PointerScope()) {
                Tensor x = torch.randn(s[0], s[2], s[3], s[4], s[1]);
                Tensor w = torch.randn(s[5], s[6], s[7], s[1]);
                Tensor b = s[12] == 1 ? torch.randn(s[1]) : null;
                Tensor ref = reference(s, x, w, b);
                double scale = ref.abs().max().item_double();
                String what = java.util.Arrays.toString(s);
                for (int threads : new int[] {1, 2}) {
                    Tensor y = run(s, x, w, b, threads);
                    double err = y.to(torch.ScalarType.Double).sub(ref).abs().max().item_double() / scale;
                    assertTrue(err < 1e-5, what + " at " + threads + " threads: " + err);
                }
            }
        }
    }

    @Test
    void theAvx2CopyGivesTheWidestCopysBits() throws Throwable {
        NativeLibrary.requireCpu();
        torch.manual_seed(22);
        try {
            for (int[] s : SHAPES) {
                try (PointerScope scope = new PointerScope()) {
                    Tensor x = torch.randn(s[0], s[2], s[3], s[4], s[1]);
                    Tensor w = torch.randn(s[5], s[6], s[7], s[1]);
                    Tensor b = s[12] == 1 ? torch.randn(s[1]) : null;
                    DwConvIsaTest.setenv("DUALDISTILL_CPU_ISA", null);
                    float[] widest = TensorBridge.toFloats(run(s, x, w, b, 1));
                    DwConvIsaTest.setenv("DUALDISTILL_CPU_ISA", "avx2");
                    float[] avx2 = TensorBridge.toFloats(run(s, x, w, b, 2));
                    assertArrayEquals(widest, avx2, java.util.Arrays.toString(s));
                }
            }
        } finally {
            DwConvIsaTest.setenv("DUALDISTILL_CPU_ISA", null);
        }
    }
}
