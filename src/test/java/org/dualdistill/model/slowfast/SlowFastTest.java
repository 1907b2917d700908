package org.dualdistill.model.slowfast;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.dualdistill.TestTensors;
import org.dualdistill.internal.torch.TensorBridge;
import org.dualdistill.model.ModelOutput;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * SlowFast-R50 8x8 against pytorchvideo's {@code create_slowfast}: every parameter name and shape in order (the list
 * {@code reference/slowfast_r50_k400_parameters.tsv} written by {@code native/dev/slowfast_ref.py lists}), the count,
 * output shapes, input checks and the GMACs of the canonical view.
 */
class SlowFastTest {
    static final long R50_K400_PARAMETERS = 34_566_488L;

    static Path resource(String name) throws Exception {
        return Path.of(SlowFastTest.class.getResource("/" + name).toURI());
    }

    /** @return "name\tshape" lines of a TSV, comments and header skipped */
    static List<String> tsv(String name) throws Exception {
        List<String> out = new ArrayList<>();
        for (String line : Files.readAllLines(resource(name))) {
            if (!line.startsWith("#") && !line.startsWith("name\t") && !line.isBlank()) {
                out.add(line.trim());
            }
        }
        return out;
    }

    static String shape(Tensor t) {
        long[] s = TensorBridge.shape(t);
        StringBuilder sb = new StringBuilder();
        for (int j = 0; j < s.length; j++) {
            sb.append(j == 0 ? "" : ",").append(s[j]);
        }
        return sb.toString();
    }

    static Map<String, String> named(StringTensorDict d) {
        Map<String, String> out = new LinkedHashMap<>();
        for (long i = 0; i < d.size(); i++) {
            out.put(d.get(i).key().getString(), shape(d.get(i).value()));
        }
        return out;
    }

    /** @return "name\tshape" of every parameter, in module order */
    static List<String> parameters(SlowFast m) {
        try (PointerScope scope = new PointerScope()) {
            List<String> out = new ArrayList<>();
            named(m.module().named_parameters()).forEach((k, v) -> out.add(k + "\t" + v));
            return out;
        }
    }

    /** @return name -> shape of every parameter and buffer (the state_dict) */
    static Map<String, String> stateDict(SlowFast m) {
        try (PointerScope scope = new PointerScope()) {
            Map<String, String> out = named(m.module().named_parameters());
            out.putAll(named(m.module().named_buffers()));
            return out;
        }
    }

    @Test
    void everyNameAndShapeMatchesPytorchvideo() throws Exception {
        List<String> expected = tsv("reference/slowfast_r50_k400_parameters.tsv");
        assertEquals(332, expected.size());
        try (SlowFast m = SlowFast.r50(400)) {
            assertEquals(expected, parameters(m));
            assertEquals(R50_K400_PARAMETERS, m.parameterCount());
            assertTrue(Files.readAllLines(resource("reference/slowfast_r50_k400_parameters.tsv")).get(0)
                    .contains(R50_K400_PARAMETERS + " parameters"), "the TSV's header states the same count");
            // BN buffers: running_mean, running_var, num_batches_tracked for each of the 110 norms
            assertEquals(332 + 330, stateDict(m).size());
        }
    }

    @Test
    void headSizeFollowsTheClassCount() {
        try (SlowFast m = SlowFast.r50(51)) {
            assertEquals(R50_K400_PARAMETERS - 2304L * 400 - 400 + 2304L * 51 + 51, m.parameterCount());
            assertEquals(51, m.numClasses());
            assertTrue(parameters(m).contains("blocks.6.proj.weight\t51,2304"));
        }
    }

    @Test
    void slowPathwayIsPackPathwaysLinspaceOfTheWindow() {
        try (PointerScope scope = new PointerScope()) {
            Tensor i32 = SlowFast.slowFrameIndices(32, 4);
            long[] got = new long[(int) i32.size(0)];
            for (int i = 0; i < got.length; i++) {
                got[i] = i32.get(i).item_long();
            }
            // torch.linspace(0, 31, 8).long(), as PySlowFast's and pytorchvideo's PackPathway compute it
            assertArrayEquals(new long[] {0, 4, 8, 13, 17, 22, 26, 31}, got);
            Tensor i8 = SlowFast.slowFrameIndices(8, 4);
            assertEquals(2, i8.size(0));
            assertEquals(7, i8.get(1).item_long());
        }
    }

