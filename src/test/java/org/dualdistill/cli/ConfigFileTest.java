package org.dualdistill.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.dualdistill.train.TrainConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** YAML config files: same tree, same strictness as JSON; the shipped example parses. */
class ConfigFileTest {
    private static final String JSON = """
            {"optimizer": {"name": "adamw", "lr": 0.001, "eps": 1e-7, "nesterov": false},
             "objective": {"weighting": "uniform", "sddWeight": 0.5},
             "teachers": [{"role": "cnn", "arch": "x3d_m", "weights": "t.safetensors", "view": {"frames": 16, "crop": 224}},
                          {"role": "vit", "arch": "mvitv2_s", "weights": "", "view": {"mean": [0.5, 0.5, 0.5]}}],
             "data": {"split": 2, "batchSize": 3},
             "run": {"device": "cpu"}}
            """;
    private static final String YAML = """
            # the JSON twin, in block style
            optimizer:
              name: adamw
              lr: 0.001
              eps: 1.0e-7
              nesterov: false
            objective: {weighting: uniform, sddWeight: 0.5}
            teachers:
              - role: cnn
                arch: x3d_m
                weights: t.safetensors
                view:
                  frames: 16
                  crop: 224
              - {role: vit, arch: mvitv2_s, weights: "", view: {mean: [0.5, 0.5, 0.5]}}
            data:
              split: 2
              batchSize: 3
            run:
              device: cpu
            """;

    @Test
    void yamlFileEqualsItsJsonTwin(@TempDir Path tmp) throws IOException {
        Path json = Files.writeString(tmp.resolve("run.json"), JSON);
        Path yaml = Files.writeString(tmp.resolve("run.yaml"), YAML);
        Path yml = Files.writeString(tmp.resolve("run.yml"), YAML);
        Path noExt = Files.writeString(tmp.resolve("run.conf"), YAML);
        TrainConfig fromJson = TrainConfig.load(json, List.of());
        assertEquals(TrainConfig.Algorithm.ADAMW, fromJson.optimizer().name());
        assertEquals(1e-7, fromJson.optimizer().eps());
        assertEquals(fromJson, TrainConfig.load(yaml, List.of()));
        assertEquals(fromJson, TrainConfig.load(yml, List.of()));
        assertEquals(fromJson, TrainConfig.load(noExt, List.of()), "YAML detected by content");
        assertEquals(fromJson, TrainConfig.parse(TrainConfig.reference(), YAML, List.of()));
        assertEquals(fromJson.withOverrides(List.of("optimizer.lr=0.01")),
                TrainConfig.load(yaml, List.of("optimizer.lr=0.01")), "overrides apply after a YAML file");
    }

    @Test
    void yamlUnknownKeysAndBadValuesNameTheKeyPath(@TempDir Path tmp) throws IOException {
        var e = assertThrows(IllegalArgumentException.class,
                () -> TrainConfig.parse(TrainConfig.reference(), "objective:\n  sddWeigth: 2\n", List.of()));
        assertEquals("objective.sddWeigth: unknown key (did you mean sddWeight?)", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> TrainConfig.parse(TrainConfig.reference(), "optimizer:\n  lr: fast\n", List.of()));
        assertTrue(e.getMessage().startsWith("optimizer.lr: expected a number"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> TrainConfig.parse(TrainConfig.reference(), "optimizer:\n  lr: -1\n", List.of()));
        assertEquals("optimizer.lr: must be > 0, got -1", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> TrainConfig.parse(TrainConfig.reference(),
                "teachers:\n  - {role: cnn, arch: x3d_m, weights: '', view: {frames: 16, crop: -2}}\n", List.of()));
        assertEquals("teachers.0.view.crop: must be >= 0 (0 = preset), got -2", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> TrainConfig.parse(TrainConfig.reference(), "data:\n  batchSize: 2.5\n", List.of()));
        assertTrue(e.getMessage().startsWith("data.batchSize: expected an integer"), e.getMessage());

        Path bad = Files.writeString(tmp.resolve("bad.yaml"), "schedule:\n  epochs: many\n");
        e = assertThrows(IllegalArgumentException.class, () -> TrainConfig.load(bad, List.of()));
        assertTrue(e.getMessage().startsWith(bad + ": schedule.epochs: expected a number"), e.getMessage());
        Path broken = Files.writeString(tmp.resolve("broken.yml"), "optimizer:\n  lr: [1\n");
        var io = assertThrows(IOException.class, () -> TrainConfig.load(broken, List.of()));
        assertTrue(io.getMessage().startsWith(broken + ": config: not valid YAML"), io.getMessage());
        Path list = Files.writeString(tmp.resolve("list.yaml"), "- 1\n- 2\n");
        io = assertThrows(IOException.class, () -> TrainConfig.load(list, List.of()));
        assertTrue(io.getMessage().contains("expected a YAML mapping"), io.getMessage());
    }

    @Test
    void shippedExampleConfigParses() throws IOException {
        Path example = Path.of("examples/configs/distill-hmdb51.yaml");
        TrainConfig c = TrainConfig.load(TrainConfig.embeddedDemo(), example, List.of());
        assertEquals(10, c.schedule().epochs());
        assertEquals(4, c.data().batchSize());
        assertEquals(5.0e-5, c.optimizer().weightDecay());
        assertEquals(0.5, c.data().flipProbability());
        assertEquals("x3d_demo", c.model().arch());
        assertEquals(64, c.model().view().crop());
        assertEquals(List.of("mvit_demo", "x3d_demo_wide"), c.teachers().stream().map(TrainConfig.Teacher::arch).toList());
        assertEquals(TrainConfig.embeddedDemo().run().checkpointEvery(), c.run().checkpointEvery());
        assertEquals(TrainConfig.embeddedDemo().data().split(), c.data().split(), "keys the file omits keep the preset's value");
    }

    @Test
    void paperConfigNamesTheTrioAtTheirPresetViews() throws IOException {
        TrainConfig c = TrainConfig.load(TrainConfig.embeddedDemo(), Path.of("examples/configs/x3d_s-mvitv2_s-x3d_m.yaml"),
                List.of());
        assertEquals("x3d_s", c.model().arch());
        assertEquals("mvitv2_s", c.teacher("vit").arch());
        assertEquals("x3d_m", c.teacher("cnn").arch());
        assertEquals(TrainConfig.View.PRESET, c.model().view());
        assertEquals("auto", c.run().device());
    }

    @Test
    void distillRejectsABadYamlConfigNamingFileAndKey(@TempDir Path tmp) throws IOException {
        Path data = Files.createDirectories(tmp.resolve("data"));
        Path cfg = Files.writeString(tmp.resolve("c.yaml"), "objective:\n  sddWeigth: 1\n");
        var err = new java.io.ByteArrayOutputStream();
        var old = System.err;
        System.setErr(new java.io.PrintStream(err, true));
        int rc;
        try {
            rc = Main.run("distill", "--data", data.toString(), "--config", cfg.toString());
        } finally {
            System.setErr(old);
        }
        assertEquals(2, rc);
        assertTrue(err.toString().contains(cfg + ": objective.sddWeigth: unknown key"), err.toString());
    }
}
