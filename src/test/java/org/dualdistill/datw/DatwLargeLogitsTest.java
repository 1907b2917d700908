package org.dualdistill.datw;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
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
 * Finite logits of any float32 magnitude give finite results (issue 16 item 4): the fused kernel used to refuse
 * logits of magnitude ~1e20 and above as "NaN or infinity" because its squared norms overflowed float. Every backend is
 * compared with {@link #reference}, a float64 implementation of the formulas written here from DatwLoss's Javadoc
 * (max-shifted softmaxes, log-sum-exp; float64 cannot overflow on squares of float32 values). A loss that is really
 * larger than float32 can hold is reported as an overflow, and NaN/inf stay "NaN or infinity".
 */
class DatwLargeLogitsTest {
    static final int B = 3;
    static final int C = 7;

    /** Student scale, scale of each of the two teachers, label smoothing. */
    static Stream<Arguments> scales() {
        return Stream.of(Arguments.of(1e10, 1e10, 1e10, 0.0), Arguments.of(1e20, 1e20, 1e20, 0.0),
                Arguments.of(1e30, 1e30, 1e30, 0.0), Arguments.of(1e30, 1e30, 1e30, 0.1),
                Arguments.of(1e10, 1e30, 1.0, 0.0), Arguments.of(1.0, 1e20, 1e30, 0.1),
                Arguments.of(1e30, 2.0, 1e25, 0.0), Arguments.of(1e37, 1e37, 1e37, 0.0));
    }

    @ParameterizedTest(name = "student {0}, teachers {1} / {2}, ls {3}")
    @MethodSource("scales")
    void largeFiniteLogitsMatchFloat64Reference(double ss, double s1, double s2, double ls) {
        float[] s = logits(1, ss);
        float[] t1 = logits(2, s1);
        float[] t2 = logits(3, s2);
        long[] y = {0, 3, 6};
        Ref ref = reference(s, List.of(t1, t2), y, ls);
        for (KernelBackend be : new KernelBackend[] {KernelBackend.FUSED_CPU, KernelBackend.TORCH}) {
            String at = be + " at student " + ss + ", teachers " + s1 + " / " + s2 + ", ls " + ls;
            try (PointerScope scope = new PointerScope()) {
                Tensor st = TestTensors.floats(s, B, C).requires_grad_(true);
                List<Tensor> ts = List.of(TestTensors.floats(t1, B, C), TestTensors.floats(t2, B, C));
                DatwLoss loss = DatwLoss.builder().backend(be).labelSmoothing(ls).build();
                try (DatwResult r = loss.compute(st, ts, TestTensors.longs(y, B))) {
                    r.loss().backward();
                    rel(at + " loss", ref.loss, r.lossValue());
                    rel(at + " kd", ref.kd, r.kdValue());
                    rel(at + " ce", ref.ce, r.ceValue());
                    abs(at + " weights", ref.w, TestTensors.toFloats(r.weights()), 2e-5);
                    abs(at + " confidence", ref.conf, TestTensors.toFloats(r.confidence()), 2e-5);
                    abs(at + " discrepancy", ref.disc, TestTensors.toFloats(r.discrepancy()), 2e-5);
                    abs(at + " grad", ref.grad, TestTensors.toFloats(st.grad()), 2e-5);
                }
            }
        }
    }

    @Test
    void bfloat16LogitsNearTheFloatRangeAreComputed() {
        float[] s = bf16(logits(4, 1e36));
        float[] t = bf16(logits(5, 1e36));
        long[] y = {1, 2, 3};
        Ref ref = reference(s, List.of(t), y, 0.0);
        try (PointerScope scope = new PointerScope();
             DatwResult r = DatwLoss.builder().backend(KernelBackend.FUSED_CPU).build().compute(
                     TestTensors.floats(s, B, C).to(ScalarType.BFloat16),
                     List.of(TestTensors.floats(t, B, C).to(ScalarType.BFloat16)), TestTensors.longs(y, B))) {
            rel("bf16 loss", ref.loss, r.lossValue());
            rel("bf16 kd", ref.kd, r.kdValue());
            rel("bf16 ce", ref.ce, r.ceValue());
        }
    }

    @Test
    void rowsSpanningMoreThanFloat32AreComputed() {
        // max - min = 6e38 overflows float, the loss does not: the teacher's entropy, the KL and the CE must come out
        // of the shifted sums without NaN (0 * -inf) or a false overflow
        float[] s = logits(8, 1.0);
        for (int b = 0; b < B; b++) {
            s[b * C] = 3e38f;
            s[b * C + 1] = -3e38f;
        }
        float[] t = s.clone();
        t[2] = -1e38f;
        long[] y = {0, 0, 0};
        Ref ref = reference(s, List.of(t, s), y, 0.0);
        for (KernelBackend be : new KernelBackend[] {KernelBackend.FUSED_CPU, KernelBackend.TORCH}) {
            try (PointerScope scope = new PointerScope()) {
                Tensor st = TestTensors.floats(s, B, C).requires_grad_(true);
                try (DatwResult r = DatwLoss.builder().backend(be).build().compute(st,
                        List.of(TestTensors.floats(t, B, C), TestTensors.floats(s, B, C)), TestTensors.longs(y, B))) {
                    r.loss().backward();
                    rel(be + " loss", ref.loss, r.lossValue());
                    rel(be + " kd", ref.kd, r.kdValue());
                    rel(be + " ce", ref.ce, r.ceValue());
                    abs(be + " weights", ref.w, TestTensors.toFloats(r.weights()), 2e-5);
                    abs(be + " confidence", ref.conf, TestTensors.toFloats(r.confidence()), 2e-5);
                    abs(be + " discrepancy", ref.disc, TestTensors.toFloats(r.discrepancy()), 2e-5);
                    abs(be + " grad", ref.grad, TestTensors.toFloats(st.grad()), 2e-5);
                }
            }
        }
    }

    @Test
    void lossBeyondFloat32IsReportedAsOverflow() {
        // s = +-3e38 against a teacher of the opposite sign: KL ~ 6e38 / T and T^2 KL ~ 2.4e39, CE ~ 6e38
        float big = 3e38f;
        float[] s = new float[B * C];
        float[] t = new float[B * C];
        for (int b = 0; b < B; b++) {
            for (int c = 0; c < C; c++) {
                s[b * C + c] = c == 0 ? big : -big;
                t[b * C + c] = c == 0 ? -big : big;
            }
        }
        long[] y = {1, 1, 1};
        for (KernelBackend be : new KernelBackend[] {KernelBackend.FUSED_CPU, KernelBackend.TORCH}) {
            try (PointerScope scope = new PointerScope()) {
                DatwLoss loss = DatwLoss.builder().backend(be).build();
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> loss.compute(
                        TestTensors.floats(s, B, C), List.of(TestTensors.floats(t, B, C)), TestTensors.longs(y, B)).close());
                assertTrue(e.getMessage().contains("overflow"), be + ": " + e.getMessage());
                assertTrue(!e.getMessage().contains("NaN"), be + ": " + e.getMessage());
            }
        }
    }

    @Test
    void nanAndInfinityAmongLargeLogitsAreStillNaNOrInfinity() {
        for (KernelBackend be : new KernelBackend[] {KernelBackend.FUSED_CPU, KernelBackend.TORCH}) {
            for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
                for (int which = 0; which < 2; which++) {
                    float[] s = logits(6, 1e30);
                    float[] t = logits(7, 1e30);
                    (which == 0 ? s : t)[C + 4] = bad;
                    try (PointerScope scope = new PointerScope()) {
                        DatwLoss loss = DatwLoss.builder().backend(be).build();
                        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> loss.compute(
                                TestTensors.floats(s, B, C), List.of(TestTensors.floats(t, B, C)),
                                TestTensors.longs(new long[] {0, 1, 2}, B)).close());
                        assertTrue(e.getMessage().contains("NaN or infinity"), be + " " + bad + ": " + e.getMessage());
                    }
                }
            }
        }
    }

    // ------------------------------------------------------------------ helpers

    /** B x C logits: scale * N(0, 1), distinct per seed. */
    static float[] logits(long seed, double scale) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[B * C];
        for (int i = 0; i < x.length; i++) {
            double g = r.nextDouble() * 2 - 1 + (r.nextDouble() * 2 - 1);
            x[i] = (float) (scale * g);
        }
        return x;
    }

    /** Rounds to bfloat16 (nearest even), so the reference sees what the kernel sees. */
    static float[] bf16(float[] x) {
        float[] o = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            int u = Float.floatToRawIntBits(x[i]);
            u += 0x7fff + ((u >>> 16) & 1);
            o[i] = Float.intBitsToFloat(u & 0xffff0000);
        }
        return o;
    }

    static void rel(String what, double expected, double actual) {
        assertTrue(Double.isFinite(actual), what + ": not finite (" + actual + ")");
        double tol = 2e-5 * Math.abs(expected) + 1e-5;
        assertEquals(expected, actual, tol, what);
    }

    static void abs(String what, double[] expected, float[] actual, double tol) {
        assertEquals(expected.length, actual.length, what + " length");
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], tol, what + "[" + i + "]");
        }
    }

    record Ref(double loss, double kd, double ce, double[] w, double[] conf, double[] disc, double[] grad) {
    }

    /**
     * DATW (PRODUCT score, SOFTMAX normalization, the defaults T = 4, tau_c = 1, tau_w = 0.25, alpha_ce = alpha_kd = 1)
     * in float64, row by row.
     */
    static Ref reference(float[] s, List<float[]> teachers, long[] y, double ls) {
        final double temp = 4.0;
        final double tauC = 1.0;
        final double tauW = 0.25;
        int k = teachers.size();
        double[] w = new double[B * k];
        double[] conf = new double[B * k];
        double[] disc = new double[B * k];
        double[] grad = new double[B * C];
        double kd = 0;
        double ce = 0;
        for (int b = 0; b < B; b++) {
            double[] sr = row(s, b);
            double[] e = new double[k];
            List<double[]> tr = new ArrayList<>();
            for (int j = 0; j < k; j++) {
                double[] t = row(teachers.get(j), b);
                tr.add(t);
                double[] lp = logSoftmax(t, tauC);
                double h = 0;
                for (int c = 0; c < C; c++) {
                    h -= Math.exp(lp[c]) * lp[c];
                }
                double cf = Math.min(1, Math.max(0, 1 - h / Math.log(C)));
                double cos = dot(sr, t) / (Math.max(Math.sqrt(dot(sr, sr)), 1e-8) * Math.max(Math.sqrt(dot(t, t)), 1e-8));
                conf[b * k + j] = cf;
                disc[b * k + j] = (1 - cos) / 2;
                e[j] = cf * disc[b * k + j];
            }
            double[] wr = logSoftmax(e, tauW);
            double[] z = new double[C];
            for (int j = 0; j < k; j++) {
                w[b * k + j] = Math.exp(wr[j]);
                for (int c = 0; c < C; c++) {
                    z[c] += w[b * k + j] * tr.get(j)[c];
                }
            }
            double[] lq = logSoftmax(z, temp);
            double[] lp = logSoftmax(sr, temp);
            double[] l1 = logSoftmax(sr, 1.0);
            double kl = 0;
            double sumL1 = 0;
            for (int c = 0; c < C; c++) {
                double q = Math.exp(lq[c]);
                if (q > 0) {
                    kl += q * (lq[c] - lp[c]);
                }
                sumL1 += l1[c];
                grad[b * C + c] = temp / B * (Math.exp(lp[c]) - q) + 1.0 / B * (Math.exp(l1[c]) - ls / C);
            }
            grad[b * C + (int) y[b]] -= 1.0 / B * (1 - ls);
            kd += temp * temp * kl;
            ce += -(1 - ls) * l1[(int) y[b]] - ls / C * sumL1;
        }
        kd /= B;
        ce /= B;
        return new Ref(kd + ce, kd, ce, w, conf, disc, grad);
    }

    static double[] row(float[] x, int b) {
        double[] r = new double[C];
        for (int c = 0; c < C; c++) {
            r[c] = x[b * C + c];
        }
        return r;
    }

    static double dot(double[] a, double[] b) {
        double r = 0;
        for (int i = 0; i < a.length; i++) {
            r += a[i] * b[i];
        }
        return r;
    }

    /** log softmax(x / tau), shifted by the maximum. */
    static double[] logSoftmax(double[] x, double tau) {
        double m = Double.NEGATIVE_INFINITY;
        for (double v : x) {
            m = Math.max(m, v);
        }
        double sum = 0;
        for (double v : x) {
            sum += Math.exp((v - m) / tau);
        }
        double lse = Math.log(sum);
        double[] o = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            o[i] = (x[i] - m) / tau - lse;
        }
        return o;
    }
}
