package org.dualdistill.sdd;

import static org.dualdistill.TestTensors.maxAbs;
import static org.dualdistill.TestTensors.maxAbsDiff;
import static org.dualdistill.TestTensors.toFloats;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.stream.Stream;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dualdistill.kernels.KernelBackend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The fused CPU kernel against the LibTorch composite (backend TORCH): loss and gradient with respect to rHat
 * (through autograd on both sides) at the X3D-S res5 shape [B, 192, 13, 5, 5] for B in {1, 2, 16} and odd shapes,
 * in float32 within 1e-5 (loss relative to max(1, |L|), gradient relative to max |grad|), with and without
 * positions whose norm is below eps; float16/bfloat16 within 1e-2.
 */
class SddLossTest {
    static final double TOL = 1e-5;

    /** One evaluation: the loss value, the loss tensor's own value, and dL/drHat. */
    record Eval(double loss, double lossTensor, float[] grad) {
    }

    /**
     * rHat ~ N(0, 0.5^2), a ~ N(0, 1), b ~ N(0, 9), float32 CPU, in the caller's scope. With {@code zeros}, position
     * 0 of a is exactly zero, the last position of b is scaled to a norm far below eps, and for P >= 3 the middle
     * position is zero in both.
     */
    static Tensor[] inputs(long seed, boolean zeros, long... shape) {
        torch.manual_seed(seed);
        Tensor rh = torch.randn(shape).mul(new Scalar(0.5));
        Tensor a = torch.randn(shape);
        Tensor b = torch.randn(shape).mul(new Scalar(3.0));
        if (zeros) {
            long p = a.numel() / (shape[0] * shape[1]);
            Tensor av = a.view(shape[0], shape[1], p);
            Tensor bv = b.view(shape[0], shape[1], p);
            av.narrow(2, 0, 1).zero_();
            bv.narrow(2, p - 1, 1).mul_(new Scalar(1e-9));
            if (p >= 3) {
                av.narrow(2, p / 2, 1).zero_();
                bv.narrow(2, p / 2, 1).zero_();
            }
        }
        return new Tensor[] {rh, a, b};
    }

    static Eval eval(SddLoss loss, Tensor rh0, Tensor a, Tensor b, KernelBackend expected) {
        try (PointerScope scope = new PointerScope()) {
            Tensor rh = rh0.detach().clone().requires_grad_(true);
            try (SddResult r = loss.compute(rh, a, b)) {
                assertEquals(expected, r.backend());
                assertEquals(ScalarType.Float, org.dualdistill.internal.torch.TensorBridge.dtype(r.loss()));
                assertEquals(0, r.loss().dim());
                r.loss().backward();
                return new Eval(r.lossValue(), r.loss().item_double(), toFloats(rh.grad()));
            }
        }
    }

    static void assertClose(String what, Eval expected, Eval actual, double tol) {
        assertTrue(Math.abs(expected.loss - actual.loss) <= tol * Math.max(1.0, Math.abs(expected.loss)),
                what + " loss: expected " + expected.loss + " got " + actual.loss);
        assertEquals(actual.loss, actual.lossTensor, 1e-6 * Math.max(1.0, Math.abs(actual.loss)), what + " loss() vs lossValue()");
        assertEquals(expected.grad.length, actual.grad.length, what + " grad length");
        double scale = maxAbs(expected.grad);
        assertTrue(scale > 0, what + ": gradient should not vanish");
        double d = maxAbsDiff(expected.grad, actual.grad);
        assertTrue(d <= tol * scale, what + " grad max diff " + d + " (scale " + scale + ")");
        for (float g : actual.grad) {
            assertTrue(Float.isFinite(g), what + ": non-finite gradient");
        }
    }

