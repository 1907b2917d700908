package org.dualdistill.datw;

import static org.dualdistill.TestTensors.maxAbs;
import static org.dualdistill.TestTensors.maxAbsDiff;
import static org.dualdistill.TestTensors.toFloats;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.TestTensors;
import org.dualdistill.kernels.KernelBackend;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The fused CPU kernel against the LibTorch composite (backend TORCH): loss, breakdown, gradient with respect to
 * the student logits (through autograd on both sides) and teacher weights, over the grid of shapes and
 * every weighting mode, in float32 within 1e-5.
 */
class DatwLossTest {
    static final double TOL = 1e-5;

    static Stream<Arguments> modes() {
        return Stream.of(
                Arguments.of(Weighting.DATW, ScoreMode.PRODUCT, Normalization.SOFTMAX, 0.0),
                Arguments.of(Weighting.DATW, ScoreMode.SUM, Normalization.SOFTMAX, 0.1),
                Arguments.of(Weighting.DATW, ScoreMode.PRODUCT, Normalization.LINEAR, 0.0),
                Arguments.of(Weighting.DATW, ScoreMode.SUM, Normalization.LINEAR, 0.0),
                Arguments.of(Weighting.UNIFORM, ScoreMode.PRODUCT, Normalization.SOFTMAX, 0.0),
                Arguments.of(Weighting.EBKD, ScoreMode.PRODUCT, Normalization.SOFTMAX, 0.2),
                Arguments.of(Weighting.CAMKD, ScoreMode.PRODUCT, Normalization.SOFTMAX, 0.0));
    }

    /** One evaluation: loss, kd, ce, grad, weights. */
    record Eval(double loss, double kd, double ce, float[] grad, float[] weights, float[] conf, float[] disc) {
    }

    static Eval eval(DatwLoss loss, Tensor s0, List<Tensor> ts, Tensor y, KernelBackend expected) {
        try (PointerScope scope = new PointerScope()) {
            Tensor s = s0.detach().clone().requires_grad_(true);
            try (DatwResult r = loss.compute(s, ts, y)) {
                assertEquals(expected, r.backend());
                r.loss().backward();
                return new Eval(r.loss().item_double(), r.kdValue(), r.ceValue(), toFloats(s.grad()),
                        toFloats(r.weights()), toFloats(r.confidence()), toFloats(r.discrepancy()));
            }
        }
    }

    static void assertClose(String what, double expected, double actual) {
        assertTrue(Math.abs(expected - actual) <= TOL * Math.max(1.0, Math.abs(expected)),
                what + ": expected " + expected + " got " + actual);
    }

    @ParameterizedTest(name = "{0} {1} {2} ls={3}")
    @MethodSource("modes")
    void fusedCpuEqualsTorch(Weighting w, ScoreMode sm, Normalization n, double ls) {
        DatwLoss.Builder b = DatwLoss.builder().weighting(w).scoreMode(sm).normalization(n).labelSmoothing(ls);
        DatwLoss fused = b.backend(KernelBackend.FUSED_CPU).build();
        DatwLoss ref = b.backend(KernelBackend.TORCH).build();
        for (long batch : new long[] {1, 7, 64, 257}) {
            for (long classes : new long[] {2, 51, 400, 1000, 4096}) {
                for (int k = 1; k <= 3; k++) {
                    if (w == Weighting.CAMKD && k < 2) {
                        continue;
                    }
                    try (PointerScope scope = new PointerScope()) {
                        long seed = batch * 1_000_003L + classes * 31 + k;
                        Tensor s = TestTensors.randn(seed, 3.0, batch, classes);
                        List<Tensor> ts = new ArrayList<>();
                        for (int i = 0; i < k; i++) {
                            ts.add(TestTensors.randn(seed + 17 * (i + 1), 3.0 * (i + 1), batch, classes));
                        }
                        torch.manual_seed(seed + 5);
                        Tensor y = torch.randint(classes, new long[] {batch});
                        String at = w + "/" + sm + "/" + n + " B=" + batch + " C=" + classes + " K=" + k;
                        Eval a = eval(fused, s, ts, y, KernelBackend.FUSED_CPU);
                        Eval e = eval(ref, s, ts, y, KernelBackend.TORCH);
                        assertClose(at + " loss", e.loss, a.loss);
                        assertClose(at + " kd", e.kd, a.kd);
                        assertClose(at + " ce", e.ce, a.ce);
                        double gd = maxAbsDiff(e.grad, a.grad);
                        assertTrue(gd <= TOL * Math.max(maxAbs(e.grad), 1e-3), at + " grad max diff " + gd);
                        assertTrue(maxAbsDiff(e.weights, a.weights) <= TOL, at + " weights diff " + maxAbsDiff(e.weights, a.weights));
                        assertTrue(maxAbsDiff(e.conf, a.conf) <= TOL, at + " confidence");
                        assertTrue(maxAbsDiff(e.disc, a.disc) <= TOL, at + " discrepancy");
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("extremes")
    void extremeLogitsStayFinite(String name, float studentScale, float teacherScale, boolean constant) {
        for (KernelBackend be : new KernelBackend[] {KernelBackend.FUSED_CPU, KernelBackend.TORCH}) {
            try (PointerScope scope = new PointerScope()) {
                long bsz = 16;
                long c = 400;
                Tensor s;
                List<Tensor> ts = new ArrayList<>();
                if (constant) {
                    s = torch.zeros(bsz, c);
                    ts.add(torch.zeros(bsz, c));
                    ts.add(torch.zeros(bsz, c).add(new Scalar(3.0)));
                } else {
                    s = TestTensors.randn(3, studentScale, bsz, c);
                    ts.add(TestTensors.randn(4, teacherScale, bsz, c));
                    // near one-hot teacher: one huge logit per row
                    Tensor oh = torch.zeros(bsz, c);
                    oh.narrow(1, 7, 1).fill_(new Scalar(teacherScale));
                    ts.add(oh);
                }
                Tensor y = torch.zeros(new long[] {bsz}, new org.bytedeco.pytorch.TensorOptions(torch.ScalarType.Long));
                Eval e = eval(DatwLoss.builder().backend(be).build(), s, ts, y, be);
                assertTrue(Double.isFinite(e.loss) && Double.isFinite(e.kd) && Double.isFinite(e.ce), name + " " + be + " loss " + e.loss);
                for (float g : e.grad) {
                    assertTrue(Float.isFinite(g), name + " " + be + " gradient not finite");
                }
                for (float v : e.weights) {
                    assertTrue(Float.isFinite(v) && v >= 0 && v <= 1, name + " " + be + " weight " + v);
                }
            }
        }
    }

    static Stream<Arguments> extremes() {
        return Stream.of(Arguments.of("+-1e4", 1e4f, 1e4f, false), Arguments.of("all equal", 0f, 0f, true),
                Arguments.of("near one-hot", 1f, 1e4f, false), Arguments.of("tiny", 1e-20f, 1e-20f, false));
    }
}
