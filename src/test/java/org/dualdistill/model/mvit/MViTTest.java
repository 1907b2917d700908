package org.dualdistill.model.mvit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.StringTensorDictItem;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dualdistill.TestTensors;
import org.dualdistill.internal.torch.TensorBridge;
import org.dualdistill.model.ModelOutput;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * MViTv2-S against PySlowFast: parameter counts, every state_dict name and shape, the per-block geometry, output
 * shapes and determinism on reduced models, input checks and ownership. The full-size model is allocated once for
 * the class (no full-size forward outside the {@code slow} tag).
 */
class MViTTest {
    /** The reference name/shape list (derived from the zoo code; kept in the test resources). */
    static final Path TSV = Path.of(System.getProperty("dualdistill.sourceRoot", "."), "src", "test", "resources",
            "fixtures", "checkpoints", "mvitv2_s_k400_parameters.tsv");

    private static MViT reference;

    /** @return the one full-size MViTv2-S (400 classes) of this class, built on first use */
    static synchronized MViT reference() {
        if (reference == null) {
            reference = MViT.mvitV2S(400);
        }
        return reference;
    }

    @AfterAll
    static synchronized void closeReference() {
        if (reference != null) {
            reference.close();
            reference = null;
        }
    }

    /** depth 4, width 16 -> 32 (block 1) -> 64 (block 3), 8x32x32 clips: a 4x8x8 token grid, 4x2x2 at the end */
    static MViTConfig.Builder small() {
        return MViTConfig.builder().depth(4).embedDim(16).stageStarts(1, 3).numFrames(8).cropSize(32).numClasses(10);
    }

    static Tensor clip(long seed, long b, long t, long h, long w) {
        return TestTensors.randn(seed, 1.0, b * 3 * t, h * w).view(b, 3, t, h, w);
    }

    static Map<String, String> namesAndShapes(MViT m) {
        Map<String, String> out = new TreeMap<>();
        try (PointerScope scope = new PointerScope()) {
            StringTensorDict d = m.module().named_parameters();
            for (long i = 0; i < d.size(); i++) {
                StringTensorDictItem it = d.get(i);
                long[] s = TensorBridge.shape(it.value());
                StringBuilder sb = new StringBuilder();
                for (int j = 0; j < s.length; j++) {
                    sb.append(j == 0 ? "" : ",").append(s[j]);
                }
                out.put(it.key().getString(), sb.toString());
            }
        }
        return out;
    }

    @Test
    void parameterCountsMatchPySlowFast() {
        assertEquals(34_537_744, MViTConfig.mvitV2S(400).parameterCount());
        assertEquals(34_269_363, MViTConfig.mvitV2S(51).parameterCount(), "51 classes, counted without allocating");
        MViT m = reference();
        assertEquals(34_537_744, m.parameterCount());
        assertEquals(397, namesAndShapes(m).size());
        try (MViT a = new MViT(small().build())) {
            assertEquals(a.config().parameterCount(), a.parameterCount(), "analytic count = module count");
        }
    }

    @Test
    void everyNameAndShapeMatchesPySlowFast() throws IOException {
        assertTrue(Files.isRegularFile(TSV), "reference list not found at " + TSV.toAbsolutePath());
        Map<String, String> expected = new TreeMap<>();
        for (String line : Files.readAllLines(TSV)) {
            if (!line.startsWith("#") && !line.startsWith("name\t") && !line.isBlank()) {
                String[] f = line.trim().split("\t");
                expected.put(f[0], f[1]);
            }
        }
        assertEquals(397, expected.size());
        // LibTorch lists a module's own parameters before its children's (cls_token first, rel_pos_* before qkv),
        // PySlowFast's list follows attribute order: compare as sorted maps
        assertEquals(expected, namesAndShapes(reference()));
    }

    @Test
    void blockGeometryFollowsTheReferenceConfig() {
        List<MViTConfig.BlockSpec> b = MViTConfig.mvitV2S(400).blocks();
        assertEquals(16, b.size());
        long[] dims = new long[16];
        long[] heads = new long[16];
        long[] kv = new long[16];
        long[] rel = new long[16];
        List<Integer> skipPooled = new ArrayList<>();
        for (MViTConfig.BlockSpec s : b) {
            dims[s.index()] = s.dimOut();
            heads[s.index()] = s.heads();
            kv[s.index()] = s.kvStride()[1];
            rel[s.index()] = s.relPosSpatialLength();
            assertEquals(1, s.kvStride()[0]);
            assertEquals(s.kvStride()[1], s.kvStride()[2]);
            assertEquals(96, s.headDim());
            assertEquals(15, s.relPosTemporalLength());
            assertTrue(s.poolQ() && s.poolKv(), "kernel (3,3,3) pools q, k and v in every block");
            if (s.poolsSkip()) {
                skipPooled.add(s.index());
            }
        }
        assertArrayEquals(new long[] {96, 192, 192, 384, 384, 384, 384, 384, 384, 384, 384, 384, 384, 384, 768, 768}, dims);
        assertArrayEquals(new long[] {1, 2, 2, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 8, 8}, heads);
        assertArrayEquals(new long[] {8, 4, 4, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1}, kv);
        assertArrayEquals(new long[] {111, 55, 55, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 13}, rel);
        assertEquals(List.of(1, 3, 14), skipPooled);
        assertEquals(0.2, b.get(15).dropPath(), 1e-12);
        assertEquals(0.0, b.get(0).dropPath());
        assertArrayEquals(new long[] {8, 56, 56}, MViTConfig.mvitV2S(400).patchGrid());
        assertArrayEquals(new long[] {1, 768, 8, 7, 7}, reference().featureShape(1));
    }

