package org.dualdistill.model.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.dualdistill.TestTensors;
import org.dualdistill.model.Pretrained;
import org.dualdistill.model.mvit.MViT;
import org.dualdistill.model.mvit.MViTConfig;
import org.dualdistill.model.mvit.MViTKeys;
import org.dualdistill.model.x3d.X3d;
import org.dualdistill.model.x3d.X3dKeys;
import org.junit.jupiter.api.Test;

/**
 * Key maps and load reports against PyTorch-made files: PySlowFast's X3D names give Python's logits, torchvision's
 * MViT names give the same weights as our names, the full-size maps fit the full name/shape lists, strict loads name
 * what does not fit and load nothing, and the fine-tuning init re-initializes exactly the classifier.
 */
class WeightsTest {
    static X3d small(long classes) {
        return X3d.builder().widthFactor(0.5).depthFactor(0.4).headDimOut(32).numClasses(classes).clipLength(4).crop(32).build();
    }

    static MViT mvitTiny(long classes) {
        return new MViT(MViTConfig.builder().depth(2).embedDim(16).numHeads(1).stageStarts(1).numFrames(8).cropSize(32)
                .numClasses(classes).dropPathRate(0).build());
    }

    static Map<String, String> checksums(org.bytedeco.pytorch.Module m) {
        Map<String, Tensor> t = new LinkedHashMap<>();
        try (PointerScope s = new PointerScope()) {
            Weights.collect(m.named_parameters(), t);
            Weights.collect(m.named_buffers(), t);
            Map<String, String> out = new LinkedHashMap<>();
            t.forEach((k, v) -> out.put(k, Weights.checksum(v)));
            return out;
        }
    }

    @Test
    void x3dUnderPySlowFastNamesGivesPythonsLogits() throws Exception {
        JsonNode want = new ObjectMapper().readTree(TorchFileTest.fixture("x3d_small_expected.json").toFile());
        try (X3d m = small(5); PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            WeightReport r = Pretrained.load(m, TorchFileTest.fixture("x3d_small_pyslowfast.pyth"), Zoo.PYSLOWFAST,
                    Weights.Mode.STRICT);
            assertTrue(r.clean(), r.summary());
            assertEquals(checksums(m.module()).size(), r.loaded().size());
            m.module().eval();
            int n = 3 * 4 * 32 * 32;
            float[] x = new float[n];
            for (int i = 0; i < n; i++) {
                x[i] = (float) Math.sin(i * 0.37);
            }
            float[] got = TestTensors.toFloats(m.forward(TestTensors.floats(x, 1, 3, 4, 32, 32)).logits());
            assertEquals(5, got.length);
            for (int i = 0; i < 5; i++) {
                assertEquals(want.get("logits").get(i).asDouble(), got[i], 1e-5, "logit " + i);
            }
        }
    }

    @Test
    void mvitUnderTorchvisionNamesEqualsOurNames() throws Exception {
        try (MViT a = mvitTiny(4); MViT b = mvitTiny(4); PointerScope scope = new PointerScope()) {
            WeightReport r = Pretrained.load(a, TorchFileTest.fixture("mvit_tiny_torchvision.pth"), Zoo.TORCHVISION,
                    Weights.Mode.STRICT);
            assertTrue(r.clean(), r.summary());
            Path ours = Path.of(WeightsTest.class.getResource("/fixtures/mvit_tiny.safetensors").toURI());
            assertTrue(Weights.load(b.module(), ours, KeyMap.IDENTITY, Weights.Mode.STRICT, Set.of()).clean());
            assertEquals(checksums(b.module()), checksums(a.module())); // cls_token [C] -> [1, 1, C] included
            // pytorchvideo has no MViTv2
            assertThrows(IllegalArgumentException.class, () -> a.keyMap(Zoo.PYTORCHVIDEO));
        }
    }

    record Tsv(Map<String, long[]> shapes) {
    }

