package org.dualdistill.sdd;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Conv3dImpl;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.TestTensors;
import org.dualdistill.kernels.KernelBackend;
import org.junit.jupiter.api.Test;

/**
 * The fused backend plugs into LibTorch autograd: a small upstream module (a 1x1x1 Conv3d producing rHat) receives
 * the same parameter gradients as through the TORCH composite; the modules producing a and b never receive
 * gradients; and 10,000 calls do not grow native memory.
 */
class SddAutogradTest {

    static Conv3dImpl conv(long in, long out) {
        try (PointerScope scope = new PointerScope()) {
            Conv3dImpl c = new Conv3dImpl(in, out, new LongPointer(1L, 1L, 1L));
            c.retainReference();
            return c;
        }
    }

    static boolean hasGradient(Conv3dImpl m) {
        Tensor g = m.weight().grad();
        return g.defined() && torch.count_nonzero(g).item_long() > 0;
    }

    static float[][] paramGrads(KernelBackend be, Conv3dImpl branch, Conv3dImpl vit, Conv3dImpl cnn, Tensor x) {
        try (PointerScope scope = new PointerScope()) {
            branch.zero_grad(true);
            vit.zero_grad(true);
            cnn.zero_grad(true);
            Tensor rHat = branch.forward(x);
            Tensor a = vit.forward(x); // requires grad through vit's parameters, yet must stay a constant
            Tensor b = cnn.forward(x);
            assertTrue(a.requires_grad() && b.requires_grad());
            try (SddResult r = SddLoss.builder().backend(be).build().compute(rHat, a, b)) {
                r.loss().backward();
            }
            assertFalse(hasGradient(vit), be + ": the module producing a received a gradient");
            assertFalse(hasGradient(cnn), be + ": the module producing b received a gradient");
            return new float[][] {TestTensors.toFloats(branch.weight().grad()), TestTensors.toFloats(branch.bias().grad())};
        }
    }

    @Test
    void upstreamGradientsEqualThroughFusedAndTorch() {
        Conv3dImpl branch;
        Conv3dImpl vit;
        Conv3dImpl cnn;
        torch.manual_seed(21);
        branch = conv(12, 24);
        vit = conv(12, 24);
        cnn = conv(12, 24);
        try (PointerScope scope = new PointerScope()) {
            torch.manual_seed(22);
            Tensor x = torch.randn(3, 12, 5, 3, 3);
            float[][] fused = paramGrads(KernelBackend.FUSED_CPU, branch, vit, cnn, x);
            float[][] ref = paramGrads(KernelBackend.TORCH, branch, vit, cnn, x);
            for (int i = 0; i < 2; i++) {
                double d = TestTensors.maxAbsDiff(ref[i], fused[i]);
                double scale = TestTensors.maxAbs(ref[i]);
                assertTrue(scale > 1e-4, "gradient should not vanish");
                assertTrue(d <= 1e-5 * scale, (i == 0 ? "weight" : "bias") + " grad differs by " + d + " (scale " + scale + ")");
            }
        } finally {
            branch.close();
            vit.close();
            cnn.close();
        }
    }

    @Test
    void noNativeMemoryGrowthOver10000Calls() {
        SddLoss loss = SddLoss.builder().backend(KernelBackend.FUSED_CPU).build();
        Tensor rh0;
        Tensor a;
        Tensor b;
        try (PointerScope scope = new PointerScope()) {
            Tensor[] in = SddLossTest.inputs(31, true, 2, 32, 3, 4, 4);
            rh0 = in[0].retainReference();
            a = in[1].retainReference();
            b = in[2].retainReference();
        }
        long[] base = null;
        for (int i = 0; i < 10_000; i++) {
            try (PointerScope scope = new PointerScope()) {
                Tensor rh = rh0.detach().requires_grad_(true);
                try (SddResult r = loss.compute(rh, a, b)) {
                    r.loss().backward();
                    r.lossValue();
                }
            }
            if (i == 999) {
                System.gc();
                base = new long[] {Pointer.physicalBytes(), Pointer.totalBytes(), Pointer.totalCount()};
            }
        }
        System.gc();
        long rssGrowth = Pointer.physicalBytes() - base[0];
        long handleBytes = Pointer.totalBytes() - base[1];
        long handles = Pointer.totalCount() - base[2];
        assertTrue(rssGrowth < 32L << 20, "RSS grew by " + (rssGrowth >> 20) + " MiB over 9,000 calls");
        assertTrue(handles <= 16, "JavaCPP handles grew by " + handles + " (" + handleBytes + " bytes)");
        rh0.close();
        a.close();
        b.close();
    }
}
