package org.dualdistill.distributed;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.bytedeco.pytorch.global.torch;
import org.dualdistill.data.synthetic.SyntheticActionDataset;
import org.dualdistill.data.synthetic.SyntheticConfig;
import org.dualdistill.internal.torch.TorchRuntime;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Data-parallel training across real JVMs on loopback (Gloo over TCPStore), spawned by {@link Launcher} running
 * {@link RankMain}.
 *
 * <p>Why the comparison with one process is exact: the model ({@link TinyVideoNet}) has no BatchNorm, so each sample's
 * loss depends on that sample alone; the loaders' shards put into step k of ranks 0 and 1 exactly the clips of step
 * k of one loader with twice the batch ({@code DataLoaderShardTest}); each rank's loss is the mean over B clips and
 * the Reducer averages the two gradients, which is the gradient of the mean over the 2B clips. Optimizer, schedule and
 * clipping then see the same numbers, so weights agree up to float32 summation order. (With BatchNorm in training mode
 * this would not hold: each rank normalizes with its own half-batch statistics; see {@link DataParallel}.)
 *
 * <p>Every child JVM and every wait has a hard timeout, so a broken rendezvous fails the test instead of hanging it.
 */
class DistributedTrainingTest {
    private static final int TIMEOUT_S = 20; // rendezvous and collective timeout given to the ranks
    @TempDir
    static Path root;
    static Path data;

    @TempDir
    Path dir;

    @BeforeAll
    static void generate() throws IOException {
        data = root.resolve("videos");
        // 4 classes x 3 videos -> 8 training videos: 2 steps of 2 clips per rank, 2 steps of 4 clips for one process
        SyntheticActionDataset.generate(data, SyntheticConfig.builder().optNumClasses(4).optVideosPerClass(3).optSize(32, 32)
                .optFrames(6, 8).optSeed(21).build());
        assertEquals(8, org.dualdistill.data.Hmdb51Dataset.builder(data).build().size(), "training split size");
    }

    private static Launcher.LocalJob launch(int world, Path logDir, String... args) throws IOException {
        return Launcher.builder(RankMain.class.getName()).optNprocPerNode(world).optMaster("127.0.0.1", 0)
                .addEnv("DUALDISTILL_DIST_TIMEOUT", Integer.toString(TIMEOUT_S)).addEnv("OMP_NUM_THREADS", "1")
                .addJvmArgs(List.of("-Xmx512m")).addArgs(List.of(args)).optLogDir(logDir).optClassPath(testClassPath()).optGrace(Duration.ofSeconds(5))
                .build().start();
    }

    private static String testClassPath() {
        String cp = System.getProperty("surefire.test.class.path");
        return cp != null && !cp.isBlank() ? cp : System.getProperty("java.class.path");
    }

