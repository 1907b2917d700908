package org.dualdistill.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

/** The registry: reference parameter counts and GMACs, PySlowFast's views, the demo models, an open registry. */
class ModelZooTest {
    @Test
    void fullSizePresetsMatchTheReference() {
        ModelZoo.Stats s = ModelZoo.stats(ModelZoo.get("x3d_s"), 400, ModelZoo.get("x3d_s").view());
        assertEquals(3_794_274L, s.params());
        assertEquals(1.96, s.gmacs(), 0.02);
        assertEquals(192, s.featureChannels(), "X3D-S res5 width");
        ModelZoo.Stats m = ModelZoo.stats(ModelZoo.get("x3d_m"), 400, ModelZoo.get("x3d_m").view());
        assertEquals(3_794_274L, m.params(), "X3D-XS/S/M share one weight layout");
        assertEquals(4.73, m.gmacs(), 0.05);
        ModelZoo.Stats xs = ModelZoo.stats(ModelZoo.get("x3d_xs"), 400, ModelZoo.get("x3d_xs").view());
        assertEquals(0.61, xs.gmacs(), 0.02);
        assertEquals(6_153_384L, ModelZoo.stats(ModelZoo.get("x3d_l"), 400, ModelZoo.get("x3d_l").view()).params());
        ModelZoo.Stats v = ModelZoo.stats(ModelZoo.get("mvitv2_s"), 400, ModelZoo.get("mvitv2_s").view());
        assertEquals(34_537_744L, v.params());
        assertEquals(768, v.featureChannels());
        assertEquals(34_269_363L, ModelZoo.stats(ModelZoo.get("mvitv2_s"), 51, ModelZoo.get("mvitv2_s").view()).params());
        ModelZoo.Stats sf = ModelZoo.stats(ModelZoo.get("slowfast_r50"), 400, ModelZoo.get("slowfast_r50").view());
        assertEquals(34_566_488L, sf.params(), "pytorchvideo create_slowfast R50 8x8");
        assertEquals(50.31, sf.gmacs(), 0.01, "conv + linear MACs at 32x224 (PySlowFast's 65.7 is at its 256 test crop)");
        assertEquals(2304, sf.featureChannels(), "slow res5 2048 + fast res5 256");
    }

    @Test
    void slowFastIsRegisteredWithItsViewAndKeyMaps() {
        assertEquals(ModelView.of(32, 2, 224, 256, 320, 256), ModelZoo.get("slowfast_r50").view());
        try (VideoModel m = ModelZoo.get("slowfast_r50").build(51, ModelView.of(32, 2, 64, 64, 80, 64))) {
            assertEquals(List.of("blocks.6.proj.weight", "blocks.6.proj.bias"), m.resetHead());
            assertEquals("blocks.6.proj.weight",
                    m.keyMap(org.dualdistill.model.io.Zoo.PYSLOWFAST).toModel("head.projection.weight"));
            assertEquals("blocks.0.multipathway_blocks.0.conv.weight",
                    m.keyMap(org.dualdistill.model.io.Zoo.PYSLOWFAST).toModel("s1.pathway0_stem.conv.weight"));
        }
    }

    @Test
    void viewsArePySlowFastsConfigs() {
        assertEquals(ModelView.of(13, 6, 160, 182, 228, 182), ModelZoo.get("x3d_s").view());
        assertEquals(ModelView.of(16, 5, 224, 256, 320, 256), ModelZoo.get("x3d_m").view());
        assertEquals(ModelView.of(4, 12, 160, 182, 228, 182), ModelZoo.get("x3d_xs").view());
        assertEquals(312, ModelZoo.get("x3d_l").view().crop());
        ModelView mv = ModelZoo.get("mvitv2_s").view();
        assertEquals(ModelView.of(16, 4, 224, 256, 320, 224), mv);
        assertEquals(List.of(0.45, 0.45, 0.45), mv.mean());
        assertEquals(List.of(0.225, 0.225, 0.225), mv.std());
    }

    @Test
    void demoPresetsAreTheCliModels() {
        ModelPreset s = ModelZoo.get("x3d_demo");
        assertEquals(ModelView.of(4, 2, 32, 32, 37, 32), s.view());
        try (VideoModel m = s.build(4)) {
            var c = ((org.dualdistill.model.x3d.X3d) m).config();
            assertEquals(0.5, c.widthFactor());
            assertEquals(0.5, c.depthFactor());
            assertEquals(64, c.headDimOut());
            assertEquals(0.0, c.dropout());
        }
        try (VideoModel m = ModelZoo.get("x3d_demo_wide").build(4)) {
            assertEquals(1.0, ((org.dualdistill.model.x3d.X3d) m).config().widthFactor());
        }
        ModelPreset v = ModelZoo.get("mvit_demo");
        assertEquals(8, v.view().frames(), "the ViT teacher sees twice the student's frames over its window");
        try (VideoModel m = v.build(4)) {
            var cfg = ((org.dualdistill.model.mvit.MViT) m).config();
            assertEquals(2, cfg.depth());
            assertEquals(16, cfg.embedDim());
            assertEquals(2, cfg.kvStrideAdaptive()[1], "kv stride crop/16 at crop 32");
        }
        assertTrue(ModelZoo.stats(s, 4, s.view()).params() < 200_000);
    }

    @Test
    void registryIsOpenAndRefusesDuplicatesAndUnknownNames() {
        var e = assertThrows(IllegalArgumentException.class, () -> ModelZoo.get("resnet"));
        assertTrue(e.getMessage().contains("unknown model \"resnet\"") && e.getMessage().contains("x3d_s"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ModelZoo.register(ModelZoo.get("x3d_s")));
        ModelPreset alias = new ModelPreset("x3d_s_test_alias", "x3d", "test", ModelZoo.get("x3d_s").view(), ModelZoo.X3D_TAPS,
                ModelZoo.get("x3d_s").factory(), ModelZoo.get("x3d_s").macs());
        ModelZoo.register(alias);
        assertEquals(alias, ModelZoo.get("X3D_S_TEST_ALIAS"));
        assertTrue(ModelZoo.names().contains("x3d_s_test_alias"));
    }
}
