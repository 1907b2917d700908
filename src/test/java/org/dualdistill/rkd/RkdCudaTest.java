package org.dualdistill.rkd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dualdistill.TestTensors;
import org.dualdistill.kernels.KernelBackend;
import org.dualdistill.kernels.Kernels;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * FUSED_CUDA against TORCH on CUDA tensors and against FUSED_CPU. Needs the CUDA kernel library, a visible device
 * and the GPU build of LibTorch ({@code -Pgpu}); skips cleanly otherwise.
 */
@Tag("gpu")
class RkdCudaTest {

    @BeforeEach
    void requireCuda() {
        assumeTrue(Kernels.available().cuda(), () -> "CUDA kernels unavailable: " + Kernels.available().cudaReason());
        assumeTrue(torch.cuda_is_available(), "LibTorch has no CUDA (CPU build of the presets)");
    }

    @Test
    void fusedCudaEqualsTorchAndCpu() {
        RkdLoss cpu = RkdLoss.builder().backend(KernelBackend.FUSED_CPU).build();
        RkdLoss gpu = RkdLoss.builder().backend(KernelBackend.FUSED_CUDA).build();
        RkdLoss ref = RkdLoss.builder().backend(KernelBackend.TORCH).build();
        for (long b : new long[] {2, 3, 16, 64, 200}) {
            for (long[] dims : new long[][] {{1, 1}, {7, 432}, {768, 768}}) {
                try (PointerScope scope = new PointerScope()) {
                    Tensor s = TestTensors.randn(b * 7 + dims[0], 1.0, b, dims[0]);
                    Tensor t = TestTensors.randn(b * 11 + dims[1], 2.0, b, dims[1]);
                    String at = "B=" + b + " Ds=" + dims[0] + " Dt=" + dims[1];
                    RkdLossTest.Eval c = RkdLossTest.eval(cpu, s, t);
                    RkdLossTest.Eval g = RkdLossTest.eval(gpu, s.cuda(), t.cuda());
                    assertEquals(KernelBackend.FUSED_CUDA, g.backend());
                    RkdLossTest.Eval r = RkdLossTest.eval(ref, s.to(ScalarType.Double).cuda(), t.to(ScalarType.Double).cuda());
                    RkdLossTest.assertSame(at + " cuda vs torch float64", r, g, RkdLossTest.TOL);
                    RkdLossTest.assertSame(at + " cuda vs cpu", c, g, RkdLossTest.TOL);
                }
            }
        }
    }

    @Test
    void nonFiniteInputIsReportedThroughTheFlag() {
        RkdLoss gpu = RkdLoss.builder().backend(KernelBackend.FUSED_CUDA).build();
        try (PointerScope scope = new PointerScope()) {
            Tensor s = TestTensors.randn(1, 1, 8, 10).cuda();
            Tensor t = TestTensors.randn(2, 1, 8, 6);
            t.narrow(0, 3, 1).narrow(1, 1, 1).fill_(new Scalar(Double.NaN));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> gpu.compute(s, t.cuda()));
            assertTrue(e.getMessage().contains("teacherEmbeddings: contains NaN or infinity"), e.getMessage());
        }
    }

    @Test
    void halfPrecisionOnCuda() {
        RkdLoss gpu = RkdLoss.builder().backend(KernelBackend.FUSED_CUDA).build();
        RkdLoss cpu = RkdLoss.builder().backend(KernelBackend.FUSED_CPU).build();
        for (ScalarType type : new ScalarType[] {ScalarType.Half, ScalarType.BFloat16}) {
            try (PointerScope scope = new PointerScope()) {
                Tensor s = TestTensors.randn(3, 1.0, 64, 256).to(type);
                Tensor t = TestTensors.randn(4, 1.0, 64, 384).to(type);
                RkdLossTest.Eval c = RkdLossTest.eval(cpu, s, t);
                RkdLossTest.Eval g = RkdLossTest.eval(gpu, s.cuda(), t.cuda());
                RkdLossTest.assertSame(type + " cuda vs cpu", c, g, type == ScalarType.Half ? 2e-3 : 1e-2);
            }
        }
    }
}
