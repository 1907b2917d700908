package org.dualdistill.recipe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;

import org.dualdistill.model.ModelView;
import org.dualdistill.model.ModelZoo;
import org.dualdistill.model.VideoModel;
import org.dualdistill.train.TrainConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Config to plan: presets, view overrides, classes, device, and the teacher checks made before any training. */
class RecipeTest {
    private static final List<String> CLASSES = List.of("a", "b", "c");

    @Test
    void planResolvesPresetViewsAndMakesTheConfigExplicit() throws RecipeException {
        RunPlan p = Recipe.plan(TrainConfig.embeddedDemo(), CLASSES, true);
        assertEquals("x3d_demo", p.model().preset().name());
        assertEquals(ModelZoo.get("x3d_demo").view(), p.model().view());
        assertEquals(ModelZoo.get("mvit_demo").view(), p.teacher("vit").view());
        assertEquals(3, p.config().model().numClasses());
        assertEquals(TrainConfig.View.of(ModelZoo.get("x3d_demo_wide").view()), p.config().teacher("cnn").view());
        assertEquals("cpu", p.device());
        assertEquals(p.config(), Recipe.planSaved(TrainConfig.parse(TrainConfig.embeddedDemo(), p.config().toJson(),
                List.of())).config(), "the saved config plans to itself");
        assertEquals(List.of("student", "vit", "cnn"), Recipe.trainSampler(p, false).viewNames());
        assertEquals(8, Recipe.trainSampler(p, false).views().get(1).frames());
    }

    @Test
    void aCropOverrideScalesThePresetsShortSides() throws RecipeException {
        TrainConfig c = TrainConfig.embeddedDemo().withOverrides(List.of("model.view.crop=64", "model.view.frames=6"));
        ModelView v = Recipe.plan(c, CLASSES, true).model().view();
        assertEquals(ModelView.of(6, 2, 64, 64, 74, 64), v);
        TrainConfig x = TrainConfig.reference().withOverrides(List.of("model.view.testShortSide=200", "run.device=cpu"));
        assertEquals(ModelView.of(13, 6, 160, 182, 228, 200), Recipe.plan(x, CLASSES, true).model().view());
    }

    @Test
    void unknownArchsAndMissingTeachersAreRefusedByName() {
        var e = assertThrows(RecipeException.class, () -> Recipe.plan(
                TrainConfig.embeddedDemo().withOverrides(List.of("teachers.1.arch=resnet50")), CLASSES, true));
        assertTrue(e.getMessage().startsWith("teachers.1.arch: unknown model \"resnet50\""), e.getMessage());
        e = assertThrows(RecipeException.class, () -> Recipe.plan(TrainConfig.embeddedDemo(), CLASSES, false));
        assertTrue(e.getMessage().contains("no weights for teachers.0 (vit: mvit_demo) and teachers.1 (cnn: x3d_demo_wide)")
                && e.getMessage().contains("--allow-untrained-teachers"), e.getMessage());
        e = assertThrows(RecipeException.class, () -> Recipe.plan(
                TrainConfig.embeddedDemo().withOverrides(List.of("model.numClasses=5")), CLASSES, true));
        assertTrue(e.getMessage().startsWith("model.numClasses is 5 but the dataset has 3 classes"), e.getMessage());
    }

    @Test
    void aTeacherFileThatDoesNotFitIsRefusedBeforeTraining(@TempDir Path dir) throws Exception {
        Path t = dir.resolve("cnn");
        try (VideoModel m = ModelZoo.get("x3d_demo_wide").build(3)) {
            TeacherFile.write(t.resolve(TeacherFile.FILE), m, new TeacherFile.Info(null, "x3d_demo_wide", 3,
                    List.of("a", "b", "x"), ModelZoo.get("x3d_demo_wide").view()));
        }
        TrainConfig c = TrainConfig.embeddedDemo().withOverrides(List.of("teachers.1.weights=" + t));
        var e = assertThrows(RecipeException.class, () -> Recipe.plan(c, CLASSES, true));
        assertTrue(e.getMessage().contains("the cnn teacher does not fit this run: 3 classes [a, b, x] (the dataset has [a, b, c])"),
                e.getMessage());
        List<String> names = List.of("a", "b", "x");
        RunPlan ok = Recipe.plan(c, names, true);
        assertEquals(t.resolve(TeacherFile.FILE), ok.teacher("cnn").weights());
        assertNull(ok.teacher("vit").weights());
        e = assertThrows(RecipeException.class, () -> Recipe.plan(
                c.withOverrides(List.of("teachers.1.view.frames=6")), names, true));
        assertTrue(e.getMessage().contains("4 frames (this run feeds 6)"), e.getMessage());
        e = assertThrows(RecipeException.class, () -> Recipe.plan(
                c.withOverrides(List.of("teachers.1.arch=x3d_demo")), names, true));
        assertTrue(e.getMessage().contains("arch x3d_demo_wide (the config says x3d_demo)"), e.getMessage());
        try (Recipe.TeacherSet s = Recipe.teachers(ok, null, null)) {
            assertEquals(List.of("vit", "cnn"), s.list().stream().map(org.dualdistill.distill.Teacher::view).toList());
            assertTrue(!s.get("cnn").model().module().is_training(), "teachers are frozen in eval mode");
            assertTrue(!s.get("cnn").model().module().parameters().get(0).requires_grad());
        }
    }
}