    @Test
    void reducedModelGivesLogitsEmbeddingAndFeatures() {
        try (MViT m = new MViT(small().build()); PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            m.module().eval();
            ModelOutput out = m.forward(clip(1, 2, 8, 32, 32));
            assertArrayEquals(new long[] {2, 10}, TensorBridge.shape(out.logits()));
            assertArrayEquals(new long[] {2, 64}, TensorBridge.shape(out.embedding()));
            assertArrayEquals(new long[] {2, 64, 4, 2, 2}, TensorBridge.shape(out.features()));
            assertArrayEquals(m.featureShape(2), TensorBridge.shape(out.features()));
            for (Tensor t : new Tensor[] {out.logits(), out.embedding(), out.features()}) {
                assertTrue(torch.isfinite(t).all().item_bool());
            }
            // the embedding is the normalized cls token: LayerNorm with weight 1 and bias 0.02 at initialization
            float[] e = TestTensors.toFloats(out.embedding());
            double mean = 0;
            for (int i = 0; i < 64; i++) {
                mean += e[i] / 64.0;
            }
            assertEquals(0.02, mean, 1e-4);
        }
    }

    @Test
    void evalIsDeterministicAndTrainingIsStochastic() {
        try (MViT m = new MViT(small().build()); PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            Tensor x = clip(2, 2, 8, 32, 32);
            m.module().eval();
            float[] a = TestTensors.toFloats(m.forward(x).logits());
            float[] b = TestTensors.toFloats(m.forward(x).logits());
            assertArrayEquals(a, b, "same input, same logits, bit for bit");
            m.module().train(true);
            torch.manual_seed(3);
            float[] c = TestTensors.toFloats(m.forward(x).logits());
            assertFalse(Arrays.equals(a, c), "head dropout and drop path act in training mode");
            m.module().eval();
            assertArrayEquals(a, TestTensors.toFloats(m.forward(x).logits()), "and only there");
        }
    }

    @Test
    void unevenGridsInterpolateTheRelativePositionTables() {
        // 6x20x20 -> 3x5x5 tokens; kv stride (2,8,8) pools time too. PySlowFast sizes the tables by integer division
        // (block 1: 2 * max(5 / 2, 5 / 4) - 1 = 3 rows) while the pooling convolutions round up (q 3x3, k 2x2 ->
        // 5 rows): the tables are resized by linear interpolation and offsets use non-integer ratios (3 vs 2).
        MViTConfig cfg = small().numFrames(6).cropSize(20).kvStrideAdaptive(2, 8, 8).build();
        assertEquals(3, cfg.blocks().get(1).relPosSpatialLength());
        try (MViT m = new MViT(cfg); PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            m.module().eval();
            ModelOutput out = m.forward(clip(4, 2, 6, 20, 20));
            assertArrayEquals(new long[] {2, 64, 3, 2, 2}, TensorBridge.shape(out.features()));
            assertTrue(torch.isfinite(out.logits()).all().item_bool());
        }
    }

    @Test
    void relativeOffsetsFollowPySlowFast() {
        // equal grids: d(i, j) = i - j + (n - 1)
        assertArrayEquals(new long[] {1, 0, 2, 1}, RelativePosition.offsets(2, 2));
        // 4 queries vs 2 keys: keys stretched by 2, d = i - 2j + 2
        assertArrayEquals(new long[] {2, 0, 3, 1, 4, 2, 5, 3}, RelativePosition.offsets(4, 2));
        // 2 queries vs 3 keys: queries stretched by 1.5, d = trunc(1.5 i - j + 2)
        assertArrayEquals(new long[] {2, 1, 0, 3, 2, 1}, RelativePosition.offsets(2, 3));
    }