    @Test
    void r50GivesBothPathwaysAndTheConcatenatedTapOnASmallView() {
        // built for 8 frames at 64 (head pool (2,2,2)/(8,2,2)): about 1 GMAC, affordable on the CPU
        try (SlowFast m = SlowFast.builder().numClasses(7).frames(8).crop(64).build();
             PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            m.module().eval();
            Tensor clip = TestTensors.randn(5, 1.0, 3 * 8, 64 * 64).view(1, 3, 8, 64, 64);
            SlowFast.Taps taps = m.forwardTaps(clip);
            ModelOutput out = taps.output();
            assertArrayEquals(new long[] {1, 7}, TensorBridge.shape(out.logits()));
            assertArrayEquals(new long[] {1, 2304}, TensorBridge.shape(out.embedding()));
            assertArrayEquals(new long[] {1, 2304, 2, 2, 2}, TensorBridge.shape(out.features()));
            assertArrayEquals(new long[] {1, 2048, 2, 2, 2}, TensorBridge.shape(taps.slowRes5()));
            assertArrayEquals(new long[] {1, 256, 8, 2, 2}, TensorBridge.shape(taps.fastRes5()));
            // at the build's own view the head pool covers the whole map: embedding = global mean of the tap
            float[] mean = TestTensors.toFloats(out.features().mean(new long[] {2, 3, 4}).contiguous());
            float[] emb = TestTensors.toFloats(out.embedding().contiguous());
            assertTrue(TestTensors.maxAbsDiff(mean, emb) < 1e-5 * Math.max(1, TestTensors.maxAbs(emb)));
            // eval is deterministic
            assertArrayEquals(TestTensors.toFloats(out.logits()), TestTensors.toFloats(m.forward(clip).logits()));
        }
    }

    @Test
    void badClipsGetClearErrors() {
        try (SlowFast m = SlowFast.builder().width(8).numClasses(3).frames(8).crop(32).build();
             PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> m.forward(TestTensors.randn(1, 1.0, 3 * 6, 32 * 32).view(1, 3, 6, 32, 32)));
            assertTrue(e.getMessage().contains("multiple of alpha = 4"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> m.forward(TestTensors.randn(1, 1.0, 3 * 4, 32 * 32).view(1, 3, 4, 32, 32)));
            assertTrue(e.getMessage().contains("smaller than the head's pool kernels"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> m.forward(TestTensors.randn(1, 1.0, 8, 32 * 32).view(1, 1, 8, 32, 32)));
            assertTrue(e.getMessage().contains("expected the fast pathway [B, 3, T, H, W]"), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> SlowFast.builder().depth(34).build());
        assertThrows(IllegalArgumentException.class, () -> SlowFast.builder().frames(30).build());
        SlowFast closed = SlowFast.builder().width(8).frames(8).crop(32).build();
        closed.close();
        closed.close();
        assertThrows(IllegalStateException.class, closed::module);
    }

    @Test
    void gmacsOfTheCanonicalViewMatchTheHookCountAndPySlowFastsTable() {
        // native/dev/slowfast_ref.py gmacs: forward hooks on every Conv3d and Linear of a real forward pass count
        // 50,308,583,424 MACs at 32x224x224 and 65,711,652,864 at 32x256x256; PySlowFast's model zoo lists
        // SLOWFAST_8x8_R50 at 65.71 GFLOPs (= MACs), which is its 256 test crop
        assertEquals(50.308583424, SlowFast.canonicalGmacs(), 1e-9);
        assertEquals(65.711652864, SlowFast.canonicalTestGmacs(), 1e-9);
        assertEquals(65.71, SlowFast.canonicalTestGmacs(), 0.01);
        assertEquals(SlowFast.CANONICAL_VIEW.slowFrames(), 8);
        try (SlowFast m = SlowFast.r50(400)) {
            assertEquals(SlowFast.canonicalGmacs(), m.gmacs(), 0);
        }
        assertTrue(SlowFast.CANONICAL_VIEW.describe().contains("32 frames at stride 2"), SlowFast.CANONICAL_VIEW.describe());
    }

    @Tag("slow")
    @Test
    void canonicalViewGivesItsShapes() {
        try (SlowFast m = SlowFast.r50(400); PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            m.module().eval();
            Tensor clip = TestTensors.randn(9, 1.0, 3 * 32, 224 * 224).view(1, 3, 32, 224, 224);
            SlowFast.Taps taps = m.forwardTaps(clip);
            assertArrayEquals(new long[] {1, 400}, TensorBridge.shape(taps.output().logits()));
            assertArrayEquals(new long[] {1, 2304, 8, 7, 7}, TensorBridge.shape(taps.output().features()));
            assertArrayEquals(new long[] {1, 2048, 8, 7, 7}, TensorBridge.shape(taps.slowRes5()));
            assertArrayEquals(new long[] {1, 256, 32, 7, 7}, TensorBridge.shape(taps.fastRes5()));
        }
    }
}
