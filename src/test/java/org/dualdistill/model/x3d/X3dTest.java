package org.dualdistill.model.x3d;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.StringTensorDictItem;
import org.bytedeco.pytorch.Tensor;
import org.dualdistill.TestTensors;
import org.dualdistill.internal.torch.TensorBridge;
import org.dualdistill.model.ModelOutput;
import org.junit.jupiter.api.Test;

/** X3D against pytorchvideo's reference: parameter counts, every name and shape, output shapes, GMACs. */
class X3dTest {
    /** The reference name/shape list (derived from the zoo code; kept in the test resources). */
    static final Path TSV = Path.of(System.getProperty("dualdistill.sourceRoot", "."), "src", "test", "resources",
            "fixtures", "checkpoints", "x3d_s_k400_parameters.tsv");

    static List<String> namesAndShapes(X3d m) {
        List<String> out = new ArrayList<>();
        try (PointerScope scope = new PointerScope()) {
            StringTensorDict d = m.module().named_parameters();
            for (long i = 0; i < d.size(); i++) {
                StringTensorDictItem it = d.get(i);
                long[] s = TensorBridge.shape(it.value());
                StringBuilder sb = new StringBuilder(it.key().getString()).append('\t');
                for (int j = 0; j < s.length; j++) {
                    sb.append(j == 0 ? "" : ",").append(s[j]);
                }
                out.add(sb.toString());
            }
        }
        return out;
    }

    @Test
    void parameterCountsMatchTheReference() {
        try (X3d s = X3d.preset(X3d.Preset.S, 400); X3d s51 = X3d.preset(X3d.Preset.S, 51); X3d l = X3d.preset(X3d.Preset.L, 400)) {
            assertEquals(3_794_274, s.parameterCount());
            assertEquals(3_079_173, s51.parameterCount());
            assertEquals(6_153_384, l.parameterCount());
            assertEquals(314, namesAndShapes(s).size());
        }
        try (X3d xs = X3d.preset(X3d.Preset.XS, 400); X3d m = X3d.preset(X3d.Preset.M, 400)) {
            assertEquals(3_794_274, xs.parameterCount(), "XS/S/M share one weight layout");
            assertEquals(3_794_274, m.parameterCount());
        }
    }

    @Test
    void everyNameAndShapeMatchesPytorchvideo() throws IOException {
        assertTrue(Files.isRegularFile(TSV), "reference list not found at " + TSV.toAbsolutePath());
        List<String> expected = new ArrayList<>();
        for (String line : Files.readAllLines(TSV)) {
            if (!line.startsWith("#") && !line.startsWith("name\t") && !line.isBlank()) {
                expected.add(line.trim());
            }
        }
        try (X3d s = X3d.preset(X3d.Preset.S, 400)) {
            assertEquals(expected, namesAndShapes(s));
        }
    }

    @Test
    void x3dSGivesTheRes5MapAndLogitsAtItsTrainingGeometry() {
        try (X3d s = X3d.preset(X3d.Preset.S, 51); PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            s.module().eval();
            Tensor clip = TestTensors.randn(1, 1.0, 3 * 13, 160 * 160).view(1, 3, 13, 160, 160);
            ModelOutput out = s.forward(clip);
            assertArrayEquals(new long[] {1, 51}, TensorBridge.shape(out.logits()));
            assertArrayEquals(new long[] {1, 2048}, TensorBridge.shape(out.embedding()));
            assertArrayEquals(new long[] {1, 192, 13, 5, 5}, TensorBridge.shape(out.features()));
        }
    }

