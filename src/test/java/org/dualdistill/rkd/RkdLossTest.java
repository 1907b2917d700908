package org.dualdistill.rkd;

import static org.dualdistill.TestTensors.maxAbs;
import static org.dualdistill.TestTensors.maxAbsDiff;
import static org.dualdistill.TestTensors.toFloats;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dualdistill.TestTensors;
import org.dualdistill.kernels.KernelBackend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The fused CPU kernel against the naive LibTorch composite (backend TORCH): L, L_D, L_A and dL/de_s (through
 * autograd on both sides) over B in {2, 3, 16, 64} x Ds in {1, 7, 432, 768}, with teacher dimensions equal to and
 * different from the student's.
 *
 * <p>The 1e-5 comparison runs TORCH in float64 on the same float32 values, so it measures the kernel: TORCH in float32
 * is itself only good to about 1e-5 where the problem is ill-conditioned (D = 1, B = 64: every cosine is +-1 and the
 * angle gradient is a cancellation of terms of size 1/d for close points), so against it the bound is 1e-4.
 */
class RkdLossTest {
    static final double TOL = 1e-5;

    /** One evaluation: (L, L_D, L_A) and dL/ds. */
    record Eval(double loss, double distance, double angle, float[] grad, KernelBackend backend) {
    }

    static Eval eval(RkdLoss loss, Tensor s0, Tensor t) {
        try (PointerScope scope = new PointerScope()) {
            Tensor s = s0.detach().clone().requires_grad_(true);
            try (RkdResult r = loss.compute(s, t)) {
                r.loss().backward();
                return new Eval(r.loss().item_double(), r.distanceValue(), r.angleValue(), toFloats(s.grad()), r.backend());
            }
        }
    }

    static void assertClose(String what, double expected, double actual, double tol) {
        assertTrue(Math.abs(expected - actual) <= tol * Math.max(1.0, Math.abs(expected)),
                what + ": expected " + expected + " got " + actual);
    }

    static void assertSame(String at, Eval e, Eval a, double tol) {
        assertClose(at + " loss", e.loss, a.loss, tol);
        assertClose(at + " distance", e.distance, a.distance, tol);
        assertClose(at + " angle", e.angle, a.angle, tol);
        double gd = maxAbsDiff(e.grad, a.grad);
        assertTrue(gd <= tol * Math.max(maxAbs(e.grad), 1e-6), at + " grad max diff " + gd + " (scale " + maxAbs(e.grad) + ")");
    }

    @ParameterizedTest(name = "B={0}")
    @ValueSource(longs = {2, 3, 16, 64})
    void fusedCpuEqualsTorch(long batch) {
        RkdLoss fused = RkdLoss.builder().backend(KernelBackend.FUSED_CPU).build();
        RkdLoss ref = RkdLoss.builder().backend(KernelBackend.TORCH).build();
        double worst = 0;
        double worst32 = 0;
        for (long ds : new long[] {1, 7, 432, 768}) {
            for (long dt : new long[] {ds, ds == 432 ? 7 : 432}) {
                try (PointerScope scope = new PointerScope()) {
                    long seed = batch * 1_000_003L + ds * 31 + dt;
                    Tensor s = TestTensors.randn(seed, 1.0, batch, ds);
                    Tensor t = TestTensors.randn(seed + 7, 2.0, batch, dt);
                    String at = "B=" + batch + " Ds=" + ds + " Dt=" + dt;
                    Eval a = eval(fused, s, t);
                    assertEquals(KernelBackend.FUSED_CPU, a.backend);
                    Eval e64 = eval(ref, s.to(ScalarType.Double), t.to(ScalarType.Double));
                    assertEquals(KernelBackend.TORCH, e64.backend);
                    assertSame(at + " vs TORCH float64", e64, a, TOL);
                    Eval e32 = eval(ref, s, t);
                    assertSame(at + " vs TORCH float32", e32, a, 10 * TOL);
                    worst = Math.max(worst, maxAbsDiff(e64.grad, a.grad) / Math.max(maxAbs(e64.grad), 1e-6));
                    worst32 = Math.max(worst32, maxAbsDiff(e32.grad, a.grad) / Math.max(maxAbs(e32.grad), 1e-6));
                }
            }
        }
        System.out.printf("RKD fused CPU, B=%d: worst relative gradient difference %.2e vs TORCH float64, %.2e vs TORCH float32%n",
                batch, worst, worst32);
    }

    @Test
    void halfPrecisionInputsMatchTorch() {
        RkdLoss fused = RkdLoss.builder().backend(KernelBackend.FUSED_CPU).build();
        RkdLoss ref = RkdLoss.builder().backend(KernelBackend.TORCH).build();
        for (ScalarType type : new ScalarType[] {ScalarType.Half, ScalarType.BFloat16}) {
            try (PointerScope scope = new PointerScope()) {
                Tensor s = TestTensors.randn(41, 1.0, 16, 96).to(type);
                Tensor t = TestTensors.randn(42, 2.0, 16, 80).to(type);
                Eval a = eval(fused, s, t);
                // TORCH computes half inputs in float32; the fused gradient is rounded to the input dtype
                Eval e = eval(ref, s, t);
                assertSame(type + "", e, a, type == ScalarType.Half ? 2e-3 : 1e-2);
            }
        }
    }

