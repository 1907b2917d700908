package org.dualdistill.cli;

import static org.dualdistill.testing.CliRun.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.dualdistill.testing.CliRun;
import org.dualdistill.testing.CliRun.Result;

/** {@code generate} then {@code distill} through the CLI entry point, as a user runs them. */
class DistillCommandTest {
    @TempDir
    Path dir;


    private Path generate() {
        Path data = dir.resolve("data");
        Result g = run("generate", "--out", data.toString(), "--classes", "4", "--videos-per-class", "6", "--size", "32",
                "--frames", "8", "12", "--seed", "11");
        assertEquals(0, g.code(), g.err());
        assertTrue(g.out().contains("wrote 24 videos"), g.out());
        return data;
    }

    @Test
    void generateThenDistillTrainsEvaluatesAndLogs() throws Exception {
        Path data = generate();
        Path runDir = dir.resolve("run");
        Result r = run("distill", "--data", data.toString(), "--epochs", "2", "--batch", "4", "--seed", "3",
                "--allow-untrained-teachers", "--set", "run.logEvery=100", "--out", runDir.toString());
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("top-1") && r.out().contains("distill"), r.out());

        List<String> lines = Files.readAllLines(runDir.resolve("metrics.jsonl"));
        assertFalse(lines.isEmpty());
        ObjectMapper json = new ObjectMapper();
        int steps = 0;
        int epochs = 0;
        int evals = 0;
        for (String l : lines) {
            JsonNode n = json.readTree(l);
            switch (n.get("type").asText()) {
                case "step" -> {
                    steps++;
                    assertTrue(n.has("sdd") && n.has("rkd") && n.has("weightMean"), l);
                }
                case "eval" -> {
                    evals++;
                    assertTrue(n.get("top1").asDouble() >= 0 && n.get("top1").asDouble() <= 1, l);
                }
                default -> epochs++;
            }
        }
        assertEquals(2, epochs);
        assertEquals(1, evals);
        assertTrue(steps >= 2);
        assertTrue(Files.isDirectory(runDir.resolve("checkpoints").resolve("epoch-0002")));

        Result ce = run("distill", "--data", data.toString(), "--epochs", "1", "--batch", "4", "--ce-only",
                "--set", "run.logEvery=100");
        assertEquals(0, ce.code(), ce.out() + ce.err());
        assertTrue(ce.out().contains("top-1") && ce.out().contains("ce "), ce.out());
    }

    @Test
    void missingDataFolderIsAOneLineErrorNamingThePath() {
        Result r = run("distill", "--data", "/nonexistent/dualdistill-data");
        assertTrue(r.code() != 0);
        assertTrue(r.err().contains("/nonexistent/dualdistill-data"), r.err());
        assertFalse(r.err().contains("Exception") || r.err().contains("\tat "), r.err());
    }

    @Test
    void unknownOverrideKeyIsAOneLineErrorNamingTheKey() {
        Result r = run("distill", "--data", dir.toString(), "--set", "optimizer.nope=1");
        assertTrue(r.code() != 0);
        assertTrue(r.err().contains("optimizer.nope"), r.err());
        assertFalse(r.err().contains("Exception") || r.err().contains("\tat "), r.err());
    }
}
