package org.dualdistill.rkd;

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
 * Finite embeddings of any float32 magnitude give finite results (issue 16 item 4, checked for RKD): the fused kernel
 * and the TORCH backend on float32 embeddings at 1e10 .. 3e37 (and mixed student/teacher scales) equal the TORCH
 * backend run in float64 on the same values, loss and gradient. A loss or gradient beyond float32 (huge term weights) is reported as an
 * overflow; NaN/inf stay "NaN or infinity".
 */
class RkdLargeEmbeddingsTest {
    static final int B = 6;
    static final int DS = 9;
    static final int DT = 13;

    /** Student scale, teacher scale. */
    static Stream<Arguments> scales() {
        return Stream.of(Arguments.of(1e10, 1e10), Arguments.of(1e20, 1e20), Arguments.of(1e30, 1e30),
                Arguments.of(1e30, 1.0), Arguments.of(1e-3, 1e20), Arguments.of(1e37, 3e37));
    }

    @ParameterizedTest(name = "student {0}, teacher {1}")
    @MethodSource("scales")
    void largeFiniteEmbeddingsMatchFloat64Torch(double ss, double st) {
        float[] s = values(1, ss, DS);
        float[] t = values(2, st, DT);
        double refLoss;
        double refD;
        double refA;
        float[] refGrad;
        try (PointerScope scope = new PointerScope()) {
            Tensor sd = TestTensors.floats(s, B, DS).to(ScalarType.Double).requires_grad_(true);
            try (RkdResult r = RkdLoss.builder().backend(KernelBackend.TORCH).build()
                    .compute(sd, TestTensors.floats(t, B, DT).to(ScalarType.Double))) {
                r.loss().backward();
                refLoss = r.lossValue();
                refD = r.distanceValue();
                refA = r.angleValue();
                refGrad = TestTensors.toFloats(sd.grad().mul(new org.bytedeco.pytorch.Scalar(ss)));
            }
        }
        for (KernelBackend be : new KernelBackend[] {KernelBackend.FUSED_CPU, KernelBackend.TORCH}) {
            String at = be + " at student " + ss + ", teacher " + st;
            try (PointerScope scope = new PointerScope()) {
                Tensor sf = TestTensors.floats(s, B, DS).requires_grad_(true);
                try (RkdResult r = RkdLoss.builder().backend(be).build().compute(sf, TestTensors.floats(t, B, DT))) {
                    r.loss().backward();
                    // TORCH runs float32 embeddings below 1e18 in float32: its own rounding, hence 1e-4 there
                    double tol = be == KernelBackend.TORCH ? 1e-4 : 1e-5;
                    assertEquals(refLoss, r.lossValue(), tol * refLoss, at + " loss");
                    assertEquals(refD, r.distanceValue(), tol * refD + 1e-7, at + " distance");
                    assertEquals(refA, r.angleValue(), tol * refA + 1e-7, at + " angle");
                    // the gradient scales as 1 / scale: compare scale * dL/ds
                    float[] g = TestTensors.toFloats(sf.grad().mul(new org.bytedeco.pytorch.Scalar(ss)));
                    double gmax = TestTensors.maxAbs(refGrad);
                    for (int i = 0; i < g.length; i++) {
                        assertEquals(refGrad[i], g[i], tol * gmax, at + " grad[" + i + "]");
                    }
                }
            }
        }
    }

    @Test
    void gradientBeyondFloat32IsReportedAsOverflow() {
        // weights 1e38 and student embeddings at 1e-5: the loss (scale-free) is ~1e38 * unit, the gradient ~1e43
        float[] s = values(3, 1e-5, DS);
        float[] t = values(4, 1.0, DT);
        double unit;
        try (PointerScope scope = new PointerScope();
             RkdResult r = RkdLoss.builder().backend(KernelBackend.FUSED_CPU).build()
                     .compute(TestTensors.floats(s, B, DS), TestTensors.floats(t, B, DT))) {
            unit = r.lossValue();
        }
        RkdLoss heavy = RkdLoss.builder().backend(KernelBackend.FUSED_CPU).distanceWeight(25e36).angleWeight(50e36).build();
        try (PointerScope scope = new PointerScope();
             RkdResult r = heavy.compute(TestTensors.floats(s, B, DS), TestTensors.floats(t, B, DT))) {
            assertEquals(unit * 1e36, r.lossValue(), 1e-5 * unit * 1e36, "loss without gradient");
        }
        try (PointerScope scope = new PointerScope()) {
            Tensor sg = TestTensors.floats(s, B, DS).requires_grad_(true);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> heavy.compute(sg, TestTensors.floats(t, B, DT)).close());
            assertTrue(e.getMessage().contains("overflow"), e.getMessage());
            assertTrue(!e.getMessage().contains("NaN"), e.getMessage());
        }
    }

    @Test
    void nanAndInfinityAmongLargeEmbeddingsAreStillNaNOrInfinity() {
        for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
            for (int which = 0; which < 2; which++) {
                float[] s = values(5, 1e30, DS);
                float[] t = values(6, 1e30, DT);
                if (which == 0) {
                    s[DS + 3] = bad;
                } else {
                    t[2 * DT + 7] = bad;
                }
                try (PointerScope scope = new PointerScope()) {
                    RkdLoss loss = RkdLoss.builder().backend(KernelBackend.FUSED_CPU).build();
                    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                            () -> loss.compute(TestTensors.floats(s, B, DS), TestTensors.floats(t, B, DT)).close());
                    assertTrue(e.getMessage().contains("NaN or infinity"), bad + ": " + e.getMessage());
                }
            }
        }
    }

    static float[] values(long seed, double scale, int d) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[B * d];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (scale * (r.nextDouble() * 2 - 1));
        }
        return x;
    }
}
