package org.dualdistill.sdd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.dualdistill.TestTensors;
import org.dualdistill.internal.torch.TensorBridge;
import org.junit.jupiter.api.Test;

/** The SDB's architecture (parameter count from the specification), shapes, and gradient flow. */
class StructureDiscrepancyBranchTest {

    static long parameters(org.bytedeco.pytorch.Module m) {
        long n = 0;
        TensorVector ps = m.parameters();
        for (long i = 0; i < ps.size(); i++) {
            n += ps.get(i).numel();
        }
        return n;
    }

    @Test
    void parameterCountFollowsTheSpecification() {
        try (PointerScope scope = new PointerScope()) {
            StructureDiscrepancyBranch b = new StructureDiscrepancyBranch(192, 192);
            // theta/phi/g 3 x (192*96 + 96) + W (96*192 + 192) + BN 2*192 + SE (192*48 + 48 + 48*192 + 192) + out (192*192 + 192)
            long expected = 3 * (192 * 96 + 96) + (96 * 192 + 192) + 2 * 192 + (192 * 48 + 48 + 48 * 192 + 192) + (192 * 192 + 192);
            assertEquals(130_320, expected);
            assertEquals(expected, parameters(b));
            b.close();
        }
    }

    @Test
    void mapsTheStudentTapToTheProjectedDimension() {
        try (PointerScope scope = new PointerScope()) {
            StructureDiscrepancyBranch b = new StructureDiscrepancyBranch(24, 16);
            Tensor x = TestTensors.randn(3, 1.0, 2 * 24, 13 * 5 * 5).view(2, 24, 13, 5, 5);
            Tensor y = b.forward(x);
            assertArrayEquals(new long[] {2, 16, 13, 5, 5}, TensorBridge.shape(y));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> b.forward(TestTensors.randn(3, 1.0, 2 * 12, 8).view(2, 12, 2, 2, 2)));
            assertTrue(e.getMessage().contains("expected [B, 24, T, H, W]"), e.getMessage());
            b.close();
        }
    }

    @Test
    void gradientsReachTheStudentAndTheBranch() {
        try (PointerScope scope = new PointerScope()) {
            StructureDiscrepancyBranch b = new StructureDiscrepancyBranch(16, 8);
            Tensor x = TestTensors.randn(4, 1.0, 2 * 16, 3 * 4 * 4).view(2, 16, 3, 4, 4).requires_grad_(true);
            Tensor y = b.forward(x);
            y.mul(y).mean().backward();
            assertTrue(TestTensors.maxAbs(TestTensors.toFloats(x.grad())) > 0, "student features get a gradient");
            TensorVector ps = b.parameters();
            int withGrad = 0;
            for (long i = 0; i < ps.size(); i++) {
                if (ps.get(i).grad().defined() && TestTensors.maxAbs(TestTensors.toFloats(ps.get(i).grad())) > 0) {
                    withGrad++;
                }
            }
            // at initialization BN's scale is 0, so only theta/phi/g/W get zero gradients (the non-local block starts
            // as the identity); BN, SE and the output conv learn from the first step
            assertTrue(withGrad >= 8, "parameters with a gradient: " + withGrad);
            b.close();
        }
    }
}
