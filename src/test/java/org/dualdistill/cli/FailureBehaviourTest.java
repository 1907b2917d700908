package org.dualdistill.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.data.Hmdb51Dataset;
import org.dualdistill.data.LabeledVideo;
import org.dualdistill.model.ModelPreset;
import org.dualdistill.model.ModelZoo;
import org.dualdistill.model.VideoModel;
import org.dualdistill.recipe.TeacherFile;
import org.dualdistill.model.io.SafeTensors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.dualdistill.testing.CliRun;

/**
 * What a user sees when things go wrong, through the CLI entry point: a diverging run, a dataset with no or few
 * usable videos, a resumed run (history kept, damaged newest checkpoint passed over), and the one-line messages for a
 * too-small crop, {@code --out} naming a file and a teacher file with flipped data bytes. Exit code 2 and one
 * {@code distill: ...} line for each failure.
 */
class FailureBehaviourTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern DIVERGED = Pattern.compile(
            "distill: training diverged at step (\\d+): the (ce|kd|sdd|rkd|hint|total) loss is (NaN|[+-]inf)"
                    + "|distill: training diverged at step (\\d+): the (?:global gradient norm is (?:NaN|[+-]inf)"
                    + "|model state is non-finite)");

    @TempDir
    static Path shared;
    static Path data;

    @TempDir
    Path dir;

    @BeforeAll
    static void generate() {
        data = shared.resolve("data");
        CliRun.Result g = CliRun.run("generate", "--out", data.toString(), "--classes", "4",
                "--videos-per-class", "6", "--size", "32", "--frames", "8", "12", "--seed", "11");
        assertEquals(0, g.code(), g.err());
    }

    private static String[] distill(Path out, String... extra) {
        List<String> a = new ArrayList<>(List.of("distill", "--data", data.toString(), "--batch", "4", "--seed", "3",
                "--set", "run.logEvery=100")); // the demo presets' views: 32-pixel crops
        if (out != null) {
            a.add("--out");
            a.add(out.toString());
        }
        a.addAll(List.of(extra));
        return a.toArray(String[]::new);
    }

    /** @return the lines of stderr starting with "distill:" (the failure lines) */
    private static List<String> failureLines(CliRun.Result r) {
        return r.err().lines().filter(l -> l.startsWith("distill:") && !l.startsWith("distill: warning:")).toList();
    }

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

    /** Asserts every checkpoint's student weights are finite; @return the newest saved step, -1 when none. */
    private static long checkpointsAreFinite(Path root) throws Exception {
        long newest = -1;
        if (!Files.isDirectory(root)) {
            return newest;
        }
        List<Path> all;
        try (Stream<Path> s = Files.list(root)) {
            all = s.toList();
        }
        for (Path c : all) {
            assertFalse(c.getFileName().toString().startsWith("."), "left-over temporary folder " + c);
            try (PointerScope scope = new PointerScope()) {
                for (Map.Entry<String, Tensor> e : SafeTensors.readAll(c.resolve("student.safetensors")).entrySet()) {
                    if (e.getValue().is_floating_point()) {
                        assertTrue(torch.all(torch.isfinite(e.getValue())).item_bool(), c + ": " + e.getKey() + " is non-finite");
                    }
                }
            }
            newest = Math.max(newest, JSON.readTree(c.resolve("state.json").toFile()).get("step").asLong());
        }
        return newest;
    }

    private void assertDivergedCleanly(CliRun.Result r, Path out, boolean ceOnly) throws Exception {
        assertEquals(2, r.code(), r.out() + r.err());
        List<String> lines = failureLines(r);
        assertEquals(1, lines.size(), r.err());
        Matcher m = DIVERGED.matcher(lines.get(0));
        assertTrue(m.find(), lines.get(0));
        long step = Long.parseLong(m.group(1) != null ? m.group(1) : m.group(4));
        if (ceOnly) {
            assertTrue(m.group(2) == null || m.group(2).equals("ce"), lines.get(0));
        }
        assertTrue(lines.get(0).contains("learning rate ") && lines.get(0).contains("the newest checkpoint is from before"),
                lines.get(0));
        assertFalse(r.out().contains("top-1"), "no NaN result table: " + r.out());
        List<JsonNode> steps = records(out.resolve("metrics.jsonl"), "step");
        assertEquals(step - 1, steps.size(), "detected at the first step without a finite record");
        for (JsonNode n : steps) {
            assertTrue(Double.isFinite(n.get("loss").asDouble()) && Double.isFinite(n.get("gradNorm").asDouble()), n.toString());
        }
        long newest = checkpointsAreFinite(out.resolve("checkpoints"));
        assertTrue(newest < step, "newest checkpoint at step " + newest + ", divergence at " + step);
    }

    @Test
    void crossEntropyAtLr1e6StopsAtTheDivergingStepWithExit2() throws Exception {
        Path out = dir.resolve("run");
        CliRun.Result r = CliRun.run(distill(out, "--ce-only", "--lr", "1e6", "--epochs", "5"));
        assertDivergedCleanly(r, out, true);
    }

    @Test
    void distillationAtLr1e6StopsNamingTheTerm() throws Exception {
        Path out = dir.resolve("run");
        CliRun.Result r = CliRun.run(distill(out, "--lr", "1e6", "--epochs", "5",
                "--allow-untrained-teachers"));
        assertDivergedCleanly(r, out, false);
    }

    /** A copy of the dataset with the first {@code broken} training videos overwritten by random bytes. */
    private Path breakVideos(int broken) throws Exception {
        Path copy = dir.resolve("data");
        try (Stream<Path> s = Files.walk(data)) {
            for (Path p : s.toList()) {
                Path t = copy.resolve(data.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(p, t);
                }
            }
        }
        List<LabeledVideo> train = Hmdb51Dataset.builder(copy).optSubset(Hmdb51Dataset.Subset.TRAIN).build().videos();
        Random rnd = new Random(7);
        for (int i = 0; i < broken; i++) {
            byte[] junk = new byte[3000];
            rnd.nextBytes(junk);
            Files.write(train.get(i).path(), junk);
        }
        return copy;
    }

    @Test
    void noUsableVideoIsOneLineAndExit2() throws Exception {
        Path bad = breakVideos(Hmdb51Dataset.builder(data).optSubset(Hmdb51Dataset.Subset.TRAIN).build().size());
        Path out = dir.resolve("run");
        CliRun.Result r = CliRun.run("distill", "--data", bad.toString(), "--epochs", "1", "--batch", "4",
                "--ce-only", "--out", out.toString());
        assertEquals(2, r.code(), r.out() + r.err());
        List<String> lines = failureLines(r);
        assertEquals(1, lines.size(), r.err());
        assertTrue(lines.get(0).contains("videos are unusable") || lines.get(0).contains("no usable video"), lines.get(0));
        assertTrue(lines.get(0).contains(" videos unusable: ") && lines.get(0).contains("; full list in "
                + out.resolve("unusable-videos.tsv").toAbsolutePath()), lines.get(0));
        assertFalse(r.out().contains("NaN") || r.out().contains("0.0%"), r.out());
        assertTrue(Files.readAllLines(out.resolve("unusable-videos.tsv")).size() >= 2); // stops at more than 10%
    }

    @Test
    void aPartlyBrokenDatasetTrainsAndReportsItsCount() throws Exception {
        Path bad = breakVideos(1);
        Path out = dir.resolve("run");
        CliRun.Result r = CliRun.run("distill", "--data", bad.toString(), "--epochs", "1", "--batch", "4",
                "--ce-only", "--set", "run.logEvery=100", "--out", out.toString());
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("top-1"), r.out());
        assertTrue(Pattern.compile(": 1 of \\d+ videos unusable: ").matcher(r.err()).find(), r.err());
        assertEquals(1, Files.readAllLines(out.resolve("unusable-videos.tsv")).size());
    }

    @Test
    void resumeKeepsTheHistoryAndPassesOverADamagedNewestCheckpoint() throws Exception {
        Path out = dir.resolve("run");
        CliRun.Result full = CliRun.run(distill(out, "--ce-only", "--epochs", "2"));
        assertEquals(0, full.code(), full.err());
        List<String> before = Files.readAllLines(out.resolve("metrics.jsonl"));
        int perEpoch = records(out.resolve("metrics.jsonl"), "step").size() / 2;
        // the newest checkpoint is damaged: one flipped bit in its weights
        Path w = out.resolve("checkpoints").resolve("epoch-0002").resolve("student.safetensors");
        byte[] b = Files.readAllBytes(w);
        b[b.length - 9] ^= 0x01;
        Files.write(w, b);
        CliRun.Result again = CliRun.run(distill(out, "--ce-only", "--epochs", "2", "--resume",
                out.resolve("checkpoints").toString()));
        assertEquals(0, again.code(), again.err());
        assertTrue(again.err().contains("epoch-0002") && again.err().contains("damaged"), again.err());
        assertTrue(again.err().contains("resumed from " + out.resolve("checkpoints").resolve("epoch-0001").toAbsolutePath()),
                again.err());
        List<String> after = Files.readAllLines(out.resolve("metrics.jsonl"));
        assertEquals(before.size(), after.size(), "history kept, the resumed epoch logged once: " + after);
        assertEquals(before.subList(0, perEpoch + 1), after.subList(0, perEpoch + 1), "epoch 1's lines are the original ones");
        assertEquals(2 * perEpoch, records(out.resolve("metrics.jsonl"), "step").size());
        assertEquals(2, records(out.resolve("metrics.jsonl"), "epoch").size());
    }

    @Test
    void tooSmallCropNamesTheKey() {
        CliRun.Result r = CliRun.run("distill", "--data", data.toString(), "--epochs", "1",
                "--ce-only", "--set", "model.view.crop=16");
        assertEquals(2, r.code(), r.err());
        assertEquals(List.of("distill: model.view.crop: must be >= 32 for x3d_demo (X3D's five stride-2 stages), got 16"),
                failureLines(r));
    }

    @Test
    void outNamingAFileSaysSo() throws Exception {
        Path f = Files.writeString(dir.resolve("a-file"), "x");
        CliRun.Result r = CliRun.run(distill(f, "--ce-only", "--epochs", "1"));
        assertEquals(2, r.code(), r.err());
        assertEquals(List.of("distill: " + f.toAbsolutePath() + ": exists and is not a folder (the run's output must be a "
                + "folder; choose another path)"), failureLines(r));
    }

    @Test
    void teacherWithFlippedDataBytesIsOneLineNamingTheFile() throws Exception {
        Hmdb51Dataset train = Hmdb51Dataset.builder(data).optSubset(Hmdb51Dataset.Subset.TRAIN).build();
        Path file = dir.resolve("cnn.safetensors");
        ModelPreset p = ModelZoo.get("x3d_demo_wide"); // the demo's CNN teacher, at its preset view
        try (VideoModel t = p.build(train.numClasses(), p.view())) {
            TeacherFile.write(file, t, new TeacherFile.Info(file, p.name(), train.numClasses(), train.classNames(), p.view()));
        }
        byte[] b = Files.readAllBytes(file);
        for (int i = b.length - 4000; i < b.length; i += 97) {
            b[i] ^= (byte) 0x7f; // exponent bits: some weights become huge, NaN or infinite
        }
        Files.write(file, b);
        CliRun.Result r = CliRun.run(distill(null, "--epochs", "1", "--allow-untrained-teachers",
                "--cnn-teacher", file.toString()));
        assertEquals(2, r.code(), r.err());
        List<String> lines = failureLines(r);
        assertEquals(1, lines.size(), r.err());
        assertTrue(lines.get(0).contains(file.toString()) && lines.get(0).contains("corrupted"), lines.get(0));
    }
}
