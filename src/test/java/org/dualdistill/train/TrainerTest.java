package org.dualdistill.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.data.DataLoader;
import org.dualdistill.data.Hmdb51Dataset;
import org.dualdistill.data.synthetic.SyntheticActionDataset;
import org.dualdistill.data.synthetic.SyntheticConfig;
import org.dualdistill.distill.DistillationObjective;
import org.dualdistill.model.VideoModel;
import org.dualdistill.model.mvit.MViT;
import org.dualdistill.model.mvit.MViTConfig;
import org.dualdistill.model.x3d.X3d;
import org.dualdistill.video.ClipSampler;
import org.dualdistill.video.MultiViewSampler;
import org.dualdistill.video.VideoTransform;
import org.dualdistill.video.ViewSpec;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainerTest {
    static Hmdb51Dataset train; // 4 classes x 4 training videos, 32x32, 8-12 frames
    private static Path root;

    @TempDir
    Path dir;

    static final TrainConfig CFG = TrainConfig.embeddedDemo().withOverrides(List.of("optimizer.lr=0.005"));

    @BeforeAll
    static void generate() throws Exception {
        train = Hmdb51Dataset.builder(dataRoot()).build();
    }

    /** The shared tiny synthetic dataset (4 classes x 6 videos, 32x32, 8-12 frames), made once per JVM. */
    static synchronized Path dataRoot() throws java.io.IOException {
        if (root == null) {
            Path r = Files.createTempDirectory("dualdistill-train-test");
            SyntheticActionDataset.generate(r, SyntheticConfig.builder().optNumClasses(4).optVideosPerClass(6).optSize(32, 32)
                    .optFrames(8, 12).optSeed(11).build());
            root = r;
        }
        return root;
    }

    /**
     * Fixed views (one constant clip per video, centre crop): every epoch sees the same inputs, so the training
     * loss of a deterministic run must fall; random windows and crops would make 4-step epoch means too noisy to
     * compare.
     */
    static MultiViewSampler views() {
        return MultiViewSampler.builder(ClipSampler.constantPerVideo(4, 2, 1, 1), VideoTransform.center(32))
                .addView(ViewSpec.of("student", 4, 32)).addView(ViewSpec.of("vit", 8, 32)).addView(ViewSpec.of("cnn", 4, 32))
                .build();
    }

    static DataLoader loader(Hmdb51Dataset ds, long seed) {
        return DataLoader.builder(ds, views()).optBatchSize(4).optWorkers(1).optSeed(seed).build();
    }

    static X3d student() {
        return X3d.builder().widthFactor(0.5).depthFactor(0.5).headDimOut(64).numClasses(4).dropout(0.0).clipLength(4).crop(32).build();
    }

    static MViT vit() {
        return new MViT(MViTConfig.builder().depth(2).embedDim(16).numHeads(1).stageStarts(1).numFrames(8).cropSize(32)
                .numClasses(4).dropPathRate(0).build());
    }

    static X3d cnn() {
        return X3d.builder().widthFactor(0.5).depthFactor(0.5).headDimOut(64).numClasses(4).clipLength(4).crop(32).build();
    }

    /** Feature-map channels of a model for a clip shape, by one no-grad forward. */
    static long channels(VideoModel m, long t) {
        try (PointerScope s = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            m.module().eval();
            return m.forward(torch.zeros(1, 3, t, 32, 32)).features().size(1);
        }
    }

    /** Everything one distillation run needs; closes in reverse order. */
    static final class Rig implements AutoCloseable {
        final X3d student;
        final MViT vit;
        final X3d cnn;
        final DistillationObjective objective;
        final TrainingOptimizer opt;
        final CosineSchedule schedule;
        final DataLoader loader;

        Rig(long seed, int epochs) {
            torch.manual_seed(seed); // before any model exists: every initialization is seeded
            student = student();
            vit = vit();
            cnn = cnn();
            objective = DistillationObjective.builder().studentChannels(channels(student, 4)).vitChannels(channels(vit, 8))
                    .cnnChannels(channels(cnn, 4)).build();
            List<org.bytedeco.pytorch.Module> mods = new ArrayList<>();
            mods.add(student.module());
            mods.addAll(objective.trainableModules());
            opt = Optimizers.create(CFG.optimizer(), mods);
            loader = loader(train, 3);
            schedule = CosineSchedule.of(CFG.optimizer(), new TrainConfig.Schedule(epochs, 0, 0, 0), loader.batchesPerEpoch());
        }

        Trainer.Builder trainer() {
            return Trainer.builder(student, opt, schedule, loader).studentView("student")
                    .distill(objective, List.of(vit, cnn), List.of("vit", "cnn")).clipGradNorm(5.0);
        }

        @Override
        public void close() {
            loader.close();
            opt.close();
            objective.close();
            cnn.close();
            vit.close();
            student.close();
        }
    }

    @Test
    void distillationTrainsLogsCheckpointsAndResumes() throws Exception {
        Path metrics = dir.resolve("metrics.jsonl");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        List<Trainer.EpochStats> full;
        Path ckpt;
        try (Rig rig = new Rig(1, 3);
             Trainer t = rig.trainer().metrics(metrics).progress(2, new PrintStream(err, true, StandardCharsets.UTF_8))
                     .checkpoints(dir.resolve("ckpt"), 1).configJson(CFG.toJson()).build()) {
            full = t.fit(3);
            assertEquals(3, full.size());
            assertEquals(3 * rig.loader.batchesPerEpoch(), t.step());
            assertTrue(full.get(2).meanLoss() < full.get(0).meanLoss(), "loss must decrease: " + full);
            ckpt = t.checkpointPath(1);
            assertTrue(Files.isDirectory(ckpt));
            assertTrue(Files.isDirectory(t.checkpointPath(3)));
        }
        // metrics: every line parses; step lines carry the terms and the teacher weights
        ObjectMapper json = new ObjectMapper();
        List<String> lines = Files.readAllLines(metrics);
        int steps = 0;
        int epochs = 0;
        for (String l : lines) {
            JsonNode n = json.readTree(l);
            if (n.get("type").asText().equals("step")) {
                steps++;
                assertTrue(Double.isFinite(n.get("loss").asDouble()));
                assertEquals(2, n.get("weightMean").size());
                assertTrue(n.has("sdd") && n.has("rkd") && n.has("kd") && n.has("lr") && n.has("clipsPerSec"));
            } else {
                epochs++;
            }
        }
        assertEquals(3, epochs);
        assertTrue(steps >= 3);
        String progress = err.toString(StandardCharsets.UTF_8);
        assertTrue(progress.contains("eta"), progress);

        // resume from the epoch-1 checkpoint in fresh objects (same frozen teachers: seed 1; the student is overwritten):
        // continues at epoch 1 and reproduces epochs 2 and 3
        try (Rig rig = new Rig(1, 3); Trainer t = rig.trainer().progress(100, null).build()) {
            Checkpoint.State s = t.resume(ckpt);
            assertEquals(1, s.epoch());
            assertEquals(1, t.epoch());
            assertEquals(rig.loader.batchesPerEpoch(), t.step());
            assertEquals(t.step(), rig.schedule.step());
            List<Trainer.EpochStats> rest = t.fit(3);
            assertEquals(2, rest.size());
            assertEquals(3 * rig.loader.batchesPerEpoch(), t.step());
            for (int i = 0; i < 2; i++) {
                assertEquals(full.get(i + 1).meanLoss(), rest.get(i).meanLoss(), 1e-4 * Math.abs(full.get(i + 1).meanLoss()),
                        "resumed epoch " + (i + 2));
            }
        }
    }

    @Test
    void crossEntropyOnlyTrainsAndEvaluates() throws Exception {
        torch.manual_seed(5);
        try (X3d s = student(); DataLoader loader = loader(train, 1);
             TrainingOptimizer opt = Optimizers.create(CFG.optimizer(), List.of(s.module()))) {
            CosineSchedule sched = CosineSchedule.of(CFG.optimizer(), new TrainConfig.Schedule(3, 0, 0, 0), loader.batchesPerEpoch());
            try (Trainer t = Trainer.builder(s, opt, sched, loader).progress(100, null).build()) {
                List<Trainer.EpochStats> h = t.fit(3);
                assertTrue(h.get(2).meanLoss() < h.get(0).meanLoss(), "CE must decrease: " + h);
                assertFalse(Double.isNaN(h.get(2).meanCe()));
            }
            EvalResult r = Evaluator.evaluate(s, loader, "student", true, 0);
            assertEquals(train.size(), r.samples());
            assertTrue(r.top1() >= 0 && r.top1() <= 1 && r.top5() >= r.top1());
        }
    }
}