    static Stream<Arguments> shapes() {
        return Stream.of(
                Arguments.of((Object) new long[] {1, 192, 13, 5, 5}),
                Arguments.of((Object) new long[] {2, 192, 13, 5, 5}),
                Arguments.of((Object) new long[] {16, 192, 13, 5, 5}),
                Arguments.of((Object) new long[] {3, 7, 5, 3, 2}),
                Arguments.of((Object) new long[] {2, 1, 1, 1, 1}),
                Arguments.of((Object) new long[] {2, 432, 3, 4, 5}),
                Arguments.of((Object) new long[] {2, 16, 4, 8, 8}),
                Arguments.of((Object) new long[] {5, 2, 31}),
                Arguments.of((Object) new long[] {1, 40, 2, 33}));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void fusedCpuEqualsTorch(long[] shape) {
        SddLoss fused = SddLoss.builder().backend(KernelBackend.FUSED_CPU).build();
        SddLoss ref = SddLoss.builder().backend(KernelBackend.TORCH).build();
        for (boolean zeros : new boolean[] {false, true}) {
            try (PointerScope scope = new PointerScope()) {
                Tensor[] in = inputs(Arrays.hashCode(shape), zeros, shape);
                String at = Arrays.toString(shape) + (zeros ? " with zero-norm positions" : "");
                assertClose(at, eval(ref, in[0], in[1], in[2], KernelBackend.TORCH),
                        eval(fused, in[0], in[1], in[2], KernelBackend.FUSED_CPU), TOL);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("halfTypes")
    void halfTypesMatchTorchLoosely(ScalarType dtype) {
        SddLoss fused = SddLoss.builder().backend(KernelBackend.FUSED_CPU).build();
        SddLoss ref = SddLoss.builder().backend(KernelBackend.TORCH).build();
        for (long[] shape : new long[][] {{2, 192, 13, 5, 5}, {3, 7, 5, 3, 2}}) {
            try (PointerScope scope = new PointerScope()) {
                Tensor[] in = inputs(7, true, shape);
                Tensor rh = in[0].to(dtype);
                Tensor a = in[1].to(dtype);
                Tensor b = in[2].to(dtype);
                Eval e = eval(ref, rh, a, b, KernelBackend.TORCH);
                Eval f = eval(fused, rh, a, b, KernelBackend.FUSED_CPU);
                assertClose(dtype + " " + Arrays.toString(shape), e, f, 1e-2);
                // the float32 arithmetic sees the same rounded inputs: the loss agrees far better than the dtype
                assertEquals(e.loss, f.loss, 1e-5 * Math.max(1, e.loss), dtype + " loss");
            }
        }
    }

    static Stream<ScalarType> halfTypes() {
        return Stream.of(ScalarType.Half, ScalarType.BFloat16);
    }

    @Test
    void allZeroFeaturesStayFinite() {
        for (KernelBackend be : new KernelBackend[] {KernelBackend.FUSED_CPU, KernelBackend.TORCH}) {
            try (PointerScope scope = new PointerScope()) {
                long[] shape = {2, 192, 13, 5, 5};
                Tensor[] in = inputs(3, false, shape);
                Eval e = eval(SddLoss.builder().backend(be).build(), in[0], torch.zeros(shape), torch.zeros(shape), be);
                // r = 0, so L = mean rHat^2 and the gradient is 2 rHat / N
                double expected = torch.mean(in[0].mul(in[0])).item_double();
                assertEquals(expected, e.loss, 1e-6 * expected, be + " loss");
                float[] rh = toFloats(in[0]);
                float[] want = new float[rh.length];
                for (int i = 0; i < rh.length; i++) {
                    want[i] = (float) (2.0 * rh[i] / rh.length);
                }
                assertTrue(maxAbsDiff(want, e.grad) <= 1e-6 * maxAbs(want), be + " gradient");
            }
        }
    }

    @Test
    void resultIsIndependentOfTheThreadCount() {
        try (PointerScope scope = new PointerScope()) {
            Tensor[] in = inputs(5, true, 16, 192, 13, 5, 5);
            Eval one = eval(SddLoss.builder().backend(KernelBackend.FUSED_CPU).numThreads(1).build(), in[0], in[1], in[2],
                    KernelBackend.FUSED_CPU);
            Eval two = eval(SddLoss.builder().backend(KernelBackend.FUSED_CPU).numThreads(2).build(), in[0], in[1], in[2],
                    KernelBackend.FUSED_CPU);
            Eval three = eval(SddLoss.builder().backend(KernelBackend.FUSED_CPU).numThreads(3).build(), in[0], in[1], in[2],
                    KernelBackend.FUSED_CPU);
            assertEquals(one.loss, two.loss, 0.0);
            assertEquals(one.loss, three.loss, 0.0);
            assertArrayEquals(one.grad, two.grad);
            assertArrayEquals(one.grad, three.grad);
        }
    }

    @Test
    void autoPicksTheFusedKernelAndLossOnlyCallsWork() {
        try (PointerScope scope = new PointerScope()) {
            Tensor[] in = inputs(9, false, 2, 24, 3, 4, 4);
            Eval auto = eval(SddLoss.create(), in[0], in[1], in[2], KernelBackend.FUSED_CPU);
            // rHat without requires_grad, and under NoGradGuard: the same value, no graph
            try (SddResult r = SddLoss.create().compute(in[0], in[1], in[2])) {
                assertFalse(r.loss().requires_grad());
                assertEquals(auto.loss, r.lossValue(), 0.0);
            }
            Tensor rh = in[0].detach().clone().requires_grad_(true);
            try (NoGradGuard g = new NoGradGuard(); SddResult r = SddLoss.create().compute(rh, in[1], in[2])) {
                assertFalse(r.loss().requires_grad());
                assertEquals(auto.loss, r.lossValue(), 0.0);
            }
        }
    }

    @Test
    void epsIsTheNormFloor() {
        // with eps above every norm, n(x) = x / eps
        try (PointerScope scope = new PointerScope()) {
            long[] shape = {2, 6, 2, 3};
            Tensor[] in = inputs(11, false, shape);
            Tensor a = in[1].mul(new Scalar(0.01));
            Tensor b = in[2].mul(new Scalar(0.01));
            double eps = 0.5;
            Tensor r = a.sub(b).div(new Scalar(eps));
            double expected = torch.mean(in[0].sub(r).pow(new Scalar(2))).item_double();
            for (KernelBackend be : new KernelBackend[] {KernelBackend.FUSED_CPU, KernelBackend.TORCH}) {
                Eval e = eval(SddLoss.builder().eps(eps).backend(be).build(), in[0], a, b, be);
                assertEquals(expected, e.loss, 1e-6 * expected, be + " loss with eps " + eps);
            }
        }
    }
}
