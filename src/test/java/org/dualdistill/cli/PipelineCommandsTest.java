package org.dualdistill.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.dualdistill.export.StudentExport;
import org.dualdistill.model.ModelZoo;
import org.dualdistill.recipe.Recipe;
import org.dualdistill.recipe.TeacherFile;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import org.dualdistill.testing.CliRun;

/**
 * The whole CLI pipeline on a tiny generated dataset, as a user runs it: train-teacher (both archs) -> distill with
 * the trained teachers and --export -> evaluate (checkpoint and export agree) -> export -> predict; then the error
 * paths, each of which must be one line naming the file, exit code 2, no stack trace.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PipelineCommandsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String[] TINY = {"--epochs", "1", "--batch", "4", "--seed", "1",
            "--set", "run.logEvery=100", "--set", "data.flipProbability=0"};

    @TempDir
    static Path dir;
    static Path data;

    static CliRun.Result run(String... args) {
        return CliRun.run(args);
    }

    static String[] with(String[] head, String... tail) {
        String[] a = new String[head.length + tail.length];
        System.arraycopy(head, 0, a, 0, head.length);
        System.arraycopy(tail, 0, a, head.length, tail.length);
        return a;
    }

    @BeforeAll
    static void generate() {
        data = dir.resolve("data");
        var g = run("generate", "--out", data.toString(), "--classes", "2", "--videos-per-class", "4", "--size", "32",
                "--frames", "8", "10", "--seed", "5");
        assertEquals(0, g.code(), g.err());
    }

    private static void assertCleanError(CliRun.Result r, String mustContain) {
        assertEquals(2, r.code(), r.out() + r.err());
        assertTrue(r.err().contains(mustContain), r.err());
        assertFalse(r.err().contains("Exception") || r.err().contains("\tat "), r.err());
    }

    @Test
    @Order(1)
    void trainTeachersDistillEvaluateExportPredict() throws Exception {
        Path vit = dir.resolve("teachers/vit");
        Path cnn = dir.resolve("teachers/cnn");
        var tv = run(with(new String[] {"train-teacher", "--data", data.toString(), "--role", "vit", "--out", vit.toString()}, TINY));
        assertEquals(0, tv.code(), tv.out() + tv.err());
        assertTrue(tv.out().contains("mvit_demo") && Files.isRegularFile(vit.resolve(TeacherFile.FILE)), tv.out());
        assertTrue(Files.readString(vit.resolve("config.json")).contains("\"mvit_demo\""), "the teacher's run config");
        var tc = run(with(new String[] {"train-teacher", "--data", data.toString(), "--role", "cnn", "--out", cnn.toString()}, TINY));
        assertEquals(0, tc.code(), tc.out() + tc.err());
        TeacherFile.Info info = TeacherFile.read(cnn);
        assertEquals("x3d_demo_wide", info.arch());
        assertEquals(ModelZoo.get("x3d_demo_wide").view(), info.view());

        var untrained = run(with(new String[] {"distill", "--data", data.toString(), "--cnn-teacher", cnn.toString()}, TINY));
        assertCleanError(untrained, "no weights for teachers.0 (vit: mvit_demo)");
        assertTrue(untrained.err().contains("--allow-untrained-teachers"), untrained.err());

        Path runDir = dir.resolve("run");
        Path exp = dir.resolve("export");
        var d = run(with(new String[] {"distill", "--data", data.toString(), "--vit-teacher", vit.toString(),
                "--cnn-teacher", cnn.toString(), "--out", runDir.toString(), "--export", exp.toString()}, TINY));
        assertEquals(0, d.code(), d.out() + d.err());
        assertTrue(d.err().contains("teacher vit: mvit_demo") && d.err().contains("teacher cnn: x3d_demo_wide")
                && d.err().contains("weights " + vit.resolve(TeacherFile.FILE)), d.err());
        assertTrue(Files.isRegularFile(exp.resolve(StudentExport.CARD)), d.out());

        Path ckJson = dir.resolve("eval/checkpoint/eval.json");
        Path exJson = dir.resolve("eval/export/eval.json");
        var ek = run("evaluate", "--model", runDir.resolve("checkpoints").toString(), "--data", data.toString(),
                "--out", ckJson.getParent().toString());
        assertEquals(0, ek.code(), ek.out() + ek.err());
        assertTrue(ek.out().contains("top-1") && ek.out().contains("checkpoint"), ek.out());
        var ee = run("evaluate", "--model", exp.toString(), "--data", data.toString(), "--out", exJson.getParent().toString());
        assertEquals(0, ee.code(), ee.out() + ee.err());
        JsonNode k = JSON.readTree(ckJson.toFile());
        JsonNode e = JSON.readTree(exJson.toFile());
        assertEquals(k.get("top1").asDouble(), e.get("top1").asDouble(), "checkpoint and export score the same");
        assertEquals(k.get("confusion"), e.get("confusion"));
        assertEquals(StudentExport.readCard(exp.resolve(StudentExport.CARD)).metrics().get("top1"), k.get("top1").asDouble(),
                "distill's own evaluation is evaluate's default view");
        long videos = k.get("videos").asLong();
        assertTrue(videos > 0);
        long confusionTotal = 0;
        for (JsonNode row : k.get("confusion")) {
            for (JsonNode c : row) {
                confusionTotal += c.asLong();
            }
        }
        assertEquals(videos, confusionTotal);
        assertEquals(2, k.get("perClassAccuracy").size());

        var multi = run("evaluate", "--model", exp.toString(), "--data", data.toString(), "--clips", "2", "--crops", "3");
        assertEquals(0, multi.code(), multi.out() + multi.err());
        assertTrue(multi.out().contains(String.format(" %d %6d", videos, videos * 6).trim()) || multi.out().contains("" + videos * 6),
                multi.out());

        Path exp2 = dir.resolve("export2");
        var x = run("export", "--model", runDir.resolve("checkpoints").toString(), "--data", data.toString(),
                "--out", exp2.toString(), "--metrics", ckJson.getParent().toString());
        assertEquals(0, x.code(), x.out() + x.err());
        var card = StudentExport.readCard(exp2.resolve(StudentExport.CARD));
        assertEquals(k.get("top1").asDouble(), card.metrics().get("top1"));
        assertEquals(StudentExport.readCard(exp.resolve(StudentExport.CARD)).weightsSha256(), card.weightsSha256(),
                "exporting the final checkpoint gives the weights distill --export wrote");

        Path video;
        try (Stream<Path> s = Files.walk(data)) {
            video = s.filter(p -> p.toString().endsWith(".avi")).sorted().findFirst().orElseThrow();
        }
        var p = run("predict", "--model", exp2.toString(), video.toString(), "--json");
        assertEquals(0, p.code(), p.out() + p.err());
        JsonNode preds = JSON.readTree(p.out()).get("predictions");
        assertEquals(2, preds.size(), "top-5 capped at the 2 classes");
        assertEquals(1.0, preds.get(0).get("probability").asDouble() + preds.get(1).get("probability").asDouble(), 1e-5);
        assertTrue(card.classNames().contains(preds.get(0).get("label").asText()));
        var table = run("predict", "--model", exp2.toString(), video.toString(), "--top", "1");
        assertEquals(0, table.code(), table.err());
        assertEquals(preds.get(0).get("label").asText(), table.out().trim().split("\\s+")[0]);

        // error cases that need the artifacts above
        var wrongSlot = run(with(new String[] {"distill", "--data", data.toString(), "--vit-teacher", cnn.toString()}, TINY));
        assertCleanError(wrongSlot, cnn.toString());
        assertTrue(wrongSlot.err().contains("arch x3d_demo_wide (the config says mvit_demo)"), wrongSlot.err());
        var wrongCrop = run("distill", "--data", data.toString(), "--vit-teacher", vit.toString(), "--cnn-teacher",
                cnn.toString(), "--set", "teachers.1.view.crop=48");
        assertCleanError(wrongCrop, "crop 32 (this run feeds 48)");
        var wrongClasses = run("distill", "--data", data.toString(), "--vit-teacher", vit.toString(), "--cnn-teacher",
                cnn.toString(), "--set", "model.numClasses=3");
        assertCleanError(wrongClasses, "model.numClasses is 3 but the dataset has 2 classes");
        var notTeacher = run(with(new String[] {"distill", "--data", data.toString(), "--cnn-teacher",
                exp.resolve(StudentExport.WEIGHTS).toString()}, TINY));
        assertCleanError(notTeacher, "not a teacher written by train-teacher");

        Path bad = dir.resolve("corrupt-checkpoint");
        Path last = Recipe.latestCheckpoint(runDir.resolve("checkpoints"));
        copyTree(last, bad);
        Path weights = bad.resolve("student.safetensors");
        Files.write(weights, new byte[] {1, 2, 3}, StandardOpenOption.WRITE); // same size, wrong bytes
        assertCleanError(run("evaluate", "--model", bad.toString(), "--data", data.toString()), "student.safetensors");
        assertCleanError(run("export", "--model", bad.toString(), "--data", data.toString(), "--out",
                dir.resolve("never").toString()), "student.safetensors");
        assertFalse(Files.exists(dir.resolve("never")));

        Path notVideo = Files.writeString(dir.resolve("notes.avi"), "not a video");
        assertCleanError(run("predict", "--model", exp2.toString(), notVideo.toString()), notVideo.toString());
    }

    /** The nine student rows on the same data with the teachers trained above, fixed views and a disk teacher cache. */
    @Test
    @Order(2)
    void ablationRunsTheNineRowsWithTheTrainedTeachers() throws Exception {
        Path vit = dir.resolve("teachers/vit");
        Path cnn = dir.resolve("teachers/cnn");
        Path report = dir.resolve("ablation");
        Path cache = dir.resolve("teacher-cache");
        var r = run(with(new String[] {"ablation", "--data", data.toString(), "--vit-teacher", vit.toString(), "--cnn-teacher",
                cnn.toString(), "--out", report.toString(), "--fixed-views", "--teacher-cache", cache.toString()}, TINY));
        assertEquals(0, r.code(), r.out() + r.err());
        for (String row : AblationRunner.ROWS) {
            String v = AblationRunner.display(row);
            assertTrue(java.util.regex.Pattern.compile("(?m)^" + java.util.regex.Pattern.quote(v) + "\\s+\\d+\\.\\d\\s")
                    .matcher(r.out()).find(), "row " + v + " missing in:\n" + r.out());
        }
        assertTrue(Files.isRegularFile(report.resolve("index.html")));
        assertTrue(Files.readString(report.resolve("results.json")).contains("\"datw_sdd_rkd\""));
        try (var files = Files.walk(cache)) {
            assertTrue(files.anyMatch(f -> f.toString().endsWith(".bin")), "teacher outputs were cached on disk");
        }
        assertCleanError(run("ablation", "--data", data.toString(), "--vit-teacher", cnn.toString(), "--cnn-teacher",
                cnn.toString()), "arch x3d_demo_wide");
        assertCleanError(run("ablation", "--data", data.toString(), "--vit-teacher", vit.toString(), "--cnn-teacher",
                cnn.toString(), "--teacher-cache", cache.toString()), "--fixed-views");
    }

    @Test
    @Order(3)
    void missingFilesAreOneLineErrorsNamingThem() {
        Path nowhere = dir.resolve("nowhere");
        assertCleanError(run("evaluate", "--model", nowhere.toString(), "--data", data.toString()), nowhere.toString());
        assertCleanError(run("evaluate", "--model", data.toString(), "--data", data.toString()), "neither a checkpoint");
        assertCleanError(run("evaluate", "--model", dir.toString(), "--data", nowhere.toString()), nowhere.toString());
        assertCleanError(run("export", "--model", nowhere.toString(), "--data", data.toString(), "--out",
                dir.resolve("x").toString()), nowhere.toString());
        assertCleanError(run("predict", "--model", nowhere.toString(), "v.avi"), "v.avi");
        assertCleanError(run("distill", "--data", data.toString(), "--vit-teacher", nowhere.toString()), nowhere.toString());
        assertCleanError(run("train-teacher", "--data", data.toString(), "--arch", "resnet", "--out", "t"),
                "--arch: unknown model \"resnet\"");
        assertCleanError(run("train-teacher", "--data", nowhere.toString(), "--arch", "x3d_demo", "--out", "t"),
                nowhere.toString());
        assertCleanError(run("evaluate", "--model", dir.toString(), "--data", data.toString(), "--crops", "2"), "--crops 1 or 3");
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(p, t);
                }
            }
        }
    }
}