    static Map<String, long[]> tsv(String name) throws Exception {
        Map<String, long[]> out = new LinkedHashMap<>();
        for (String line : Files.readAllLines(TorchFileTest.fixture(name))) {
            if (line.startsWith("#") || line.startsWith("name\t") || line.isBlank()) {
                continue;
            }
            String[] p = line.split("\t");
            String[] d = p[1].split(",");
            long[] s = new long[d.length];
            for (int i = 0; i < d.length; i++) {
                s[i] = Long.parseLong(d[i]);
            }
            out.put(p[0], s);
        }
        return out;
    }

    @Test
    void fullSizeMapsFitTheFullNameLists() throws Exception {
        // torchvision's mvit_v2_s (listed from Debian torchvision 0.14) -> PySlowFast's MViTv2-S list, shapes included
        Map<String, long[]> tv = tsv("torchvision_mvit_v2_s_parameters.tsv");
        Map<String, long[]> psf = tsv("mvitv2_s_k400_parameters.tsv");
        KeyMap fromTv = MViTKeys.from(Zoo.TORCHVISION);
        Map<String, long[]> mapped = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : tv.entrySet()) {
            String n = fromTv.toModel(e.getKey());
            assertNotNull(n, e.getKey());
            assertEquals(e.getKey(), MViTKeys.toTorchvision(n), "round trip of " + e.getKey());
            mapped.put(n, fromTv.modelShape(n, e.getValue()));
        }
        assertEquals(psf.keySet(), mapped.keySet());
        for (String n : psf.keySet()) {
            assertArrayEquals(psf.get(n), mapped.get(n), n);
        }
        assertEquals(397, tv.size());
        // X3D-S: every pytorchvideo name has a PySlowFast name and back, all distinct; the model's buffers too
        Map<String, long[]> x3d = tsv("x3d_s_k400_parameters.tsv");
        assertEquals(314, x3d.size());
        try (X3d m = X3d.preset(X3d.Preset.S, 400)) {
            Set<String> names = checksums(m.module()).keySet();
            assertTrue(names.containsAll(x3d.keySet()));
            Set<String> psfNames = new HashSet<>();
            for (String n : names) {
                String p = X3dKeys.toPySlowFast(n);
                assertNotNull(p, n);
                assertTrue(p.matches("(s1\\.pathway0_stem|s[2-5]\\.pathway0_res\\d+|head)\\..+"), p);
                assertEquals(n, X3dKeys.fromPySlowFast(p), "round trip of " + n);
                assertEquals(n, X3dKeys.fromPySlowFast("module." + p), "DataParallel prefix");
                assertTrue(psfNames.add(p), "duplicate " + p);
            }
            assertEquals("s1.pathway0_stem.conv_xy.weight", X3dKeys.toPySlowFast("blocks.0.conv.conv_t.weight"));
            assertEquals("head.projection.weight", X3dKeys.toPySlowFast("blocks.5.proj.weight"));
        }
    }

    @Test
    void strictNamesWhatDoesNotFitAndLoadsNothing() throws Exception {
        Path f = TorchFileTest.fixture("x3d_small_pyslowfast.pyth");
        try (X3d m = small(7); PointerScope scope = new PointerScope()) {
            Map<String, String> before = checksums(m.module());
            WeightLoadException e = assertThrows(WeightLoadException.class,
                    () -> Pretrained.load(m, f, Zoo.PYSLOWFAST, Weights.Mode.STRICT));
            assertTrue(e.getMessage().contains("x3d_small_pyslowfast.pyth") && e.getMessage().contains("blocks.5.proj.weight")
                    && e.getMessage().contains("nothing was loaded"), e.getMessage());
            assertEquals(before, checksums(m.module()), "a failed strict load changed the model");
            // the wrong zoo: every key unexpected, every tensor missing
            WeightLoadException z = assertThrows(WeightLoadException.class,
                    () -> Pretrained.load(m, f, Zoo.PYTORCHVIDEO, Weights.Mode.STRICT));
            assertTrue(z.getMessage().contains("s1.pathway0_stem.conv_xy.weight"), z.getMessage());
            assertEquals(before, checksums(m.module()));
            // non-strict: loads the rest, reports the head as shape-mismatched
            WeightReport r = Pretrained.load(m, f, Zoo.PYSLOWFAST, Weights.Mode.NON_STRICT);
            assertEquals(List.of("blocks.5.proj.weight: file [5, 32] vs model [7, 32]", "blocks.5.proj.bias: file [5] vs model [7]"),
                    r.mismatched());
            assertTrue(r.missing().isEmpty() && r.unexpected().isEmpty(), r.summary());
            assertEquals(before.size() - 2, r.loaded().size());
            assertTrue(r.summary().contains("shape-mismatched 2"), r.summary());
            Map<String, String> after = checksums(m.module());
            assertEquals(before.get("blocks.5.proj.weight"), after.get("blocks.5.proj.weight"));
            assertNotEquals(before.get("blocks.1.res_blocks.0.branch2.conv_a.weight"),
                    after.get("blocks.1.res_blocks.0.branch2.conv_a.weight"));
        }
    }

    @Test
    void fineTuningInitReinitializesExactlyTheClassifier() throws Exception {
        Path f = TorchFileTest.fixture("x3d_small_pyslowfast.pyth");
        try (X3d ref = small(5); X3d m = small(3); X3d same = small(5); PointerScope scope = new PointerScope()) {
            Pretrained.load(ref, f, Zoo.PYSLOWFAST, Weights.Mode.STRICT);
            Map<String, String> want = checksums(ref.module());
            Map<String, String> headBefore = checksums(m.module());
            WeightReport r = Pretrained.init(m, f, Zoo.PYSLOWFAST);
            assertEquals(List.of("blocks.5.proj.weight", "blocks.5.proj.bias"), r.reinitialized());
            assertEquals(want.size() - 2, r.loaded().size());
            assertTrue(r.summary().contains("re-initialized 2"), r.summary());
            Map<String, String> got = checksums(m.module());
            for (String n : want.keySet()) {
                if (!n.startsWith("blocks.5.proj.")) {
                    assertEquals(want.get(n), got.get(n), n);
                }
            }
            assertNotEquals(headBefore.get("blocks.5.proj.weight"), got.get("blocks.5.proj.weight"), "head not re-initialized");
            // same class count: the head comes from the file, nothing re-initialized
            WeightReport s = Pretrained.init(same, f, Zoo.PYSLOWFAST);
            assertTrue(s.reinitialized().isEmpty() && s.clean(), s.summary());
            assertEquals(want, checksums(same.module()));
        }
        try (MViT v = mvitTiny(7); PointerScope scope = new PointerScope()) {
            WeightReport r = Pretrained.init(v, TorchFileTest.fixture("mvit_tiny_torchvision.pth"), Zoo.TORCHVISION);
            assertEquals(List.of("head.projection.weight", "head.projection.bias"), r.reinitialized());
        }
    }

    @Test
    void checksumsAgreeAcrossFormats() throws Exception {
        Path pth = Path.of(WeightsTest.class.getResource("/fixtures/x3d_tiny.pth").toURI());
        Path od = Path.of(WeightsTest.class.getResource("/fixtures/x3d_tiny_ordereddict.pth").toURI());
        Path st = Path.of(WeightsTest.class.getResource("/fixtures/x3d_tiny.safetensors").toURI());
        List<Map<String, String>> all = new ArrayList<>();
        for (Path p : List.of(pth, od, st)) {
            try (Weights.Source s = Weights.open(p); PointerScope scope = new PointerScope()) {
                Map<String, String> c = new LinkedHashMap<>();
                for (String n : s.tensors().keySet()) {
                    c.put(n, Weights.checksum(s.tensor(n)));
                }
                all.add(c);
            }
        }
        assertTrue(all.get(0).size() > 50);
        assertEquals(all.get(2), all.get(0));
        assertEquals(all.get(2), all.get(1));
    }
}
