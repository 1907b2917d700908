package org.dualdistill.rkd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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

/** Bad input gives an exception that names the argument and the problem, on every backend, and never a JVM crash. */
class RkdBadInputTest {

    static void expect(String fragment, Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(fragment), "message '" + e.getMessage() + "' should mention '" + fragment + "'");
    }

    @ParameterizedTest
    @EnumSource(value = KernelBackend.class, names = {"FUSED_CPU", "TORCH", "AUTO"})
    void badInputIsRejectedClearly(KernelBackend be) {
        RkdLoss loss = RkdLoss.builder().backend(be).build();
        try (PointerScope scope = new PointerScope()) {
            Tensor s = TestTensors.randn(1, 1, 4, 10);
            Tensor t = TestTensors.randn(2, 1, 4, 6);
            expect("studentEmbeddings: expected embeddings [B, Ds]", () -> loss.compute(torch.randn(4, 10, 2), t));
            expect("studentEmbeddings: expected embeddings [B, Ds]", () -> loss.compute(torch.randn(10), t));
            expect("teacherEmbeddings: expected embeddings [B, Dt]", () -> loss.compute(s, torch.randn(4)));
            expect("teacherEmbeddings: expected [4, Dt]", () -> loss.compute(s, TestTensors.randn(2, 1, 5, 6)));
            expect("studentEmbeddings: expected B >= 2", () -> loss.compute(TestTensors.randn(1, 1, 1, 10), TestTensors.randn(2, 1, 1, 6)));
            expect("studentEmbeddings: expected B >= 2", () -> loss.compute(torch.zeros(4, 0), t));
            expect("teacherEmbeddings: expected [4, Dt] with Dt >= 1", () -> loss.compute(s, torch.zeros(4, 0)));
            expect("teacherEmbeddings: expected dtype Float like the student", () -> loss.compute(s, t.to(ScalarType.Half)));
            expect("studentEmbeddings: expected dtype float32, float16 or bfloat16", () -> loss.compute(
                    s.to(ScalarType.Int), t.to(ScalarType.Int)));
            expect("studentEmbeddings: expected a tensor", () -> loss.compute(null, t));
            expect("teacherEmbeddings: expected a tensor", () -> loss.compute(s, new Tensor()));
            Tensor nan = t.clone();
            nan.narrow(0, 2, 1).narrow(1, 5, 1).fill_(new Scalar(Double.NaN));
            expect("teacherEmbeddings: contains NaN or infinity", () -> loss.compute(s, nan));
            Tensor inf = s.clone();
            inf.narrow(0, 0, 1).narrow(1, 0, 1).fill_(new Scalar(Double.NEGATIVE_INFINITY));
            expect("studentEmbeddings: contains NaN or infinity", () -> loss.compute(inf, t));
            expect("studentEmbeddings: contains NaN or infinity", () -> loss.compute(inf, nan));
        }
    }

    @ParameterizedTest
    @EnumSource(value = KernelBackend.class, names = {"FUSED_CPU", "AUTO"})
    void nonContiguousIsRejectedByFusedBackends(KernelBackend be) {
        RkdLoss loss = RkdLoss.builder().backend(be).build();
        try (PointerScope scope = new PointerScope()) {
            Tensor s = TestTensors.randn(1, 1, 10, 4).t();
            Tensor t = TestTensors.randn(2, 1, 4, 10);
            expect("studentEmbeddings: expected a contiguous tensor", () -> loss.compute(s, t));
            expect("teacherEmbeddings: expected a contiguous tensor", () -> loss.compute(t, s));
        }
    }

    @Test
    void torchBackendAcceptsNonContiguousAndFloat64() {
        try (PointerScope scope = new PointerScope()) {
            Tensor s = TestTensors.randn(1, 1, 10, 4).t();
            Tensor t = TestTensors.randn(2, 1, 4, 10);
            try (RkdResult r = RkdLoss.builder().backend(KernelBackend.TORCH).build().compute(s, t)) {
                assertTrue(Double.isFinite(r.lossValue()));
            }
            // float64 goes to TORCH under AUTO; an explicit fused backend says why it cannot
            try (RkdResult r = RkdLoss.create().compute(t.to(ScalarType.Double), t.to(ScalarType.Double))) {
                assertEquals(KernelBackend.TORCH, r.backend());
                assertEquals(0.0, r.lossValue(), 0.0);
            }
            expect("backend FUSED_CPU takes float32, float16 or bfloat16, got float64",
                    () -> RkdLoss.builder().backend(KernelBackend.FUSED_CPU).build().compute(t.to(ScalarType.Double), t.to(ScalarType.Double)));
        }
    }

    @Test
    void fusedCudaNeedsCudaTensors() {
        try (PointerScope scope = new PointerScope()) {
            Tensor s = TestTensors.randn(1, 1, 4, 10);
            expect("backend FUSED_CUDA needs CUDA tensors",
                    () -> RkdLoss.builder().backend(KernelBackend.FUSED_CUDA).build().compute(s, s));
        }
    }

    @Test
    void badKnobsNameTheKnob() {
        expect("eps must be > 0", () -> RkdLoss.builder().eps(0).build());
        expect("eps must be > 0", () -> RkdLoss.builder().eps(-1e-6).build());
        expect("eps must be > 0", () -> RkdLoss.builder().eps(1e-60).build()); // 0 as a float32
        expect("eps must be > 0", () -> RkdLoss.builder().eps(Double.NaN).build());
        expect("distanceWeight must be finite", () -> RkdLoss.builder().distanceWeight(Double.NaN).build());
        expect("angleWeight must be finite", () -> RkdLoss.builder().angleWeight(1e40).build());
        expect("numThreads must be >= 0", () -> RkdLoss.builder().numThreads(-1).build());
        expect("backend must not be null", () -> RkdLoss.builder().backend(null).build());
        RkdLoss d = RkdLoss.create();
        assertEquals(25.0, d.distanceWeight());
        assertEquals(50.0, d.angleWeight());
        assertEquals((float) 1e-12, d.eps());
        assertEquals(KernelBackend.AUTO, d.backend());
    }

    @Test
    void resultUseAfterCloseFailsClearly() {
        RkdResult r;
        try (PointerScope scope = new PointerScope()) {
            r = RkdLoss.create().compute(TestTensors.randn(1, 1, 4, 10), TestTensors.randn(2, 1, 4, 6));
        }
        r.close();
        r.close(); // idempotent
        IllegalStateException e = assertThrows(IllegalStateException.class, r::loss);
        assertTrue(e.getMessage().contains("RkdResult is closed"));
        assertThrows(IllegalStateException.class, r::lossValue);
    }
}
