package org.dualdistill.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.dualdistill.datw.Normalization;
import org.dualdistill.datw.ScoreMode;
import org.dualdistill.datw.Weighting;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainConfigTest {

    @Test
    void defaultsReproduceTheReferenceSettings() {
        TrainConfig c = TrainConfig.parse(TrainConfig.reference(), "{}", List.of());
        assertEquals("x3d_s", c.model().arch());
        assertEquals(List.of("mvitv2_s", "x3d_m"), c.teachers().stream().map(TrainConfig.Teacher::arch).toList());
        assertEquals(List.of("vit", "cnn"), c.teachers().stream().map(TrainConfig.Teacher::role).toList());
        assertEquals(TrainConfig.View.PRESET, c.model().view(), "views default to the preset's");
        assertEquals(Weighting.DATW, c.objective().weighting());
        assertEquals(ScoreMode.PRODUCT, c.objective().scoreMode());
        assertEquals(Normalization.SOFTMAX, c.objective().normalization());
        assertEquals(4.0, c.objective().temperature());
        assertEquals(1.0, c.objective().sddWeight());
        assertEquals(1.0, c.objective().rkdWeight());
        assertEquals(0.0, c.objective().hintWeight());
        assertEquals(TrainConfig.Algorithm.SGD, c.optimizer().name());
        assertEquals(0.1, c.optimizer().lr());
        assertEquals(0.9, c.optimizer().momentum());
        assertTrue(c.optimizer().nesterov());
        assertEquals(5e-5, c.optimizer().weightDecay());
        assertTrue(c.schedule().warmupEpochs() > 0);
        assertEquals(c, TrainConfig.parse(TrainConfig.reference(), c.toJson(), List.of()), "JSON round trip");
        TrainConfig demo = TrainConfig.preset("demo");
        assertEquals("cpu", demo.run().device());
        assertEquals(demo, TrainConfig.parse(demo, demo.toJson(), List.of()));
    }

    @Test
    void fileAndOverridesApplyOntoTheTree(@TempDir Path tmp) throws IOException {
        Path f = tmp.resolve("run.json");
        Files.writeString(f, """
                {"optimizer": {"name": "adamw", "lr": 0.001},
                 "objective": {"weighting": "uniform"},
                 "teachers": [{"role": "cnn", "arch": "x3d_m", "view": {"frames": 16, "crop": 224}}]}
                """);
        TrainConfig c = TrainConfig.load(f, List.of("optimizer.weightDecay=0.05", "run.device=cpu",
                "teachers.0.weights=/models/x3d_m.safetensors", "optimizer.nesterov=false",
                "schedule.epochs=10", "schedule.warmupEpochs=1", "objective.sddWeight=0", "objective.rkdWeight=0"));
        assertEquals(TrainConfig.Algorithm.ADAMW, c.optimizer().name());
        assertEquals(0.001, c.optimizer().lr());
        assertEquals(0.05, c.optimizer().weightDecay());
        assertEquals(0.9, c.optimizer().momentum(), "untouched keys keep their default");
        assertEquals(Weighting.UNIFORM, c.objective().weighting());
        assertEquals("cpu", c.run().device());
        assertEquals(1, c.teachers().size());
        assertEquals("/models/x3d_m.safetensors", c.teachers().get(0).weights());
        assertEquals(16, c.teachers().get(0).view().frames());
        assertEquals(224, c.teachers().get(0).view().crop());
        assertEquals(0, c.teachers().get(0).view().frameStride(), "view keys the file omits stay 0 = the preset's");
        assertEquals("", TrainConfig.reference().teachers().get(0).weights());
        assertEquals(10, c.schedule().epochs());
        assertEquals(0.5, TrainConfig.reference().withOverrides(List.of("optimizer.lr=0.5")).optimizer().lr());
    }

    @Test
    void unknownKeysNameThePathAndSuggest() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> TrainConfig.parse(TrainConfig.reference(), "{\"objective\": {\"sddWeigth\": 2}}", List.of()));
        assertEquals("objective.sddWeigth: unknown key (did you mean sddWeight?)", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> TrainConfig.reference().withOverrides(List.of("optimiser.lr=1")));
        assertEquals("optimiser: unknown key (did you mean optimizer?)", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> TrainConfig.reference().withOverrides(List.of("teachers.0.checkpoint=x")));
        assertTrue(e.getMessage().startsWith("teachers.0.checkpoint: unknown key"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> TrainConfig.reference().withOverrides(List.of("run.keepCheckpoints=3")));
        assertTrue(e.getMessage().startsWith("run.keepCheckpoints: unknown key"), "unread keys are gone: " + e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> TrainConfig.reference().withOverrides(List.of("run.zzzzzzzz=1")));
        assertEquals("run.zzzzzzzz: unknown key", e.getMessage());
    }

    @Test
    void badValuesNameThePath() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> TrainConfig.reference().withOverrides(List.of("optimizer.lr=-1")));
        assertEquals("optimizer.lr: must be > 0, got -1", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> TrainConfig.reference().withOverrides(List.of("optimizer.lr=fast")));
        assertTrue(e.getMessage().startsWith("optimizer.lr: expected a number"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> TrainConfig.reference().withOverrides(List.of("data.batchSize=2.5")));
        assertTrue(e.getMessage().startsWith("data.batchSize: expected an integer"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> TrainConfig.reference().withOverrides(List.of("objective.weighting=best")));
        assertTrue(e.getMessage().startsWith("objective.weighting: must be one of"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> TrainConfig.reference().withOverrides(List.of("teachers.1.view.crop=-1")));
        assertEquals("teachers.1.view.crop: must be >= 0 (0 = preset), got -1", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> TrainConfig.reference().withOverrides(List.of("teachers.1.role=vit")));
        assertEquals("teachers.1.role: two teachers with role vit", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> TrainConfig.reference().withOverrides(List.of("model.view.mean=[0.5]")));
        assertTrue(e.getMessage().startsWith("model.view.mean: must have 3 values"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> TrainConfig.reference().withOverrides(List.of("schedule.warmupEpochs=400")));
        assertTrue(e.getMessage().startsWith("schedule.warmupEpochs: must be <="), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> TrainConfig.reference().withOverrides(List.of("run.device=tpu")));
        assertTrue(e.getMessage().startsWith("run.device:"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> TrainConfig.reference().withOverrides(List.of("optimizer.lr")));
        assertTrue(e.getMessage().contains("key.path=value"), e.getMessage());
    }
}