    @Test
    void degenerateInputsStayFinite() {
        for (KernelBackend be : new KernelBackend[] {KernelBackend.FUSED_CPU, KernelBackend.TORCH}) {
            RkdLoss loss = RkdLoss.builder().backend(be).build();
            try (PointerScope scope = new PointerScope()) {
                Tensor random = TestTensors.randn(5, 1.0, 16, 64);
                Tensor same = random.narrow(0, 0, 1).expand(16, 64).contiguous();
                Tensor zeros = torch.zeros(16, 64);
                Tensor[][] cases = {{same, random}, {zeros, random}, {random, zeros}, {same, same.add(new Scalar(3.0))}, {zeros, zeros}};
                for (int i = 0; i < cases.length; i++) {
                    Eval e = eval(loss, cases[i][0], cases[i][1]);
                    String at = be + " case " + i;
                    assertTrue(Double.isFinite(e.loss) && Double.isFinite(e.distance) && Double.isFinite(e.angle), at + ": loss " + e.loss);
                    for (float g : e.grad) {
                        assertTrue(Float.isFinite(g), at + ": gradient not finite");
                    }
                    if (i == 0 || i == 1 || i == 3 || i == 4) {
                        // the student's relations are all at the eps floor: no gradient passes
                        assertEquals(0.0, maxAbs(e.grad), at + ": gradient of a degenerate student");
                    }
                }
            }
        }
    }

    @Test
    void degenerateInputsAgreeAcrossBackends() {
        RkdLoss fused = RkdLoss.builder().backend(KernelBackend.FUSED_CPU).build();
        RkdLoss ref = RkdLoss.builder().backend(KernelBackend.TORCH).build();
        try (PointerScope scope = new PointerScope()) {
            Tensor s = TestTensors.randn(6, 1.0, 12, 20);
            s.narrow(0, 5, 1).copy_(s.narrow(0, 2, 1)); // two coincident student rows
            Tensor t = TestTensors.randn(7, 1.0, 12, 30);
            assertSame("coincident rows", eval(ref, s.to(ScalarType.Double), t.to(ScalarType.Double)), eval(fused, s, t), TOL);
            Tensor zt = torch.zeros(12, 30);
            assertSame("zero teacher", eval(ref, s.to(ScalarType.Double), zt.to(ScalarType.Double)), eval(fused, s, zt), TOL);
        }
    }

    @Test
    void fusedIsDeterministicAcrossThreadCounts() {
        try (PointerScope scope = new PointerScope()) {
            Tensor s = TestTensors.randn(8, 1.0, 64, 200);
            Tensor t = TestTensors.randn(9, 1.0, 64, 150);
            Eval one = eval(RkdLoss.builder().backend(KernelBackend.FUSED_CPU).numThreads(1).build(), s, t);
            Eval two = eval(RkdLoss.builder().backend(KernelBackend.FUSED_CPU).numThreads(2).build(), s, t);
            Eval three = eval(RkdLoss.builder().backend(KernelBackend.FUSED_CPU).numThreads(3).build(), s, t);
            assertEquals(one.loss, two.loss);
            assertEquals(one.loss, three.loss);
            assertArrayEquals(one.grad, two.grad);
            assertArrayEquals(one.grad, three.grad);
        }
    }

    @Test
    void weightsAndEpsReachBothBackends() {
        RkdLoss.Builder b = RkdLoss.builder().distanceWeight(1.0).angleWeight(2.0).eps(0.0625);
        try (PointerScope scope = new PointerScope()) {
            // scale 0.03 in 33 dims: squared distances around 0.06, so the eps floor is active for some pairs
            Tensor s = TestTensors.randn(10, 0.03, 24, 33);
            Tensor t = TestTensors.randn(11, 1.0, 24, 19);
            Eval a = eval(b.backend(KernelBackend.FUSED_CPU).build(), s, t);
            Eval e = eval(b.backend(KernelBackend.TORCH).build(), s.to(ScalarType.Double), t.to(ScalarType.Double));
            assertSame("lambda_D 1, lambda_A 2, eps 1/16", e, a, TOL);
            assertClose("L = 1 L_D + 2 L_A", a.distance + 2 * a.angle, a.loss, 1e-6);
        }
    }

    @Test
    void lossOnlyWhenTheStudentNeedsNoGradient() {
        RkdLoss loss = RkdLoss.builder().backend(KernelBackend.FUSED_CPU).build();
        try (PointerScope scope = new PointerScope()) {
            Tensor s = TestTensors.randn(12, 1.0, 8, 10);
            Tensor t = TestTensors.randn(13, 1.0, 8, 12);
            try (RkdResult r = loss.compute(s, t)) {
                assertTrue(!r.loss().requires_grad());
                assertEquals(eval(loss, s, t).loss, r.lossValue(), 0.0);
            }
        }
    }
}
