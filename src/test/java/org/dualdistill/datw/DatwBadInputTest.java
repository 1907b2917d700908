package org.dualdistill.datw;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dualdistill.TestTensors;
import org.dualdistill.kernels.KernelBackend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Bad input gives an exception that names the problem, on every backend, and never a JVM crash. */
class DatwBadInputTest {

    static void expect(String fragment, Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(fragment), "message '" + e.getMessage() + "' should mention '" + fragment + "'");
    }

    static Tensor labels(long... y) {
        return TestTensors.longs(y, y.length);
    }

    @ParameterizedTest
    @EnumSource(value = KernelBackend.class, names = {"FUSED_CPU", "TORCH", "AUTO"})
    void badInputIsRejectedClearly(KernelBackend be) {
        DatwLoss loss = DatwLoss.builder().backend(be).build();
        try (PointerScope scope = new PointerScope()) {
            Tensor s = TestTensors.randn(1, 1, 4, 10);
            Tensor t = TestTensors.randn(2, 1, 4, 10);
            Tensor y = labels(0, 1, 2, 3);
            expect("teachers[0]: expected shape [4, 10]", () -> loss.compute(s, List.of(TestTensors.randn(3, 1, 4, 11)), y));
            expect("student: expected logits [B, C]", () -> loss.compute(torch.randn(4, 10, 2), List.of(t), y));
            expect("teachers[1]: expected dtype Float", () -> loss.compute(s, List.of(t, t.to(ScalarType.Double)), y));
            expect("student: expected dtype float32", () -> loss.compute(s.to(ScalarType.Double), List.of(t.to(ScalarType.Double)), y));
            expect("teachers: expected 1..8", () -> loss.compute(s, List.of(), y));
            expect("teachers: expected 1..8", () -> loss.compute(s, List.of(t, t, t, t, t, t, t, t, t), y));
            expect("labels: expected shape [4]", () -> loss.compute(s, List.of(t), labels(0, 1)));
            expect("labels: expected dtype int64", () -> loss.compute(s, List.of(t), y.to(ScalarType.Int)));
            expect("labels: a label is outside 0..9", () -> loss.compute(s, List.of(t), labels(0, 1, 10, 3)));
            expect("labels: a label is outside 0..9", () -> loss.compute(s, List.of(t), labels(0, -1, 2, 3)));
            expect("labels: required", () -> loss.compute(s, List.of(t), null));
            expect("expected B >= 1 and C >= 2", () -> loss.compute(TestTensors.randn(1, 1, 4, 1), List.of(TestTensors.randn(1, 1, 4, 1)), y));
            Tensor nan = t.clone();
            nan.narrow(0, 2, 1).narrow(1, 5, 1).fill_(new Scalar(Double.NaN));
            expect("NaN or infinity", () -> loss.compute(s, List.of(t, nan), y));
            Tensor inf = s.clone();
            inf.narrow(0, 0, 1).narrow(1, 0, 1).fill_(new Scalar(Double.POSITIVE_INFINITY));
            expect("NaN or infinity", () -> loss.compute(inf, List.of(t), y));
        }
    }

    @ParameterizedTest
    @EnumSource(value = KernelBackend.class, names = {"FUSED_CPU", "AUTO"})
    void nonContiguousIsRejectedByFusedBackends(KernelBackend be) {
        DatwLoss loss = DatwLoss.builder().backend(be).build();
        try (PointerScope scope = new PointerScope()) {
            Tensor s = TestTensors.randn(1, 1, 10, 4).t();
            Tensor t = TestTensors.randn(2, 1, 4, 10);
            expect("student: expected a contiguous tensor", () -> loss.compute(s, List.of(t), labels(0, 1, 2, 3)));
        }
    }

    @Test
    void torchBackendAcceptsNonContiguous() {
        try (PointerScope scope = new PointerScope();
             DatwResult r = DatwLoss.builder().backend(KernelBackend.TORCH).build()
                     .compute(TestTensors.randn(1, 1, 10, 4).t(), List.of(TestTensors.randn(2, 1, 4, 10)), labels(0, 1, 2, 3))) {
            assertTrue(Double.isFinite(r.lossValue()));
        }
    }

    @Test
    void camkdNeedsTwoTeachersAndLabels() {
        DatwLoss loss = DatwLoss.builder().weighting(Weighting.CAMKD).build();
        try (PointerScope scope = new PointerScope()) {
            Tensor s = TestTensors.randn(1, 1, 4, 10);
            Tensor t = TestTensors.randn(2, 1, 4, 10);
            expect("CAMKD weighting needs K >= 2", () -> loss.compute(s, List.of(t), labels(0, 1, 2, 3)));
        }
    }

    @Test
    void badKnobsNameTheKnob() {
        expect("temperature must be finite and > 0", () -> DatwLoss.builder().temperature(0).build());
        expect("tauWeight must be finite and > 0", () -> DatwLoss.builder().tauWeight(Double.NaN).build());
        expect("lambda must be in [0, 1]", () -> DatwLoss.builder().lambda(1.5).build());
        expect("labelSmoothing must be in [0, 1)", () -> DatwLoss.builder().labelSmoothing(1).build());
        expect("numThreads must be >= 0", () -> DatwLoss.builder().numThreads(-1).build());
    }

    @Test
    void resultUseAfterCloseFailsClearly() {
        DatwResult r;
        try (PointerScope scope = new PointerScope()) {
            r = DatwLoss.builder().alphaCe(0).build().compute(TestTensors.randn(1, 1, 4, 10), List.of(TestTensors.randn(2, 1, 4, 10)), null);
        }
        r.close();
        r.close(); // idempotent
        IllegalStateException e = assertThrows(IllegalStateException.class, r::loss);
        assertTrue(e.getMessage().contains("DatwResult is closed"));
    }
}
