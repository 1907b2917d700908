package org.dualdistill.datw;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.TestTensors;
import org.dualdistill.kernels.KernelBackend;
import org.dualdistill.kernels.Kernels;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * FUSED_CUDA against TORCH on CUDA tensors and against FUSED_CPU. Needs the CUDA kernel library, a visible device
 * and the GPU build of LibTorch ({@code -Pgpu}); skips cleanly otherwise.
 */
@Tag("gpu")
class DatwCudaTest {

    @Test
    void fusedCudaEqualsTorchAndCpu() {
        assumeTrue(Kernels.available().cuda(), () -> "CUDA kernels unavailable: " + Kernels.available().cudaReason());
        assumeTrue(torch.cuda_is_available(), "LibTorch has no CUDA (CPU build of the presets)");
        for (Weighting w : Weighting.values()) {
            try (PointerScope scope = new PointerScope()) {
                Tensor s = TestTensors.randn(1, 3, 257, 400);
                List<Tensor> ts = List.of(TestTensors.randn(2, 3, 257, 400), TestTensors.randn(3, 6, 257, 400));
                torch.manual_seed(4);
                Tensor y = torch.randint(400, new long[] {257});
                DatwLossTest.Eval cpu = DatwLossTest.eval(DatwLoss.builder().weighting(w).backend(KernelBackend.FUSED_CPU).build(),
                        s, ts, y, KernelBackend.FUSED_CPU);
                List<Tensor> tc = List.of(ts.get(0).cuda(), ts.get(1).cuda());
                DatwLossTest.Eval gpu = DatwLossTest.eval(DatwLoss.builder().weighting(w).backend(KernelBackend.FUSED_CUDA).build(),
                        s.cuda(), tc, y.cuda(), KernelBackend.FUSED_CUDA);
                DatwLossTest.Eval ref = DatwLossTest.eval(DatwLoss.builder().weighting(w).backend(KernelBackend.TORCH).build(),
                        s.cuda(), tc, y.cuda(), KernelBackend.TORCH);
                DatwLossTest.assertClose(w + " cuda vs torch", ref.loss(), gpu.loss());
                DatwLossTest.assertClose(w + " cuda vs cpu", cpu.loss(), gpu.loss());
                assertTrue(TestTensors.maxAbsDiff(cpu.grad(), gpu.grad()) <= 1e-5 * TestTensors.maxAbs(cpu.grad()), w + " grad");
                assertTrue(TestTensors.maxAbsDiff(cpu.weights(), gpu.weights()) <= 1e-5, w + " weights");
                assertEquals(cpu.grad().length, gpu.grad().length);
            }
        }
    }
}