    @Test
    void reducedModelsRunAnySizeAndAreDeterministicInEval() {
        try (X3d m = X3d.builder().widthFactor(1.0).depthFactor(1.0).numClasses(8).clipLength(4).crop(64).build();
             PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            m.module().eval();
            Tensor clip = TestTensors.randn(2, 1.0, 2 * 3 * 4, 64 * 96).view(2, 3, 4, 64, 96);
            ModelOutput a = m.forward(clip);
            ModelOutput b = m.forward(clip);
            assertArrayEquals(new long[] {2, 8}, TensorBridge.shape(a.logits()));
            // width 1.0: stem round_width(12, 1.0) = 16, res5 = 16 * 8 = 128 channels; 64x96 / 32 = 2x3
            assertArrayEquals(new long[] {2, 128, 4, 2, 3}, TensorBridge.shape(a.features()));
            assertArrayEquals(TestTensors.toFloats(a.logits()), TestTensors.toFloats(b.logits()));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> m.forward(TestTensors.randn(2, 1.0, 3 * 4, 16 * 16).view(1, 3, 4, 16, 16)));
            assertTrue(e.getMessage().contains("expected [B, 3, T, H, W]"), e.getMessage());
        }
    }

    @Test
    void gmacsMatchThePublishedFigures() {
        try (X3d xs = X3d.preset(X3d.Preset.XS, 400); X3d s = X3d.preset(X3d.Preset.S, 400); X3d m = X3d.preset(X3d.Preset.M, 400)) {
            assertEquals(0.61, xs.gmacs(), 0.02, "X3D-XS");
            assertEquals(1.96, s.gmacs(), 0.04, "X3D-S");
            assertEquals(4.73, m.gmacs(), 0.08, "X3D-M");
        }
    }

    @Test
    void pySlowFastKeysMapOneToOneOntoPytorchvideos() {
        try (X3d s = X3d.preset(X3d.Preset.S, 400)) {
            java.util.Set<String> seen = new java.util.HashSet<>();
            for (String line : namesAndShapes(s)) {
                String ptv = line.substring(0, line.indexOf('\t'));
                String psf = X3dKeys.toPySlowFast(ptv);
                assertTrue(psf != null, "no PySlowFast name for " + ptv);
                assertTrue(seen.add(psf), "two tensors map to " + psf);
                assertEquals(ptv, X3dKeys.fromPySlowFast(psf));
                assertEquals(ptv, X3dKeys.fromPySlowFast("module." + psf));
            }
        }
        assertEquals("s1.pathway0_stem.conv_xy.weight", X3dKeys.toPySlowFast("blocks.0.conv.conv_t.weight"));
        assertEquals("s1.pathway0_stem.conv.weight", X3dKeys.toPySlowFast("blocks.0.conv.conv_xy.weight"));
        assertEquals("s5.pathway0_res6.branch2.se.fc2.bias", X3dKeys.toPySlowFast("blocks.4.res_blocks.6.branch2.norm_b.1.block.2.bias"));
        assertEquals("head.lin_5.weight", X3dKeys.toPySlowFast("blocks.5.pool.post_conv.weight"));
        assertEquals(null, X3dKeys.fromPySlowFast("some.other.key"));
    }

    @Test
    void epicKitchensVariantHasAVerbAndANounHead() {
        try (X3d single = X3d.preset(X3d.Preset.S, 1); X3d epic = X3d.builder().preset(X3d.Preset.S).heads(97, 300).build();
             org.bytedeco.javacpp.PointerScope scope = new org.bytedeco.javacpp.PointerScope();
             NoGradGuard g = new NoGradGuard()) {
            assertEquals(397, epic.numClasses());
            // the single-head model with 1 class has 2048 + 1 head parameters; the EPIC heads 2048*397 + 397
            assertEquals(single.parameterCount() - 2049 + 2048L * 397 + 397, epic.parameterCount());
            List<String> names = namesAndShapes(epic);
            assertTrue(names.contains("blocks.5.proj.0.weight\t97,2048") && names.contains("blocks.5.proj.1.weight\t300,2048"), names.toString());
            epic.module().eval();
            Tensor clip = TestTensors.randn(3, 1.0, 3 * 4, 64 * 64).view(1, 3, 4, 64, 64);
            assertArrayEquals(new long[] {1, 397}, TensorBridge.shape(epic.forward(clip).logits()));
        }
    }

    static void presetShapes(X3d.Preset p, long[] res5) {
        try (X3d m = X3d.preset(p, 400); PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            m.module().eval();
            Tensor clip = TestTensors.randn(9, 1.0, 3 * p.clipLength(), (long) p.crop() * p.crop())
                    .view(1, 3, p.clipLength(), p.crop(), p.crop());
            ModelOutput out = m.forward(clip);
            assertArrayEquals(new long[] {1, 400}, TensorBridge.shape(out.logits()));
            assertArrayEquals(res5, TensorBridge.shape(out.features()));
        }
    }

    @Test
    void xsAndMGiveTheirRes5Maps() {
        presetShapes(X3d.Preset.XS, new long[] {1, 192, 4, 5, 5});
        presetShapes(X3d.Preset.M, new long[] {1, 192, 16, 7, 7});
    }

    @org.junit.jupiter.api.Tag("slow")
    @Test
    void lGivesItsRes5Map() {
        presetShapes(X3d.Preset.L, new long[] {1, 192, 16, 10, 10});
    }
}