    @Test
    void wrongInputIsRejectedWithExpectedAndActual() {
        try (MViT m = new MViT(small().build()); PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.forward(clip(5, 2, 8, 32, 28)));
            assertTrue(e.getMessage().contains("expected [B, 3, 8, 32, 32]"), e.getMessage());
            assertTrue(e.getMessage().contains("got [2, 3, 8, 32, 28]"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> m.forward(clip(5, 2, 16, 32, 32)));
            assertTrue(e.getMessage().contains("got [2, 3, 16, 32, 32]"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> m.forward(clip(5, 2, 8, 32, 32).to(ScalarType.Double)));
            assertTrue(e.getMessage().contains("expected dtype Float"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> m.forward(null));
        }
    }

    @Test
    void theReferenceModelRejectsAnyOtherClipSize() {
        MViT m = reference();
        try (PointerScope scope = new PointerScope()) {
            // a tiny tensor with the wrong geometry: rejected before any computation
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.forward(clip(6, 1, 8, 32, 32)));
            assertTrue(e.getMessage().contains("expected [B, 3, 16, 224, 224]"), e.getMessage());
            assertTrue(e.getMessage().contains("got [1, 3, 8, 32, 32]"), e.getMessage());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> MViTConfig.builder().cropSize(226).build());
        assertTrue(e.getMessage().contains("patch embedding"), e.getMessage());
    }

    @Test
    void gradientsReachEveryParameter() {
        try (MViT m = new MViT(small().dropPathRate(0).build()); PointerScope scope = new PointerScope()) {
            m.module().train(true);
            ModelOutput out = m.forward(clip(7, 2, 8, 32, 32));
            out.logits().mul(TestTensors.randn(8, 1.0, 2, 10)).sum().add(out.features().mean()).backward();
            StringTensorDict d = m.module().named_parameters();
            for (long i = 0; i < d.size(); i++) {
                String name = d.get(i).key().getString();
                Tensor grad = d.get(i).value().grad();
                assertTrue(grad.defined(), name + " has a gradient");
                // a bias shared by all keys shifts every logit of a row equally: softmax cancels it
                if (!name.endsWith("norm_k.bias")) {
                    assertTrue(TestTensors.maxAbs(TestTensors.toFloats(grad)) > 0, name + " gradient is zero");
                }
            }
        }
    }

    @Test
    void ownershipOutlivesScopesAndCloseIsFinal() {
        MViT built;
        try (PointerScope scope = new PointerScope()) {
            built = new MViT(small().build()); // built inside a scope that closes before use
        }
        MViT m = built;
        try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            m.module().eval();
            assertEquals(m.config().parameterCount(), m.parameterCount());
            Tensor x = clip(9, 1, 8, 32, 32);
            m.forward(x);
            long before = Pointer.totalCount();
            for (int i = 0; i < 3; i++) {
                try (PointerScope call = new PointerScope()) {
                    m.forward(x);
                }
            }
            // totalCount is process-wide: the GC may free other tests' handles meanwhile, so it can only fall here;
            // a forward that leaked handles would make it grow
            long after = Pointer.totalCount();
            assertTrue(after <= before, "every handle a forward makes is released with its scope: " + before + " -> " + after);
        }
        m.close();
        m.close();
        assertThrows(IllegalStateException.class, m::module);
        assertThrows(IllegalStateException.class, () -> m.forward(null));
    }

    /** One eval forward of the full model at 16x224x224, batch 1 (about 64 GMAC): timed and printed. */
    @Test
    @Tag("slow")
    void fullSizeForwardAtBatchOne() {
        MViT m = reference();
        try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            m.module().eval();
            Tensor x = clip(10, 1, 16, 224, 224);
            ModelOutput warm = m.forward(x);
            assertArrayEquals(new long[] {1, 400}, TensorBridge.shape(warm.logits()));
            assertArrayEquals(new long[] {1, 768}, TensorBridge.shape(warm.embedding()));
            assertArrayEquals(new long[] {1, 768, 8, 7, 7}, TensorBridge.shape(warm.features()));
            int runs = 3;
            long best = Long.MAX_VALUE;
            for (int i = 0; i < runs; i++) {
                try (PointerScope call = new PointerScope()) {
                    long t0 = System.nanoTime();
                    ModelOutput out = m.forward(x);
                    out.logits().sum().item_float(); // results are ready once read
                    best = Math.min(best, System.nanoTime() - t0);
                }
            }
            System.out.printf("MViTv2-S 16x224x224 eval forward, batch 1, %d intra-op threads: best of %d = %.2f s%n",
                    torch.get_num_threads(), runs, best / 1e9);
        }
    }

    @Test
    void gmacsMatchThePublishedFigure() {
        // PySlowFast reports 64.5 GFLOPs (fvcore MACs) per 16x224x224 view for MViTv2-S
        double g = MViTConfig.mvitV2S(400).gmacs();
        org.junit.jupiter.api.Assertions.assertEquals(64.5, g, 2.5, "MViTv2-S GMACs " + g);
    }
}
