package org.dualdistill.internal.torch;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/**
 * After {@link TorchRuntime#init()}, LibTorch's float32 conv3d backward (whatever backend the check left on) equals a
 * float64 computation to float32 rounding, for the two shapes where LibTorch 2.10's oneDNN path was found wrong on an
 * AVX-512 machine and for other sizes than the check's own probes. On such a machine this fails without the check.
 */
class OneDnnCheckTest {

    private static void check(String what, Tensor x, Tensor w, Tensor g, long[] stride, long[] pad, long groups) {
        Tensor[] f32 = OneDnnCheck.grads(x, w, g, stride, pad, groups);
        Tensor[] f64 = OneDnnCheck.grads(x.to(torch.ScalarType.Double), w.to(torch.ScalarType.Double), g.to(torch.ScalarType.Double),
                stride, pad, groups);
        String[] names = {"output", "input gradient", "weight gradient"};
        for (int i = 0; i < 3; i++) {
            double scale = f64[i].abs().max().item_double();
            double diff = f32[i].to(torch.ScalarType.Double).sub(f64[i]).abs().max().item_double();
            assertTrue(diff <= 1e-5 * scale, what + " " + names[i] + ": max |float32 - float64| " + diff + " of max " + scale
                    + " (" + TorchRuntime.oneDnnStatus() + ")");
        }
    }

    @Test
    void conv3dBackwardIsRightAfterInit() {
        TorchRuntime.init();
        assertNotNull(TorchRuntime.oneDnnStatus());
        try (PointerScope scope = new PointerScope()) {
            torch.manual_seed(11);
            check("dense 5x7x7 stem", torch.randn(2, 3, 8, 32, 32), torch.randn(8, 3, 5, 7, 7), torch.randn(2, 8, 8, 16, 16),
                    new long[] {1, 2, 2}, new long[] {2, 3, 3}, 1);
            check("depthwise 3x3x3 channels-last", torch.randn(3, 7, 5, 11, 9).contiguous(torch.MemoryFormat.ChannelsLast3d),
                    torch.randn(7, 1, 3, 3, 3), torch.randn(3, 7, 5, 6, 5), new long[] {1, 2, 2}, new long[] {1, 1, 1}, 7);
            check("depthwise 3x3x3 channels-last, stride 1", torch.randn(1, 54, 6, 20, 20).contiguous(torch.MemoryFormat.ChannelsLast3d),
                    torch.randn(54, 1, 3, 3, 3), torch.randn(1, 54, 6, 20, 20), new long[] {1, 1, 1}, new long[] {1, 1, 1}, 54);
        }
    }
}
