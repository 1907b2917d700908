package org.dualdistill.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.data.DataLoader;
import org.dualdistill.model.io.SafeTensors;
import org.dualdistill.model.x3d.X3d;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A diverging run (SGD at lr 1e6 on the tiny X3D, cross-entropy alone and with teachers) stops at the step where a
 * loss term or the gradient norm first turns NaN/inf, before that update, naming the step, the term and the learning
 * rate; no checkpoint written along the way holds a non-finite value. Under {@code skip} the bad steps are dropped up
 * to the limit. Every assertion is checked against the run's own metrics log: the step the exception names is the
 * first one that has no finite step record.
 */
class TrainerNonFiniteTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Set<String> TERMS = Set.of("ce", "kd", "sdd", "rkd", "hint", "total", "gradient norm",
            NonFiniteException.MODEL_STATE);

    @TempDir
    Path dir;

    @BeforeAll
    static void data() throws Exception {
        TrainerTest.generate();
    }

    private static TrainConfig cfg(double lr) {
        return TrainConfig.embeddedDemo().withOverrides(List.of("optimizer.lr=" + lr, "optimizer.clipGradNorm=0"));
    }

    /** Step records of a metrics file, in order. */
    private static List<JsonNode> records(Path metrics, String type) throws Exception {
        List<JsonNode> out = new ArrayList<>();
        for (String l : Files.readAllLines(metrics)) {
            JsonNode n = JSON.readTree(l);
            if (n.get("type").asText().equals(type)) {
                out.add(n);
            }
        }
        return out;
    }

    /** Every checkpoint under root: its student weights are all finite; @return the largest saved step. */
    static long assertCheckpointsFinite(Path root) throws Exception {
        long newest = -1;
        if (!Files.isDirectory(root)) {
            return newest;
        }
        List<Path> ckpts;
        try (Stream<Path> s = Files.list(root)) {
            ckpts = s.filter(p -> !p.getFileName().toString().startsWith(".")).toList();
        }
        for (Path c : ckpts) {
            Checkpoint.verify(c);
            try (PointerScope scope = new PointerScope()) {
                for (Map.Entry<String, Tensor> e : SafeTensors.readAll(c.resolve("student.safetensors")).entrySet()) {
                    if (e.getValue().is_floating_point()) {
                        assertTrue(torch.all(torch.isfinite(e.getValue())).item_bool(), c + ": " + e.getKey() + " is non-finite");
                    }
                }
            }
            newest = Math.max(newest, Checkpoint.state(c).step());
        }
        return newest;
    }

    private static CosineSchedule sched(TrainConfig c) {
        try (DataLoader l = TrainerTest.loader(TrainerTest.train, 1)) {
            return CosineSchedule.of(c.optimizer(), new TrainConfig.Schedule(20, 0, 0, 0), l.batchesPerEpoch());
        }
    }

    @Test
    void crossEntropyRunAtLr1e6StopsAtTheFirstNonFiniteStep() throws Exception {
        TrainConfig c = cfg(1e6);
        Path metrics = dir.resolve("metrics.jsonl");
        Path ckpt = dir.resolve("ckpt");
        torch.manual_seed(5);
        NonFiniteException e;
        try (X3d s = TrainerTest.student(); DataLoader loader = TrainerTest.loader(TrainerTest.train, 1);
             TrainingOptimizer opt = Optimizers.create(c.optimizer(), List.of(s.module()))) {
            CosineSchedule sched = CosineSchedule.of(c.optimizer(), new TrainConfig.Schedule(20, 0, 0, 0), loader.batchesPerEpoch());
            try (Trainer t = Trainer.builder(s, opt, sched, loader).progress(100, null).metrics(metrics)
                    .checkpoints(ckpt, 1).checkpointEverySteps(1).build()) {
                e = assertThrows(NonFiniteException.class, () -> t.fit(20));
                assertEquals(e.step(), t.step(), "the trainer stops at the step it names");
            }
            // the failing update was not applied: the weights stay finite
            try (PointerScope scope = new PointerScope()) {
                var ps = s.module().parameters(true);
                for (long i = 0; i < ps.size(); i++) {
                    assertTrue(torch.all(torch.isfinite(ps.get(i))).item_bool(), "parameter " + i + " went non-finite");
                }
            }
        }
        assertTrue(e.term().equals("ce") || e.term().equals("gradient norm"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        // the cosine schedule's rate of that step (peak 1e6), as the message prints it
        assertEquals(sched(c).lrAt(e.step() - 1), e.learningRate(), 1e-9 * e.learningRate());
        assertTrue(e.learningRate() > 9e5 && e.learningRate() <= 1e6, e.getMessage());
        assertTrue(e.getMessage().contains("step " + e.step() + ":") && e.getMessage().contains(
                "learning rate " + String.format(java.util.Locale.ROOT, "%.6g", e.learningRate())), e.getMessage());
        List<JsonNode> steps = records(metrics, "step");
        assertEquals(e.step() - 1, steps.size(), "every step before the named one was logged, and finite");
        for (JsonNode n : steps) {
            assertTrue(Double.isFinite(n.get("loss").asDouble()) && Double.isFinite(n.get("gradNorm").asDouble()), n.toString());
        }
        assertTrue(e.step() > 1, "lr 1e6 diverges after the first update, not before it: " + e.getMessage());
        long newest = assertCheckpointsFinite(ckpt);
        assertTrue(newest >= 1 && newest < e.step(), "newest checkpoint at step " + newest + ", failure at " + e.step());
    }

    @Test
    void distillationRunAtLr1e6NamesTheTermAndWritesNoBadCheckpoint() throws Exception {
        Path metrics = dir.resolve("metrics.jsonl");
        NonFiniteException e;
        try (TrainerTest.Rig rig = new TrainerTest.Rig(1, 20)) {
            TrainConfig c = cfg(1e6);
            try (TrainingOptimizer opt = Optimizers.create(c.optimizer(), new ArrayList<>(rigModules(rig)));
                 Trainer t = Trainer.builder(rig.student, opt,
                         CosineSchedule.of(c.optimizer(), new TrainConfig.Schedule(20, 0, 0, 0), rig.loader.batchesPerEpoch()),
                         rig.loader).studentView("student").distill(rig.objective, List.of(rig.vit, rig.cnn), List.of("vit", "cnn"))
                         .progress(100, null).metrics(metrics).checkpoints(dir.resolve("ckpt"), 1).checkpointEverySteps(1).build()) {
                e = assertThrows(NonFiniteException.class, () -> t.fit(20));
            }
        }
        assertTrue(TERMS.contains(e.term()), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        // a non-finite loss term stops before its step is logged; a finite step that left the state non-finite
        // (BatchNorm's running_var overflowing under the huge but finite logits) was logged, then stopped the run
        boolean stateDiverged = e.term().equals(NonFiniteException.MODEL_STATE);
        assertEquals(stateDiverged ? e.step() : e.step() - 1, records(metrics, "step").size(), e.getMessage());
        if (stateDiverged) {
            assertTrue(e.getMessage().contains("student tensor '"), e.getMessage());
        }
        long newest = assertCheckpointsFinite(dir.resolve("ckpt"));
        assertTrue(newest < e.step(), "newest checkpoint at step " + newest + ", failure at " + e.step());
    }

    private static List<org.bytedeco.pytorch.Module> rigModules(TrainerTest.Rig rig) {
        List<org.bytedeco.pytorch.Module> mods = new ArrayList<>();
        mods.add(rig.student.module());
        mods.addAll(rig.objective.trainableModules());
        return mods;
    }

    @Test
    void skipPolicyDropsBadStepsThenStopsAfterTheLimit() throws Exception {
        TrainConfig c = cfg(1e6);
        Path metrics = dir.resolve("metrics.jsonl");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        torch.manual_seed(5);
        NonFiniteException e;
        try (X3d s = TrainerTest.student(); DataLoader loader = TrainerTest.loader(TrainerTest.train, 1);
             TrainingOptimizer opt = Optimizers.create(c.optimizer(), List.of(s.module()))) {
            CosineSchedule sched = CosineSchedule.of(c.optimizer(), new TrainConfig.Schedule(20, 0, 0, 0), loader.batchesPerEpoch());
            try (Trainer t = Trainer.builder(s, opt, sched, loader).progress(100, new PrintStream(err, true, StandardCharsets.UTF_8))
                    .metrics(metrics).onNonFinite(NonFinitePolicy.SKIP, 3).build()) {
                e = assertThrows(NonFiniteException.class, () -> t.fit(20));
                assertEquals(3, t.skippedSteps());
            }
        }
        // once the weights are huge every later step is non-finite too: three dropped, the fourth stops
        assertEquals(3, e.skipped());
        List<JsonNode> skips = records(metrics, "skip");
        assertEquals(3, skips.size());
        for (int i = 0; i < 3; i++) {
            assertEquals(e.step() - 3 + i, skips.get(i).get("step").asLong());
            assertEquals(i + 1, skips.get(i).get("consecutive").asInt());
        }
        assertTrue(e.getMessage().contains("after 3 consecutive skipped steps"), e.getMessage());
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("skipped"), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void checkpointSaveRefusesNonFiniteWeightsAndKeepsTheOldOne() throws Exception {
        torch.manual_seed(3);
        try (X3d m = TrainerTest.student()) {
            Path ck = dir.resolve("epoch-0001");
            Checkpoint.save(ck, m.module(), null, null, new Checkpoint.State(1, 4, 4, Map.of(), Map.of()), null);
            String before = Checkpoint.sha256(ck.resolve("student.safetensors"));
            try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
                m.module().parameters(true).get(3).view(-1).narrow(0, 0, 1).fill_(new org.bytedeco.pytorch.Scalar(Double.NaN));
            }
            CheckpointException x = assertThrows(CheckpointException.class, () -> Checkpoint.save(ck, m.module(), null, null,
                    new Checkpoint.State(2, 8, 8, Map.of(), Map.of()), null));
            assertTrue(x.getMessage().contains("NaN or infinity") && x.getMessage().contains(ck.toString()), x.getMessage());
            assertEquals(before, Checkpoint.sha256(ck.resolve("student.safetensors")), "the good checkpoint stays");
            assertEquals(4, Checkpoint.state(ck).step());
            CheckpointException y = assertThrows(CheckpointException.class, () -> Checkpoint.save(dir.resolve("epoch-0002"),
                    m.module(), null, null, new Checkpoint.State(2, 8, 8, Map.of(), Map.of()), null));
            assertFalse(Files.exists(dir.resolve("epoch-0002")), y.getMessage());
            try (Stream<Path> s = Files.list(dir)) {
                assertEquals(List.of(ck), s.toList(), "no temporary folder left behind");
            }
        }
    }
}