    private static String logs(Launcher.LocalJob job, int n) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (int r = 0; r < n; r++) {
            Path l = job.log(r);
            sb.append("\n--- rank ").append(r).append(" ---\n").append(Files.exists(l) ? tail(Files.readString(l)) : "(no log)");
        }
        return sb.toString();
    }

    private static String tail(String s) {
        return s.length() > 3000 ? s.substring(s.length() - 3000) : s;
    }

    static float[] weights(Path f) throws IOException {
        try (DataInputStream in = new DataInputStream(Files.newInputStream(f))) {
            float[] w = new float[in.readInt()];
            for (int i = 0; i < w.length; i++) {
                w[i] = in.readFloat();
            }
            return w;
        }
    }

    /** Runs RankMain in this JVM (single process), restoring LibTorch's thread count afterwards. */
    private static int inProcess(java.util.Map<String, String> env, String... args) throws IOException {
        int threads = torch.get_num_threads();
        try {
            return RankMain.run(args, env);
        } finally {
            TorchRuntime.setThreads(threads);
        }
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void twoRanksEndIdenticalAndMatchOneProcessOnTheCombinedBatch() throws Exception {
        Path out = dir.resolve("ddp");
        int code;
        try (Launcher.LocalJob job = launch(2, dir.resolve("logs"), data.toString(), out.toString(), "2", "2", "5")) {
            code = job.await(Duration.ofSeconds(90), System.err);
            assertEquals(0, code, "ranks failed:" + logs(job, 2));
        }
        float[] w0 = weights(out.resolve("weights-rank0.bin"));
        float[] w1 = weights(out.resolve("weights-rank1.bin"));
        assertArrayEquals(w0, w1, "both replicas must hold bit-identical weights");
        assertTrue(Files.isDirectory(out.resolve("ckpt/epoch-0002")), "rank 0 writes checkpoints");

        Path ref = dir.resolve("single");
        assertEquals(0, inProcess(java.util.Map.of(), data.toString(), ref.toString(), "2", "4", "5"));
        float[] w = weights(ref.resolve("weights-rank0.bin"));
        assertEquals(w.length, w0.length);
        double maxDiff = 0;
        for (int i = 0; i < w.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(w[i] - w0[i]));
            assertEquals(w[i], w0[i], 1e-5 + 1e-4 * Math.abs(w[i]), "weight " + i);
        }
        System.err.println("2-rank vs 1-process max |dw| = " + maxDiff);
    }

    @Test
    @Timeout(value = 150, unit = TimeUnit.SECONDS)
    void aKilledRankMakesItsPeerFailFastAndTheRunResumesOnAnotherWorldSize() throws Exception {
        Path out = dir.resolve("ddp");
        Path ckpt = out.resolve("ckpt/epoch-0001");
        try (Launcher.LocalJob job = launch(2, dir.resolve("logs"), data.toString(), out.toString(), "6", "2", "9", "-", "300")) {
            Process r0 = job.processes().get(0);
            Process r1 = job.processes().get(1);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
            while (!Files.isDirectory(ckpt) && r0.isAlive() && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertTrue(Files.isDirectory(ckpt), "rank 0 never wrote its first checkpoint:" + logs(job, 2));
            assertTrue(r0.isAlive(), "the run must still be going when rank 1 is killed:" + logs(job, 2));
            r1.destroyForcibly(); // SIGKILL: no goodbye on the sockets beyond the kernel closing them
            long t0 = System.nanoTime();
            assertTrue(r0.waitFor(TIMEOUT_S + 10, TimeUnit.SECONDS), "rank 0 hung after its peer died:" + logs(job, 2));
            double secs = (System.nanoTime() - t0) / 1e9;
            assertNotEquals(0, r0.exitValue(), "rank 0 must fail when its peer dies:" + logs(job, 2));
            String log0 = Files.readString(job.log(0));
            assertTrue(log0.contains("rank 0 of 2") && log0.contains("peer rank"), "rank 0's message must say what happened:" + logs(job, 2));
            assertFalse(log0.contains("finished at step"), log0);
            System.err.printf("rank 0 exited %d, %.2f s after rank 1 was killed: %s%n", r0.exitValue(), secs,
                    log0.lines().filter(l -> l.contains("FAILED")).findFirst().orElse("?"));
        }

        // resume from the last checkpoint rank 0 wrote, on one rank (world size 1 through the same c10d path)
        Path last = latest(out.resolve("ckpt"));
        Path again = dir.resolve("resumed");
        int port = Launcher.freePort();
        assertEquals(0, inProcess(RankMain.env(0, 1, port, TIMEOUT_S), data.toString(), again.toString(), "6", "4", "9", last.toString()));
        assertTrue(Files.isRegularFile(again.resolve("weights-rank0.bin")));
        assertTrue(Files.isDirectory(again.resolve("ckpt/epoch-0006")), "the resumed run completes all 6 epochs");
    }

    private static Path latest(Path ckptRoot) throws IOException {
        try (var s = Files.list(ckptRoot)) {
            return s.filter(p -> p.getFileName().toString().matches("epoch-\\d{4}")).sorted().reduce((a, b) -> b).orElseThrow();
        }
    }
}
