package org.dualdistill.sdd;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dualdistill.kernels.KernelBackend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Bad input gives an exception that names the argument and the problem, on every backend, and never a JVM crash. */
class SddBadInputTest {

    static void expect(String fragment, Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(fragment), "message '" + e.getMessage() + "' should mention '" + fragment + "'");
    }

    static Tensor with(Tensor t, double value) {
        Tensor c = t.clone();
        c.view(-1).narrow(0, 37, 1).fill_(new Scalar(value));
        return c;
    }

    @ParameterizedTest
    @EnumSource(value = KernelBackend.class, names = {"FUSED_CPU", "TORCH", "AUTO"})
    void badInputIsRejectedClearly(KernelBackend be) {
        SddLoss loss = SddLoss.builder().backend(be).build();
        try (PointerScope scope = new PointerScope()) {
            Tensor[] in = SddLossTest.inputs(1, false, 2, 8, 3, 2, 2);
            Tensor rh = in[0];
            Tensor a = in[1];
            Tensor b = in[2];
            expect("rHat: expected [B, D, ...positions] with at least 3 dimensions, got shape [2, 8]",
                    () -> loss.compute(torch.randn(2, 8), torch.randn(2, 8), torch.randn(2, 8)));
            expect("a: expected shape [2, 8, 3, 2, 2] like rHat, got [2, 8, 3, 2, 3]",
                    () -> loss.compute(rh, torch.randn(2, 8, 3, 2, 3), b));
            expect("b: expected shape [2, 8, 3, 2, 2] like rHat, got [2, 8, 12]", () -> loss.compute(rh, a, b.view(2, 8, 12)));
            expect("rHat: expected dtype float32, float16 or bfloat16", () -> loss.compute(rh.to(ScalarType.Double),
                    a.to(ScalarType.Double), b.to(ScalarType.Double)));
            expect("a: expected dtype Float like rHat, got Half", () -> loss.compute(rh, a.to(ScalarType.Half), b));
            expect("b: expected dtype Float like rHat, got Double", () -> loss.compute(rh, a, b.to(ScalarType.Double)));
            expect("rHat: expected every dimension >= 1", () -> loss.compute(torch.randn(2, 8, 0, 2), torch.randn(2, 8, 0, 2),
                    torch.randn(2, 8, 0, 2)));
            expect("rHat: expected a tensor, got null", () -> loss.compute(null, a, b));
            expect("b: expected a tensor, got an undefined tensor", () -> loss.compute(rh, a, new Tensor()));
            for (double bad : new double[] {Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY}) {
                expect("rHat: contains NaN or infinity", () -> loss.compute(with(rh, bad), a, b));
                expect("a: contains NaN or infinity", () -> loss.compute(rh, with(a, bad), b));
                expect("b: contains NaN or infinity", () -> loss.compute(rh, a, with(b, bad)));
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = KernelBackend.class, names = {"FUSED_CPU", "AUTO"})
    void nonContiguousIsRejectedByFusedBackends(KernelBackend be) {
        SddLoss loss = SddLoss.builder().backend(be).build();
        try (PointerScope scope = new PointerScope()) {
            Tensor[] in = SddLossTest.inputs(2, false, 2, 8, 3, 4, 4);
            Tensor tr = in[0].transpose(3, 4);
            expect("rHat: expected a contiguous tensor", () -> loss.compute(tr, in[1], in[2]));
            expect("b: expected a contiguous tensor", () -> loss.compute(in[0], in[1], in[2].transpose(3, 4)));
        }
    }

    @Test
    void torchBackendAcceptsNonContiguous() {
        try (PointerScope scope = new PointerScope()) {
            Tensor[] in = SddLossTest.inputs(3, false, 2, 8, 3, 4, 4);
            Tensor rh = in[0].transpose(3, 4);
            Tensor a = in[1].transpose(3, 4);
            Tensor b = in[2].transpose(3, 4);
            try (SddResult t = SddLoss.builder().backend(KernelBackend.TORCH).build().compute(rh, a, b);
                 SddResult f = SddLoss.builder().backend(KernelBackend.FUSED_CPU).build()
                         .compute(rh.contiguous(), a.contiguous(), b.contiguous())) {
                assertTrue(Math.abs(t.lossValue() - f.lossValue()) <= 1e-6 * t.lossValue());
            }
        }
    }

    @Test
    void wrongDeviceForAnExplicitBackend() {
        try (PointerScope scope = new PointerScope()) {
            Tensor[] in = SddLossTest.inputs(4, false, 2, 8, 3);
            expect("backend FUSED_CUDA needs CUDA tensors", () -> SddLoss.builder().backend(KernelBackend.FUSED_CUDA).build()
                    .compute(in[0], in[1], in[2]));
        }
    }

    @Test
    void badKnobsNameTheKnob() {
        expect("eps must be finite and > 0", () -> SddLoss.builder().eps(0).build());
        expect("eps must be finite and > 0", () -> SddLoss.builder().eps(-1e-6).build());
        expect("eps must be finite and > 0", () -> SddLoss.builder().eps(Double.NaN).build());
        expect("eps must be finite and > 0", () -> SddLoss.builder().eps(Double.POSITIVE_INFINITY).build());
        expect("eps must be finite and > 0", () -> SddLoss.builder().eps(1e-50).build());
        expect("numThreads must be >= 0", () -> SddLoss.builder().numThreads(-1).build());
        expect("backend must not be null", () -> SddLoss.builder().backend(null).build());
    }

    @Test
    void resultUseAfterCloseFailsClearly() {
        SddResult r;
        try (PointerScope scope = new PointerScope()) {
            Tensor[] in = SddLossTest.inputs(5, false, 2, 8, 3);
            r = SddLoss.create().compute(in[0], in[1], in[2]);
        }
        r.close();
        r.close(); // idempotent
        IllegalStateException e = assertThrows(IllegalStateException.class, r::loss);
        assertTrue(e.getMessage().contains("SddResult is closed"));
        assertThrows(IllegalStateException.class, r::lossValue);
    }
}
