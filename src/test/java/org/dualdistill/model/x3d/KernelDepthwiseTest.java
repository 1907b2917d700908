package org.dualdistill.model.x3d;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.internal.torch.TorchRuntime;
import org.dualdistill.kernels.Kernels;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The hook route of the hand-written depthwise kernel (DepthwiseMode.FAST) in the autograd situations a layer in
 * the middle of a network meets: two calls in one graph backpropagated together, only x or only the weight needing a
 * gradient, a retain_graph second backward, graphs dropped without a backward, an input changed in place after the
 * forward, and the LibTorch fallback where the kernel does not apply. Reference: LibTorch's conv3d(groups = C).
 */
class KernelDepthwiseTest {
    static {
        TorchRuntime.init();
    }

    static Tensor ref(Tensor x, Tensor w, long s) {
        return torch.conv3d(x, w, new TensorOptional(), DepthwiseConv3dTest.ref(1, s, s), DepthwiseConv3dTest.ref(1, 1, 1),
                DepthwiseConv3dTest.ref(1, 1, 1), x.size(1));
    }

    static Tensor fast(Tensor x, Tensor w, long s) {
        return DepthwiseConv3d.forward(x, w, s, 1, 1, DepthwiseMode.FAST);
    }

    static void backward(Tensor loss, boolean retain) {
        loss.backward(new Tensor(), new BoolOptional(retain), false, new TensorArrayRefOptional());
    }

    static void close(String what, Tensor got, Tensor want) {
        double r = DepthwiseConv3dTest.rel(got, want);
        assertTrue(r <= DepthwiseConv3dTest.TOL, what + ": " + r);
    }

    @Test
    void theKernelRouteIsTakenForFloat32OnTheCpu() {
        assertTrue(Kernels.available().cpu(), Kernels.available().cpuReason());
        try (PointerScope scope = new PointerScope()) {
            Tensor x = torch.randn(1, 4, 3, 6, 6).requires_grad_(true);
            Tensor w = torch.randn(4, 1, 3, 3, 3).requires_grad_(true);
            assertTrue(KernelDepthwise.applies(x, w));
            assertFalse(KernelDepthwise.applies(x.to(torch.ScalarType.Double), w.to(torch.ScalarType.Double)));
            Tensor y = fast(x, w, 1);
            // the hook route's output node is the in-place add of the zero term, not a convolution node
            assertTrue(y.grad_fn().name().getString().contains("Add"), y.grad_fn().name().getString());
            backward(y.sum(), false);
        }
    }

    @Test
    void twoCallsInOneGraphGetTheirOwnGradients() {
        try (PointerScope scope = new PointerScope()) {
            torch.manual_seed(1);
            Tensor a = torch.randn(2, 6, 5, 9, 9);
            Tensor b = torch.randn(2, 6, 5, 9, 9);
            Tensor w0 = torch.randn(6, 1, 3, 3, 3);
            Tensor[] want = new Tensor[3];
            Tensor[] got = new Tensor[3];
            for (int route = 0; route < 2; route++) {
                Tensor xa = a.detach().requires_grad_(true);
                Tensor xb = b.detach().requires_grad_(true);
                Tensor w = w0.detach().requires_grad_(true);
                java.util.function.BiFunction<Tensor, Tensor, Tensor> f = route == 0 ? (x, ww) -> ref(x, ww, 1)
                        : (x, ww) -> fast(x, ww, 1);
                // a chain and a sibling: f(f(xa)) and f(xb) with one weight, interleaved in one loss
                Tensor y1 = f.apply(xa, w);
                Tensor y2 = f.apply(xb, w);
                Tensor y3 = f.apply(torch.relu(y1), w);
                Tensor loss = y3.mul(y3).sum().add(y2.mul(torch.sin(y2)).sum());
                backward(loss, false);
                Tensor[] dst = route == 0 ? want : got;
                dst[0] = xa.grad();
                dst[1] = xb.grad();
                dst[2] = w.grad();
            }
            close("grad xa", got[0], want[0]);
            close("grad xb", got[1], want[1]);
            close("grad w", got[2], want[2]);
        }
    }

    @Test
    void onlyXOrOnlyTheWeightNeedsAGradient() {
        try (PointerScope scope = new PointerScope()) {
            torch.manual_seed(2);
            Tensor x0 = torch.randn(3, 5, 4, 7, 8);
            Tensor w0 = torch.randn(5, 1, 3, 3, 3);
            Tensor g = torch.randn(3, 5, 4, 4, 4);
            // x only
            Tensor xr = x0.detach().requires_grad_(true);
            ref(xr, w0, 2).backward(g, new BoolOptional(), false, new TensorArrayRefOptional());
            Tensor xk = x0.detach().requires_grad_(true);
            fast(xk, w0, 2).backward(g, new BoolOptional(), false, new TensorArrayRefOptional());
            close("grad x (weight frozen)", xk.grad(), xr.grad());
            // weight only
            Tensor wr = w0.detach().requires_grad_(true);
            ref(x0, wr, 2).backward(g, new BoolOptional(), false, new TensorArrayRefOptional());
            Tensor wk = w0.detach().requires_grad_(true);
            fast(x0, wk, 2).backward(g, new BoolOptional(), false, new TensorArrayRefOptional());
            close("grad w (input constant)", wk.grad(), wr.grad());
        }
    }

