package org.dualdistill.model.x3d;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.InferenceMode;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.internal.torch.TensorBridge;
import org.dualdistill.internal.torch.TorchRuntime;
import org.dualdistill.model.ModelOutput;
import org.junit.jupiter.api.Test;

/**
 * The folded channels-last eval route ({@link FoldedEval}, taken by FAST and AUTO in eval without grad) against the
 * module path (TORCH) on the same parameters. Both float32 routes are judged against the module path in float64:
 * the folded route must be as close to it as LibTorch's own float32 network is (at most 4x its error, or 1e-5 of
 * the output's scale). BN statistics and affine parameters are randomized, so the folding is exercised (a fresh BN
 * is the identity).
 */
class FoldedEvalTest {
    static {
        TorchRuntime.init();
    }

    /** Random BN statistics and affine parameters, and non-zero SE biases, so that every fold matters. */
    static void randomizeNorms(X3d m, long seed) {
        try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            torch.manual_seed(seed);
            StringTensorDict buffers = m.module().named_buffers();
            for (long i = 0; i < buffers.size(); i++) {
                String k = buffers.get(i).key().getString();
                Tensor b = buffers.get(i).value();
                if (k.endsWith("running_mean")) {
                    b.copy_(torch.randn(b.size(0)).mul(new Scalar(0.2)));
                } else if (k.endsWith("running_var")) {
                    b.copy_(torch.rand(b.size(0)).add(new Scalar(0.5)));
                }
            }
            StringTensorDict params = m.module().named_parameters();
            for (long i = 0; i < params.size(); i++) {
                String k = params.get(i).key().getString();
                Tensor p = params.get(i).value();
                if (p.dim() == 1 && (k.contains("norm") || k.contains("block"))) {
                    boolean scale = k.endsWith("weight");
                    p.copy_(torch.randn(p.size(0)).mul(new Scalar(0.2)).add(new Scalar(scale ? 1.0 : 0.0)));
                }
            }
        }
    }

    /** X3D-XS at width 1.0, 5 classes, weights from {@code seed}, norms randomized from {@code seed + 1}. */
    static X3d xs(long seed) {
        torch.manual_seed(seed);
        X3d m = X3d.builder().preset(X3d.Preset.XS).numClasses(5).widthFactor(1.0).build();
        randomizeNorms(m, seed + 1);
        return m;
    }

    static double err(Tensor a, Tensor ref) {
        double scale = Math.max(ref.abs().max().item_double(), 1e-30);
        return a.to(torch.ScalarType.Double).sub(ref).abs().max().item_double() / scale;
    }

    static ModelOutput eval(X3d m, Tensor clip, DepthwiseMode mode) {
        m.depthwiseMode(mode);
        try (NoGradGuard g = new NoGradGuard()) {
            ModelOutput o = m.forward(clip);
            return new ModelOutput(o.logits().clone(), o.embedding().clone(), o.features().clone());
        }
    }

    /** FAST's folded eval and TORCH in float32, each against TORCH in float64 on a copy of the same model. */
    static void check(X3d m, Tensor clip, DepthwiseMode mode) {
        m.module().eval();
        long forwardsBefore = m.foldedEvalCounts()[2];
        ModelOutput fast = eval(m, clip, mode);
        assertEquals(forwardsBefore + 1, m.foldedEvalCounts()[2], "the folded route ran");
        ModelOutput ref32 = eval(m, clip, DepthwiseMode.TORCH);
        m.module().to(torch.ScalarType.Double, false);
        ModelOutput ref64 = eval(m, clip.to(torch.ScalarType.Double), DepthwiseMode.TORCH);
        m.module().to(torch.ScalarType.Float, false);
        assertArrayEquals(TensorBridge.shape(ref32.features()), TensorBridge.shape(fast.features()));
        assertTrue(fast.features().is_contiguous(), "res5 map leaves as contiguous NCDHW");
        String[] names = {"logits", "embedding", "features"};
        Tensor[] f = {fast.logits(), fast.embedding(), fast.features()};
        Tensor[] t = {ref32.logits(), ref32.embedding(), ref32.features()};
        Tensor[] d = {ref64.logits(), ref64.embedding(), ref64.features()};
        for (int i = 0; i < 3; i++) {
            assertArrayEquals(TensorBridge.shape(t[i]), TensorBridge.shape(f[i]), names[i]);
            double errFast = err(f[i], d[i]);
            double errTorch = err(t[i], d[i]);
            assertTrue(errFast <= Math.max(4 * errTorch, 1e-5), names[i] + ": folded " + errFast + ", LibTorch float32 "
                    + errTorch + " (relative to float64 " + TensorBridge.shapeString(d[i]) + ")");
        }
    }

    /** The folded route against the module path in float32 on the same model (no dtype round trip, which would
     * give the parameters new storage and so rebuild the cache). */
    static void closeToTorch(X3d m, Tensor clip) {
        m.module().eval();
        long forwardsBefore = m.foldedEvalCounts()[2];
        Tensor fast = eval(m, clip, DepthwiseMode.FAST).logits();
        assertEquals(forwardsBefore + 1, m.foldedEvalCounts()[2], "the folded route ran");
        Tensor ref = eval(m, clip, DepthwiseMode.TORCH).logits();
        double e = err(fast, ref.to(torch.ScalarType.Double));
        assertTrue(e < 1e-4, "folded vs module path, float32: " + e);
    }

    @Test
    void x3dSAtItsCanonicalViewMatchesTheModulePath() {
        torch.manual_seed(1);
        try (X3d m = X3d.builder().preset(X3d.Preset.S).numClasses(51).build(); PointerScope scope = new PointerScope()) {
            randomizeNorms(m, 2);
            check(m, torch.randn(1, 3, 13, 160, 160), DepthwiseMode.FAST);
            assertEquals(1, m.foldedEvalCounts()[0]);
        }
    }

    @Test
    void oddSizesBatchesNonContiguousClipsAndAutoMatch() {
        torch.manual_seed(3);
        try (X3d m = X3d.builder().preset(X3d.Preset.S).numClasses(7).widthFactor(1.0).build();
             PointerScope scope = new PointerScope()) {
            randomizeNorms(m, 4);
            check(m, torch.randn(3, 3, 5, 45, 61), DepthwiseMode.FAST);
            check(m, torch.randn(1, 3, 1, 32, 33), DepthwiseMode.AUTO);
            // every other frame and a transposed spatial layout: strided in T, H and W
            Tensor big = torch.randn(2, 3, 10, 40, 36);
            Tensor strided = big.slice(2, new org.bytedeco.pytorch.LongOptional(0), new org.bytedeco.pytorch.LongOptional(10), 2)
                    .transpose(3, 4);
            assertFalse(strided.is_contiguous());
            check(m, strided, DepthwiseMode.FAST);
        }
    }

    @Test
    void withoutSqueezeExcitationAndWithTwoHeads() {
        torch.manual_seed(5);
        try (X3d noSe = X3d.builder().preset(X3d.Preset.XS).numClasses(5).widthFactor(1.0).seRatio(0).build();
             X3d epic = X3d.builder().preset(X3d.Preset.XS).heads(4, 6).widthFactor(1.0).depthFactor(1.0).build();
             PointerScope scope = new PointerScope()) {
            randomizeNorms(noSe, 6);
            randomizeNorms(epic, 7);
            check(noSe, torch.randn(2, 3, 4, 64, 64), DepthwiseMode.FAST);
            check(epic, torch.randn(2, 3, 4, 64, 64), DepthwiseMode.FAST);
            assertEquals(10, epic.forward(torch.randn(1, 3, 4, 64, 64)).logits().size(1));
        }
    }

    @Test
    void theCacheFollowsInPlaceUpdatesAndBatchNormStatistics() {
        try (X3d m = xs(9); PointerScope scope = new PointerScope()) {
            Tensor clip = torch.randn(2, 3, 4, 64, 64);
            closeToTorch(m, clip);
            closeToTorch(m, torch.randn(1, 3, 3, 48, 40));
            assertEquals(1, m.foldedEvalCounts()[0], "later forwards, of any shape, reuse the weights");
            // an in-place change (what an optimizer step or a state_dict load does) to one conv_b
            try (NoGradGuard g = new NoGradGuard()) {
                m.module().named_parameters().get("blocks.2.res_blocks.0.branch2.conv_b.weight").mul_(new Scalar(-1.5));
            }
            closeToTorch(m, clip);
            assertEquals(2, m.foldedEvalCounts()[0], "rebuilt once");
            assertEquals(1, m.foldedEvalCounts()[1], "the old weights freed");
            // a train-mode forward moves the BN running statistics
            m.module().train(true);
            try (NoGradGuard g = new NoGradGuard()) {
                m.forward(torch.randn(2, 3, 4, 64, 64));
            }
            assertEquals(2, m.foldedEvalCounts()[0], "train mode does not take the folded route");
            closeToTorch(m, clip);
            assertEquals(3, m.foldedEvalCounts()[0]);
            assertEquals(1, m.foldedEvalCounts()[1]);
        }
    }

    @Test
    void gradModeTorchModeAndInferenceMode() {
        try (X3d m = xs(11); PointerScope scope = new PointerScope()) {
            m.module().eval();
            Tensor clip = torch.randn(1, 3, 4, 64, 64);
            ModelOutput withGrad = m.forward(clip);
            assertTrue(withGrad.logits().requires_grad(), "grad mode on: the module path, differentiable");
            m.depthwiseMode(DepthwiseMode.TORCH);
            try (NoGradGuard g = new NoGradGuard()) {
                m.forward(clip);
            }
            assertEquals(0, m.foldedEvalCounts()[0], "neither grad mode nor TORCH takes the folded route");
            m.depthwiseMode(DepthwiseMode.AUTO);
            Tensor inInference;
            try (InferenceMode g = new InferenceMode()) {
                inInference = m.forward(clip).logits().clone();
            }
            assertEquals(1, m.foldedEvalCounts()[0]);
            Tensor noGrad = eval(m, clip, DepthwiseMode.AUTO).logits();
            assertEquals(1, m.foldedEvalCounts()[0], "weights built under InferenceMode serve NoGradGuard too");
            assertEquals(0.0, inInference.sub(noGrad).abs().max().item_double(), 0.0);
            assertTrue(err(noGrad, withGrad.logits().detach().to(torch.ScalarType.Double)) < 1e-4);
        }
    }

    /**
     * A teacher's eval forward inside a CPU bf16 autocast training step: the module path, in bf16 as autocast makes
     * it (the folded route's float32 kernel would otherwise get bf16 activations).
     */
    @Test
    void cpuAutocastTakesTheModulePath() {
        try (X3d m = xs(15); PointerScope scope = new PointerScope()) {
            m.module().eval();
            Tensor clip = torch.randn(2, 3, 4, 64, 64);
            Tensor[] logits = new Tensor[2];
            DepthwiseMode[] modes = {DepthwiseMode.AUTO, DepthwiseMode.TORCH};
            torch.set_autocast_dtype(torch.DeviceType.CPU, torch.ScalarType.BFloat16);
            torch.set_autocast_enabled(torch.DeviceType.CPU, true);
            try {
                for (int i = 0; i < 2; i++) {
                    m.depthwiseMode(modes[i]);
                    try (NoGradGuard g = new NoGradGuard()) {
                        logits[i] = m.forward(clip).logits().to(torch.ScalarType.Double);
                    }
                }
            } finally {
                torch.set_autocast_enabled(torch.DeviceType.CPU, false);
            }
            assertEquals(0, m.foldedEvalCounts()[2], "no folded forward under autocast");
            assertTrue(err(logits[0], logits[1]) < 0.05, "AUTO vs TORCH under bf16 autocast: " + err(logits[0], logits[1]));
            Tensor fp32 = eval(m, clip, DepthwiseMode.AUTO).logits();
            assertEquals(1, m.foldedEvalCounts()[2], "autocast off: the folded route again");
            assertTrue(err(logits[0], fp32.to(torch.ScalarType.Double)) > 0, "autocast was applied");
        }
    }

    @Test
    void concurrentForwardsShareOneWeightSet() throws Exception {
        X3d m = xs(13);
        try (m; PointerScope scope = new PointerScope()) {
            m.module().eval();
            Tensor clip = torch.randn(1, 3, 4, 64, 64);
            Tensor want = eval(m, clip, DepthwiseMode.FAST).logits();
            float[] wantValues = TensorBridge.toFloats(want);
            ExecutorService pool = Executors.newFixedThreadPool(3);
            try {
                java.util.List<Future<float[]>> got = new java.util.ArrayList<>();
                for (int i = 0; i < 6; i++) {
                    got.add(pool.submit(() -> {
                        try (PointerScope s = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
                            return TensorBridge.toFloats(m.forward(clip).logits());
                        }
                    }));
                }
                for (Future<float[]> f : got) {
                    assertArrayEquals(wantValues, f.get());
                }
            } finally {
                pool.shutdownNow();
            }
            assertEquals(1, m.foldedEvalCounts()[0]);
            assertEquals(7, m.foldedEvalCounts()[2]);
        }
        assertEquals(0, m.foldedEvalCounts()[1], "closing the model frees the folded weights");
    }
}
