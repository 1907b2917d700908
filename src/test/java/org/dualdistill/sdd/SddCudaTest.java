package org.dualdistill.sdd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Arrays;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.kernels.KernelBackend;
import org.dualdistill.kernels.Kernels;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * FUSED_CUDA against TORCH on CUDA tensors and against FUSED_CPU, bit-for-bit repeatability, and NaN reporting
 * through the device flag. Needs the CUDA kernel library, a visible device and the GPU build of LibTorch
 * ({@code -Pgpu}); skips cleanly otherwise.
 */
@Tag("gpu")
class SddCudaTest {

    static void assumeCuda() {
        assumeTrue(Kernels.available().cuda(), () -> "CUDA kernels unavailable: " + Kernels.available().cudaReason());
        assumeTrue(torch.cuda_is_available(), "LibTorch has no CUDA (CPU build of the presets)");
    }

    @Test
    void fusedCudaEqualsTorchAndCpu() {
        assumeCuda();
        SddLoss cpu = SddLoss.builder().backend(KernelBackend.FUSED_CPU).build();
        SddLoss gpu = SddLoss.builder().backend(KernelBackend.FUSED_CUDA).build();
        SddLoss ref = SddLoss.builder().backend(KernelBackend.TORCH).build();
        for (long[] shape : new long[][] {{1, 192, 13, 5, 5}, {16, 192, 13, 5, 5}, {3, 7, 5, 3, 2}, {2, 1, 1, 1, 1},
                {2, 432, 3, 4, 5}}) {
            try (PointerScope scope = new PointerScope()) {
                Tensor[] in = SddLossTest.inputs(41, true, shape);
                Tensor rh = in[0].cuda();
                Tensor a = in[1].cuda();
                Tensor b = in[2].cuda();
                String at = Arrays.toString(shape);
                SddLossTest.Eval c = SddLossTest.eval(cpu, in[0], in[1], in[2], KernelBackend.FUSED_CPU);
                SddLossTest.Eval g = SddLossTest.eval(gpu, rh, a, b, KernelBackend.FUSED_CUDA);
                SddLossTest.Eval t = SddLossTest.eval(ref, rh, a, b, KernelBackend.TORCH);
                SddLossTest.assertClose(at + " cuda vs torch", t, g, 1e-5);
                SddLossTest.assertClose(at + " cuda vs cpu", c, g, 1e-5);
                SddLossTest.Eval again = SddLossTest.eval(gpu, rh, a, b, KernelBackend.FUSED_CUDA);
                assertEquals(g.loss(), again.loss(), 0.0, at + " repeatable loss");
                assertArrayEquals(g.grad(), again.grad(), at + " repeatable gradient");
            }
        }
    }

    @Test
    void nanIsReportedThroughTheDeviceFlag() {
        assumeCuda();
        try (PointerScope scope = new PointerScope()) {
            Tensor[] in = SddLossTest.inputs(42, false, 2, 16, 3, 3, 3);
            Tensor a = in[1].clone();
            a.view(-1).narrow(0, 100, 1).fill_(new Scalar(Double.NaN));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> SddLoss.builder().backend(KernelBackend.FUSED_CUDA).build().compute(in[0].cuda(), a.cuda(), in[2].cuda()));
            assertTrue(e.getMessage().contains("a: contains NaN or infinity"), e.getMessage());
        }
    }
}