    @Test
    void aRetainedGraphCanBeBackpropagatedTwice() {
        try (PointerScope scope = new PointerScope()) {
            torch.manual_seed(3);
            Tensor x0 = torch.randn(2, 4, 5, 6, 6);
            Tensor w0 = torch.randn(4, 1, 3, 3, 3);
            Tensor xr = x0.detach().requires_grad_(true);
            Tensor wr = w0.detach().requires_grad_(true);
            Tensor lr = ref(xr, wr, 1).pow(new org.bytedeco.pytorch.Scalar(2.0)).sum();
            backward(lr, true);
            backward(lr, false);
            Tensor xk = x0.detach().requires_grad_(true);
            Tensor wk = w0.detach().requires_grad_(true);
            Tensor lk = fast(xk, wk, 1).pow(new org.bytedeco.pytorch.Scalar(2.0)).sum();
            backward(lk, true);
            backward(lk, false);
            close("grad x after two backwards", xk.grad(), xr.grad());
            close("grad w after two backwards", wk.grad(), wr.grad());
        }
    }

    @Test
    void graphsDroppedWithoutABackwardDoNotBreakLaterOnes() {
        int before = KernelDepthwise.pendingCalls();
        for (int i = 0; i < 50; i++) {
            try (PointerScope scope = new PointerScope()) {
                Tensor x = torch.randn(1, 4, 3, 6, 6).requires_grad_(true);
                Tensor w = torch.randn(4, 1, 3, 3, 3).requires_grad_(true);
                fast(x, w, 1).sum(); // graph freed with the scope, never backpropagated
            }
        }
        System.gc();
        // each dropped call leaves a small context (addresses and sizes only, no tensor) in the registry
        assertEquals(before + 50, KernelDepthwise.pendingCalls());
        twoCallsInOneGraphGetTheirOwnGradients();
        assertEquals(before + 50, KernelDepthwise.pendingCalls(), "calls that were backpropagated leave the registry");
    }

    @Test
    void anInputChangedInPlaceAfterTheForwardFailsTheBackward() {
        try (PointerScope scope = new PointerScope()) {
            Tensor x = torch.randn(1, 4, 3, 6, 6).requires_grad_(true);
            Tensor w = torch.randn(4, 1, 3, 3, 3).requires_grad_(true);
            Tensor h = x.mul(new org.bytedeco.pytorch.Scalar(2.0)); // a non-leaf input that can be changed in place
            Tensor y = fast(h, w, 1);
            h.add_(new org.bytedeco.pytorch.Scalar(1.0)); // the weight gradient needs h as it was
            assertThrows(RuntimeException.class, () -> backward(y.sum(), false));
        }
    }

    @Test
    void whereTheKernelDoesNotApplyLibTorchRuns() {
        try (PointerScope scope = new PointerScope()) {
            torch.manual_seed(4);
            Tensor x = torch.randn(2, 3, 4, 5, 6).to(torch.ScalarType.Double);
            Tensor w = torch.randn(3, 1, 3, 3, 3).to(torch.ScalarType.Double);
            Tensor got = fast(x, w, 2);
            assertTrue(got.grad_fn() == null || got.grad_fn().isNull() || !got.requires_grad());
            close("float64 fallback", got, ref(x, w, 2));
        }
    }

    @Tag("gpu")
    @Test
    void cudaKernelsMatchConv3dInFloat32AndHalfPrecision() {
        assumeTrue(Kernels.available().cuda(), () -> "CUDA kernels unavailable: " + Kernels.available().cudaReason());
        assumeTrue(torch.cuda_is_available(), "LibTorch has no CUDA (CPU build of the presets)");
        long[][] shapes = {{2, 24, 13, 40, 40, 5, 1}, {2, 54, 13, 40, 40, 3, 2}, {2, 108, 13, 20, 20, 3, 1}, {1, 7, 5, 11, 9, 3, 2}};
        for (long[] s : shapes) {
            for (torch.ScalarType dt : new torch.ScalarType[] {torch.ScalarType.Float, torch.ScalarType.Half, torch.ScalarType.BFloat16}) {
                try (PointerScope scope = new PointerScope()) {
                    torch.manual_seed(5);
                    long kt = s[5];
                    long k = kt == 5 ? 1 : 3;
                    long pad = k / 2;
                    Tensor x0 = torch.randn(s[0], s[1], s[2], s[3], s[4]);
                    Tensor w0 = torch.randn(s[1], 1, kt, k, k);
                    long ho = (s[3] + 2 * pad - k) / s[6] + 1;
                    long wo = (s[4] + 2 * pad - k) / s[6] + 1;
                    Tensor g0 = torch.randn(s[0], s[1], s[2], ho, wo);
                    Tensor[] want = DepthwiseConv3dTest.valueAndGrads(x0, w0, g0, (xi, wi) -> torch.conv3d(xi, wi,
                            new TensorOptional(), DepthwiseConv3dTest.ref(1, s[6], s[6]), DepthwiseConv3dTest.ref(kt / 2, pad, pad),
                            DepthwiseConv3dTest.ref(1, 1, 1), s[1]));
                    Tensor x = x0.to(dt).cuda();
                    Tensor w = w0.to(dt).cuda();
                    assertTrue(KernelDepthwise.applies(x, w));
                    Tensor[] got = DepthwiseConv3dTest.valueAndGrads(x, w, g0.to(dt).cuda(),
                            (xi, wi) -> DepthwiseConv3d.forward(xi, wi, s[6], pad, pad, DepthwiseMode.FAST));
                    double tol = dt == torch.ScalarType.Float ? 1e-5 : dt == torch.ScalarType.Half ? 5e-3 : 3e-2;
                    String what = java.util.Arrays.toString(s) + " " + dt;
                    for (int i = 0; i < 3; i++) {
                        double r = DepthwiseConv3dTest.rel(got[i].to(torch.ScalarType.Float).cpu(), want[i]);
                        assertTrue(r <= tol, what + " part " + i + ": " + r);
                    }
                }
            }
        }
    }
}
