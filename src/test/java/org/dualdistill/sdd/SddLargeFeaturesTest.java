package org.dualdistill.sdd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import java.util.stream.Stream;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dualdistill.TestTensors;
import org.dualdistill.kernels.KernelBackend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Finite features of any float32 magnitude give finite results (issue 16 item 4, checked for SDD): teacher features
 * up to the top of the float32 range are normalized correctly, a large but representable loss is computed, and a loss
 * beyond float32 is reported as an overflow, while NaN/inf stay "NaN or infinity". The fused kernel and the TORCH
 * backend (which normalizes in float64) both match. The reference is float64 from the
 * formula in SddLoss's Javadoc: r = a / max(|a|, eps) - b / max(|b|, eps) along the channels, L = mean (r_hat - r)^2.
 */
class SddLargeFeaturesTest {
    static final int B = 2;
    static final int D = 40;
    static final int P = 37; // one full strip of 32 positions and a partial one

    /** Scale of a, of b, of r_hat. */
    static Stream<Arguments> scales() {
        return Stream.of(Arguments.of(1e10, 1e10, 1.0), Arguments.of(1e20, 1e20, 1.0), Arguments.of(1e30, 1e30, 1.0),
                Arguments.of(1e30, 1e-3, 1.0), Arguments.of(1.0, 1e20, 1.0), Arguments.of(3.4e38, 3.4e38, 1.0),
                Arguments.of(1e20, 1e30, 1e15), Arguments.of(1.0, 1.0, 1e17));
    }

    @ParameterizedTest(name = "a {0}, b {1}, rHat {2}")
    @MethodSource("scales")
    void largeFiniteFeaturesMatchFloat64Reference(double sa, double sb, double sr) {
        float[] a = values(1, sa);
        float[] b = values(2, sb);
        float[] rh = values(3, sr);
        double[] grad = new double[rh.length];
        double ref = reference(rh, a, b, 1e-6, grad);
        for (KernelBackend be : new KernelBackend[] {KernelBackend.FUSED_CPU, KernelBackend.TORCH}) {
            try (PointerScope scope = new PointerScope()) {
                Tensor r = TestTensors.floats(rh, B, D, P).requires_grad_(true);
                try (SddResult res = SddLoss.builder().backend(be).build()
                        .compute(r, TestTensors.floats(a, B, D, P), TestTensors.floats(b, B, D, P))) {
                    res.loss().backward();
                    String at = be + " at a " + sa + ", b " + sb + ", rHat " + sr;
                    assertTrue(Double.isFinite(res.lossValue()), at + ": loss " + res.lossValue());
                    assertEquals(ref, res.lossValue(), 2e-5 * ref, at + " loss");
                    float[] g = TestTensors.toFloats(r.grad());
                    double gmax = 0;
                    for (double v : grad) {
                        gmax = Math.max(gmax, Math.abs(v));
                    }
                    for (int i = 0; i < g.length; i++) {
                        assertEquals(grad[i], g[i], 2e-5 * gmax, at + " grad[" + i + "]");
                    }
                }
            }
        }
    }

    @Test
    void halfTypesNearTheirRangeAreComputed() {
        // bfloat16 shares float32's range; float16 tops out at 65504, whose square overflows float16 but not float
        float[] a = values(4, 1e36);
        float[] b = values(5, 6e4);
        float[] rh = values(6, 1.0);
        for (ScalarType dt : new ScalarType[] {ScalarType.BFloat16, ScalarType.Half}) {
            try (PointerScope scope = new PointerScope()) {
                Tensor ta = TestTensors.floats(dt == ScalarType.Half ? values(4, 6e4) : a, B, D, P).to(dt);
                Tensor tb = TestTensors.floats(b, B, D, P).to(dt);
                Tensor tr = TestTensors.floats(rh, B, D, P).to(dt);
                double ref = reference(TestTensors.toFloats(tr), TestTensors.toFloats(ta), TestTensors.toFloats(tb), 1e-6,
                        new double[rh.length]);
                try (SddResult res = SddLoss.builder().backend(KernelBackend.FUSED_CPU).build().compute(tr, ta, tb)) {
                    assertEquals(ref, res.lossValue(), 1e-3 * ref, dt + " loss");
                }
            }
        }
    }

    @Test
    void lossBeyondFloat32IsReportedAsOverflow() {
        float[] a = values(7, 1.0);
        float[] b = values(8, 1.0);
        float[] rh = values(9, 1e20); // mean square ~1e40
        for (KernelBackend be : new KernelBackend[] {KernelBackend.FUSED_CPU, KernelBackend.TORCH}) {
            try (PointerScope scope = new PointerScope()) {
                SddLoss loss = SddLoss.builder().backend(be).build();
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> loss.compute(
                        TestTensors.floats(rh, B, D, P), TestTensors.floats(a, B, D, P), TestTensors.floats(b, B, D, P))
                        .close());
                assertTrue(e.getMessage().contains("overflow"), be + ": " + e.getMessage());
                assertTrue(!e.getMessage().contains("NaN"), be + ": " + e.getMessage());
            }
        }
    }

    @Test
    void nanAndInfinityAmongLargeFeaturesAreStillNaNOrInfinity() {
        for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
            for (int which = 0; which < 3; which++) {
                float[][] in = {values(10, 1e18), values(11, 1e30), values(12, 1e30)};
                in[which][D * P + 5 * P + 33] = bad; // sample 1, channel 5, position 33 (the partial strip)
                try (PointerScope scope = new PointerScope()) {
                    SddLoss loss = SddLoss.builder().backend(KernelBackend.FUSED_CPU).build();
                    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> loss.compute(
                            TestTensors.floats(in[0], B, D, P), TestTensors.floats(in[1], B, D, P),
                            TestTensors.floats(in[2], B, D, P)).close());
                    assertTrue(e.getMessage().contains("NaN or infinity"), bad + " in input " + which + ": " + e.getMessage());
                }
            }
        }
    }

    static float[] values(long seed, double scale) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[B * D * P];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (scale * (r.nextDouble() * 2 - 1));
        }
        return x;
    }

    /** float64 SDD loss; fills grad with dL/dr_hat. */
    static double reference(float[] rh, float[] a, float[] b, double eps, double[] grad) {
        double n = (double) B * D * P;
        double sum = 0;
        for (int s = 0; s < B; s++) {
            for (int p = 0; p < P; p++) {
                double na = 0;
                double nb = 0;
                for (int d = 0; d < D; d++) {
                    int o = (s * D + d) * P + p;
                    na += (double) a[o] * a[o];
                    nb += (double) b[o] * b[o];
                }
                na = Math.max(Math.sqrt(na), eps);
                nb = Math.max(Math.sqrt(nb), eps);
                for (int d = 0; d < D; d++) {
                    int o = (s * D + d) * P + p;
                    double diff = rh[o] - (a[o] / na - b[o] / nb);
                    sum += diff * diff;
                    grad[o] = 2 * diff / n;
                }
            }
        }
        return sum / n;
    }
}
