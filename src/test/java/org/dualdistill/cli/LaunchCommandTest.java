package org.dualdistill.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.dualdistill.testing.CliRun;

/**
 * {@code dualdistill launch --nproc-per-node 2 -- distill ...} as a user runs it: two rank JVMs on loopback, rank 0
 * alone printing the results and writing metrics and checkpoints, then {@code distill --resume} continuing that
 * 2-rank checkpoint in one process. The JUnit timeout interrupts the launcher, which then kills its ranks.
 */
class LaunchCommandTest {
    @TempDir
    Path dir;

    @Test
    @Timeout(value = 150, unit = TimeUnit.SECONDS)
    void launchesTwoDistillRanksAndTheCheckpointResumesInOneProcess() throws Exception {
        Path data = dir.resolve("data"); // 6 training videos: 3 per rank, one batch of 3 (RKD needs >= 2 clips)
        CliRun.Result g = CliRun.run("generate", "--out", data.toString(), "--classes", "2",
                "--videos-per-class", "4", "--size", "32", "--frames", "8", "10", "--seed", "4");
        assertEquals(0, g.code(), g.err());
        Path run = dir.resolve("run");
        Path logs = dir.resolve("logs");
        CliRun.Result r = CliRun.run("launch", "--nproc-per-node", "2", "--master-port", "0",
                "--log-dir", logs.toString(), "--", "distill", "--data", data.toString(), "--epochs", "1", "--batch", "3",
                "--seed", "3", "--allow-untrained-teachers", "--set", "run.logEvery=100", "--dist-timeout", "30",
                "--out", run.toString());
        String log0 = Files.readString(logs.resolve("rank-0.log"));
        String log1 = Files.readString(logs.resolve("rank-1.log"));
        assertEquals(0, r.code(), r.err() + "\n--- rank 0 ---\n" + log0 + "\n--- rank 1 ---\n" + log1);
        assertTrue(log0.contains("top-1") && log0.contains("distillx2"), log0);
        assertFalse(log1.contains("top-1"), "only rank 0 prints results: " + log1);
        assertTrue(Files.isDirectory(run.resolve("checkpoints/epoch-0001")), log0);
        assertTrue(Files.isRegularFile(run.resolve("metrics.jsonl")));

        CliRun.Result again = CliRun.run("distill", "--data", data.toString(), "--epochs", "2",
                "--batch", "4", "--seed", "3", "--allow-untrained-teachers", "--set", "run.logEvery=100",
                "--resume", run.resolve("checkpoints").toString(), "--out", dir.resolve("run2").toString());
        assertEquals(0, again.code(), again.out() + again.err());
        assertTrue(again.err().contains("at epoch 1"), again.err());
        assertTrue(Files.isDirectory(dir.resolve("run2/checkpoints/epoch-0002")));
    }

    @Test
    void rejectsBadLaunchFlags() {
        CliRun.Result r = CliRun.run("launch", "--nnodes", "2", "--node-rank", "2", "--", "info");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("node-rank"), r.err());
    }
}
