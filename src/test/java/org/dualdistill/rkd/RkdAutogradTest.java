package org.dualdistill.rkd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.TestTensors;
import org.dualdistill.kernels.KernelBackend;
import org.junit.jupiter.api.Test;

/**
 * The fused backend plugs into LibTorch autograd: a small student's parameters receive the same gradients as through
 * the TORCH composite; the teacher never receives a gradient even when its parameters require one; and 10,000 calls
 * do not grow native memory.
 */
class RkdAutogradTest {

    static float[][] paramGrads(KernelBackend be, LinearImpl student, LinearImpl teacher, Tensor x) {
        try (PointerScope scope = new PointerScope()) {
            student.zero_grad(true);
            teacher.zero_grad(true);
            Tensor s = student.forward(x);
            Tensor t = teacher.forward(x); // with grad: the loss must still not reach the teacher
            try (RkdResult r = RkdLoss.builder().backend(be).build().compute(s, t)) {
                assertEquals(be, r.backend());
                r.loss().backward();
            }
            assertFalse(teacher.weight().grad().defined() && torch.count_nonzero(teacher.weight().grad()).item_long() > 0,
                    be + ": the teacher received a gradient");
            assertFalse(teacher.bias().grad().defined() && torch.count_nonzero(teacher.bias().grad()).item_long() > 0,
                    be + ": the teacher received a gradient");
            return new float[][] {TestTensors.toFloats(student.weight().grad()), TestTensors.toFloats(student.bias().grad())};
        }
    }

    @Test
    void parameterGradientsEqualThroughFusedAndTorch() {
        try (PointerScope scope = new PointerScope()) {
            torch.manual_seed(21);
            LinearImpl student = new LinearImpl(16, 24);
            LinearImpl teacher = new LinearImpl(16, 40);
            Tensor x = TestTensors.randn(22, 1.0, 32, 16);
            float[][] fused = paramGrads(KernelBackend.FUSED_CPU, student, teacher, x);
            float[][] ref = paramGrads(KernelBackend.TORCH, student, teacher, x);
            double scale = TestTensors.maxAbs(ref[0]);
            assertTrue(scale > 1e-4, "gradient should not vanish");
            double d = TestTensors.maxAbsDiff(ref[0], fused[0]);
            assertTrue(d <= 1e-5 * scale, "weight grad differs by " + d + " (scale " + scale + ")");
            // RKD only sees differences of embeddings, so a bias (the same shift for every row) gets no gradient
            assertTrue(TestTensors.maxAbs(fused[1]) <= 1e-5 * scale, "fused bias grad " + TestTensors.maxAbs(fused[1]));
            assertTrue(TestTensors.maxAbs(ref[1]) <= 1e-5 * scale, "TORCH bias grad " + TestTensors.maxAbs(ref[1]));
        }
    }

    @Test
    void teacherTensorNeverReceivesAGradient() {
        for (KernelBackend be : new KernelBackend[] {KernelBackend.FUSED_CPU, KernelBackend.TORCH}) {
            try (PointerScope scope = new PointerScope()) {
                Tensor s = TestTensors.randn(23, 1.0, 8, 12).requires_grad_(true);
                Tensor t = TestTensors.randn(24, 1.0, 8, 20).requires_grad_(true);
                try (RkdResult r = RkdLoss.builder().backend(be).build().compute(s, t)) {
                    r.loss().backward();
                }
                assertTrue(s.grad().defined(), be + ": the student got no gradient");
                assertFalse(t.grad().defined(), be + ": the teacher received a gradient");
            }
        }
    }

    @Test
    void noNativeMemoryGrowthOver10000Calls() {
        // one kernel thread: this test is about memory, and an OpenMP team on a busy 2-core machine only adds noise
        RkdLoss loss = RkdLoss.builder().backend(KernelBackend.FUSED_CPU).numThreads(1).build();
        Tensor s0;
        Tensor t0;
        try (PointerScope scope = new PointerScope()) {
            s0 = TestTensors.randn(31, 1.0, 32, 256).retainReference();
            t0 = TestTensors.randn(32, 1.0, 32, 384).retainReference();
        }
        long[] base = null;
        for (int i = 0; i < 10_000; i++) {
            try (PointerScope scope = new PointerScope()) {
                Tensor s = s0.detach().requires_grad_(true);
                try (RkdResult r = loss.compute(s, t0)) {
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
    }
}
