package org.dualdistill.datw;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.TestTensors;
import org.dualdistill.kernels.KernelBackend;
import org.junit.jupiter.api.Test;

/**
 * The fused backend plugs into LibTorch autograd: a small model's parameters receive the same gradients as through
 * the TORCH composite; teachers never receive gradients; and 10,000 calls do not grow native memory.
 */
class DatwAutogradTest {

    static float[][] paramGrads(KernelBackend be, LinearImpl student, LinearImpl teacherA, LinearImpl teacherB, Tensor x,
                                Tensor y) {
        try (PointerScope scope = new PointerScope()) {
            student.zero_grad(true);
            teacherA.zero_grad(true);
            teacherB.zero_grad(true);
            Tensor s = student.forward(x);
            Tensor ta = teacherA.forward(x);
            Tensor tb = teacherB.forward(x);
            try (DatwResult r = DatwLoss.builder().backend(be).build().compute(s, List.of(ta, tb), y)) {
                r.loss().backward();
            }
            assertFalse(teacherA.weight().grad().defined() && torch.count_nonzero(teacherA.weight().grad()).item_long() > 0,
                    be + ": a teacher received a gradient");
            assertFalse(teacherB.weight().grad().defined() && torch.count_nonzero(teacherB.weight().grad()).item_long() > 0,
                    be + ": a teacher received a gradient");
            return new float[][] {TestTensors.toFloats(student.weight().grad()), TestTensors.toFloats(student.bias().grad())};
        }
    }

    @Test
    void parameterGradientsEqualThroughFusedAndTorch() {
        try (PointerScope scope = new PointerScope()) {
            torch.manual_seed(11);
            LinearImpl student = new LinearImpl(16, 51);
            LinearImpl teacherA = new LinearImpl(16, 51);
            LinearImpl teacherB = new LinearImpl(16, 51);
            Tensor x = TestTensors.randn(12, 2.0, 32, 16);
            torch.manual_seed(12);
            Tensor y = torch.randint(51, new long[] {32});
            float[][] fused = paramGrads(KernelBackend.FUSED_CPU, student, teacherA, teacherB, x, y);
            float[][] ref = paramGrads(KernelBackend.TORCH, student, teacherA, teacherB, x, y);
            for (int i = 0; i < 2; i++) {
                double d = TestTensors.maxAbsDiff(ref[i], fused[i]);
                double scale = TestTensors.maxAbs(ref[i]);
                assertTrue(scale > 1e-4, "gradient should not vanish");
                assertTrue(d <= 1e-5 * scale, (i == 0 ? "weight" : "bias") + " grad differs by " + d + " (scale " + scale + ")");
            }
        }
    }

    @Test
    void noNativeMemoryGrowthOver10000Calls() {
        DatwLoss loss = DatwLoss.builder().backend(KernelBackend.FUSED_CPU).build();
        Tensor s0;
        Tensor t0;
        Tensor t1;
        Tensor y;
        try (PointerScope scope = new PointerScope()) {
            s0 = TestTensors.randn(1, 3, 64, 400).retainReference();
            t0 = TestTensors.randn(2, 3, 64, 400).retainReference();
            t1 = TestTensors.randn(3, 6, 64, 400).retainReference();
            torch.manual_seed(4);
            y = torch.randint(400, new long[] {64}).retainReference();
        }
        long[] base = null;
        for (int i = 0; i < 10_000; i++) {
            try (PointerScope scope = new PointerScope()) {
                Tensor s = s0.detach().requires_grad_(true);
                try (DatwResult r = loss.compute(s, List.of(t0, t1), y)) {
                    r.loss().backward();
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
        s0.close();
        t0.close();
        t1.close();
        y.close();
    }
}
