package org.dualdistill.recipe;

import static org.dualdistill.testing.CliRun.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.dualdistill.model.ModelView;
import org.dualdistill.model.ModelZoo;
import org.dualdistill.train.Checkpoint;
import org.dualdistill.train.TrainConfig;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.dualdistill.testing.CliRun;
import org.dualdistill.testing.CliRun.Result;

/**
 * The paper's trio from examples/configs/x3d_s-mvitv2_s-x3d_m.yaml, through the CLI on CPU: the dry run's plan, and one
 * full-size distillation step (X3D-S student, MViTv2-S and X3D-M teachers at their canonical views, batch 2) whose
 * checkpoint's saved config names the three models with their views. The step runs MViTv2-S at 16x224 and the
 * class takes about 50 s on 2 loaded cores (under the 2 minutes that would make it {@code slow}).
 */
class PaperConfigTest {
    private static final String CONFIG = "examples/configs/x3d_s-mvitv2_s-x3d_m.yaml";
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path dir;
    static Path data;


    @BeforeAll
    static void generate() {
        data = dir.resolve("data");
        // videos large enough for 224-pixel crops
        Result g = run("generate", "--out", data.toString(), "--classes", "2", "--videos-per-class", "3", "--size", "224",
                "--frames", "16", "20", "--seed", "2");
        assertEquals(0, g.code(), g.err());
    }

    @Test
    void dryRunPrintsThePlanAndTrainsNothing() throws Exception {
        Path out = dir.resolve("dry");
        Result r = run("distill", "--config", CONFIG, "--data", data.toString(), "--dry-run", "--out", out.toString());
        assertEquals(0, r.code(), r.out() + r.err());
        JsonNode plan = JSON.readTree(r.out());
        assertEquals("x3d_s", plan.get("model").get("arch").asText());
        assertEquals(2, plan.get("model").get("numClasses").asInt());
        assertEquals(13, plan.get("model").get("view").get("frames").asInt());
        assertEquals(160, plan.get("model").get("view").get("crop").asInt());
        assertTrue(plan.get("model").get("gmacs").asDouble() > 1.9 && plan.get("model").get("gmacs").asDouble() < 2.0);
        JsonNode vit = plan.get("teachers").get(0);
        assertEquals("mvitv2_s", vit.get("arch").asText());
        assertEquals(34_269_363L - 51 * 769 + 2 * 769, vit.get("params").asLong(), "MViTv2-S with a 2-class head");
        assertEquals(224, vit.get("view").get("crop").asInt());
        assertEquals("x3d_m", plan.get("teachers").get(1).get("arch").asText());
        assertEquals(256, plan.get("teachers").get(1).get("view").get("testShortSide").asInt());
        assertEquals("cpu", plan.get("device").asText());
        assertEquals(1.0, plan.get("objective").get("sddWeight").asDouble());
        assertEquals("SGD", plan.get("optimizer").get("name").asText());
        assertEquals(100, plan.get("schedule").get("epochs").asInt());
        assertFalse(Files.exists(out), "a dry run writes nothing");
    }

    @Test
    void oneFullSizeStepWritesACheckpointNamingTheTrio() throws Exception {
        Path out = dir.resolve("run");
        Result r = run("distill", "--config", CONFIG, "--data", data.toString(), "--allow-untrained-teachers",
                "--set", "run.maxSteps=1", "--set", "data.batchSize=2", "--out", out.toString());
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.err().contains("UNTRAINED"), "untrained teachers are announced: " + r.err());
        Path ckpt = Recipe.latestCheckpoint(out.resolve("checkpoints"));
        assertNotNull(ckpt, "a checkpoint after the one step");
        TrainConfig saved = TrainConfig.parse(TrainConfig.embeddedDemo(), Checkpoint.configJson(ckpt), List.of());
        assertEquals("x3d_s", saved.model().arch());
        assertEquals(2, saved.model().numClasses());
        assertEquals(TrainConfig.View.of(ModelZoo.get("x3d_s").view()), saved.model().view());
        assertEquals("mvitv2_s", saved.teacher("vit").arch());
        assertEquals(TrainConfig.View.of(ModelZoo.get("mvitv2_s").view()), saved.teacher("vit").view());
        assertEquals("x3d_m", saved.teacher("cnn").arch());
        assertEquals(TrainConfig.View.of(ModelZoo.get("x3d_m").view()), saved.teacher("cnn").view());
        assertEquals("cpu", saved.run().device(), "auto resolved to the device used");
        assertEquals(1, saved.run().maxSteps());
        ModelView back = Recipe.planSaved(saved).teacher("vit").view();
        assertEquals(ModelZoo.get("mvitv2_s").view(), back, "the saved config rebuilds the same views");
    }

    @Test
    void cudaOnThisMachineFailsAtStartUpInOneLine() {
        org.junit.jupiter.api.Assumptions.assumeFalse(Devices.cudaUsable(), "a CUDA device is visible");
        Result r = run("distill", "--config", CONFIG, "--data", data.toString(), "--allow-untrained-teachers",
                "--device", "cuda");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("torch.hasCUDA() is false") || r.err().contains("torch.cuda_is_available()"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
    }

    /** The trio on a GPU: two steps in bf16, then evaluation of the checkpoint and prediction with its export there. */
    @Test
    @org.junit.jupiter.api.Tag("gpu")
    void theTrioTrainsEvaluatesAndPredictsOnTheGpu() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(Devices.cudaUsable(), "no CUDA device");
        Path out = dir.resolve("gpu");
        Result r = run("distill", "--config", CONFIG, "--data", data.toString(), "--allow-untrained-teachers",
                "--device", "cuda", "--set", "run.maxSteps=2", "--set", "data.batchSize=2", "--out", out.toString(),
                "--export", out.resolve("export").toString());
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.err().contains("device cuda:0"), r.err());
        TrainConfig saved = TrainConfig.parse(TrainConfig.embeddedDemo(),
                Checkpoint.configJson(Recipe.latestCheckpoint(out.resolve("checkpoints"))), List.of());
        assertEquals("cuda:0", saved.run().device());
        Result e = run("evaluate", "--model", out.resolve("checkpoints").toString(), "--data", data.toString(),
                "--device", "cuda", "--out", out.resolve("eval").toString());
        assertEquals(0, e.code(), e.out() + e.err());
        Path video;
        try (var files = Files.walk(data)) {
            video = files.filter(p -> p.toString().endsWith(".avi")).sorted().findFirst().orElseThrow();
        }
        Result p = run("predict", "--model", out.resolve("export").toString(), video.toString(), "--device", "cuda", "--json");
        assertEquals(0, p.code(), p.out() + p.err());
        assertEquals(2, JSON.readTree(p.out()).get("predictions").size());
    }
}
