package org.dualdistill.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.bytedeco.pytorch.global.torch;
import org.dualdistill.model.x3d.X3d;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Run-folder rules: resume keeps the metrics history up to the resumed step; resuming a folder whose newest
 * checkpoint is damaged falls back to the newest intact one and names the damaged one; {@code --out} naming a file is
 * one line; a broken {@code optimizer.pt} is one line naming it, without LibTorch's C++ backtrace.
 */
class RunFolderTest {
    @TempDir
    Path dir;

    private static X3d model() {
        return X3d.builder().widthFactor(0.5).depthFactor(0.5).headDimOut(16).numClasses(3).dropout(0).clipLength(2)
                .crop(32).build();
    }

    private static void save(Path ck, X3d m, TrainingOptimizer opt, long epoch, long step) throws IOException {
        Checkpoint.save(ck, m.module(), null, opt, new Checkpoint.State(epoch, step, step, Map.of(), Map.of()), null);
    }

    @Test
    void metricsHistoryIsKeptUpToTheResumedStep() throws IOException {
        Path f = dir.resolve("metrics.jsonl");
        List<String> lines = new ArrayList<>();
        for (int s = 1; s <= 8; s++) {
            lines.add("{\"type\":\"step\",\"epoch\":" + ((s - 1) / 4) + ",\"step\":" + s + ",\"loss\":1.0}");
            if (s % 4 == 0) {
                lines.add("{\"type\":\"epoch\",\"epoch\":" + (s / 4 - 1) + ",\"step\":" + s + ",\"loss\":1.0}");
            }
        }
        lines.add("{\"type\":\"eval\",\"split\":\"test\",\"top1\":0.5}");
        lines.add("{\"type\":\"step\",\"epoch\":2,\"step\":9,\"lo"); // cut short by a crash
        Files.write(f, lines);
        assertEquals(7, MetricsLog.keepUpToStep(f, 4)); // steps 5-8, epoch 1, eval, the cut line
        List<String> kept = Files.readAllLines(f);
        assertEquals(lines.subList(0, 5), kept, "epoch 0 (4 steps and its epoch record) stays");
        assertEquals(0, MetricsLog.keepUpToStep(f, 4), "idempotent");
        assertEquals(0, MetricsLog.keepUpToStep(dir.resolve("none.jsonl"), 4));
        assertFalse(Files.exists(dir.resolve("none.jsonl")));
    }

    @Test
    void resumeFallsBackToTheNewestIntactCheckpointNamingTheDamagedOne() throws IOException {
        Path ckpts = dir.resolve("run").resolve(RunFolder.CHECKPOINTS);
        torch.manual_seed(1);
        try (X3d m = model(); TrainingOptimizer opt = Optimizers.create(TrainConfig.embeddedDemo().optimizer(), List.of(m.module()))) {
            save(ckpts.resolve("epoch-0001"), m, opt, 1, 4);
            save(ckpts.resolve("step-00000006"), m, opt, 1, 6);
            save(ckpts.resolve("epoch-0002"), m, opt, 2, 8);
        }
        List<String> warnings = new ArrayList<>();
        assertEquals(ckpts.resolve("epoch-0002"), RunFolder.resumeCheckpoint(dir.resolve("run"), warnings::add));
        assertEquals(List.of(), warnings);

        Path bad = ckpts.resolve("epoch-0002").resolve("student.safetensors");
        byte[] b = Files.readAllBytes(bad);
        b[b.length / 2] ^= 0x01;
        Files.write(bad, b);
        assertEquals(ckpts.resolve("step-00000006"), RunFolder.resumeCheckpoint(ckpts, warnings::add), "newest by step");
        assertEquals(2, warnings.size(), warnings.toString());
        assertTrue(warnings.get(0).contains(ckpts.resolve("epoch-0002").toAbsolutePath().toString())
                && warnings.get(0).contains("checksum") && !warnings.get(0).contains("\n"), warnings.get(0));
        assertTrue(warnings.get(1).contains("step-00000006"), warnings.get(1));

        Files.delete(ckpts.resolve("step-00000006").resolve(Checkpoint.MANIFEST)); // an unfinished write
        warnings.clear();
        assertEquals(ckpts.resolve("epoch-0001"), RunFolder.resumeCheckpoint(ckpts, warnings::add));
        assertEquals(3, warnings.size(), warnings.toString());

        Files.delete(ckpts.resolve("epoch-0001").resolve("rng.bin"));
        IOException e = assertThrows(IOException.class, () -> RunFolder.resumeCheckpoint(ckpts, w -> { }));
        assertTrue(e.getMessage().startsWith("no intact checkpoint in " + ckpts.toAbsolutePath())
                && e.getMessage().contains("epoch-0002"), e.getMessage());
        // a checkpoint named explicitly is taken as given: loading it reports its own damage
        assertEquals(ckpts.resolve("epoch-0002"), RunFolder.resumeCheckpoint(ckpts.resolve("epoch-0002"), w -> { }));
    }

    @Test
    void outNamingAFileIsOneLine() throws IOException {
        Path f = Files.writeString(dir.resolve("not-a-folder"), "x");
        IOException e = assertThrows(IOException.class, () -> RunFolder.create(f));
        assertEquals(f.toAbsolutePath() + ": exists and is not a folder (the run's output must be a folder; choose another "
                + "path)", e.getMessage());
        IOException under = assertThrows(IOException.class, () -> RunFolder.create(f.resolve("run")));
        assertTrue(under.getMessage().startsWith(f.resolve("run").toAbsolutePath() + ": cannot create the run folder"),
                under.getMessage());
        assertFalse(under.getMessage().contains("\n"));
        RunFolder r = RunFolder.create(dir.resolve("a").resolve("b"));
        assertTrue(Files.isDirectory(r.dir()));
        assertEquals(r.dir().resolve("metrics.jsonl"), r.metrics());
    }

    @Test
    void brokenOptimizerStateIsOneLineNamingTheFile() throws IOException {
        Path ck = dir.resolve("epoch-0001");
        torch.manual_seed(2);
        try (X3d m = model(); TrainingOptimizer opt = Optimizers.create(TrainConfig.embeddedDemo().optimizer(), List.of(m.module()))) {
            save(ck, m, opt, 1, 4);
            // damage optimizer.pt but keep the manifest consistent (as a hostile or foreign file would be)
            byte[] junk = new byte[2048];
            new Random(4).nextBytes(junk);
            Files.write(ck.resolve("optimizer.pt"), junk);
            Files.delete(ck.resolve(Checkpoint.MANIFEST));
            Checkpoint.writeManifest(ck);
            Checkpoint.verify(ck);
            CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.load(ck, m.module(), null, opt));
            assertEquals(ck.resolve("optimizer.pt"), e.file());
            assertFalse(e.getMessage().contains("\n"), e.getMessage());
            assertFalse(e.getMessage().contains("Exception raised from") || e.getMessage().contains(".cpp"), e.getMessage());
            assertTrue(e.getMessage().startsWith(ck.resolve("optimizer.pt") + ": not a readable optimizer state"), e.getMessage());
        }
    }
}
