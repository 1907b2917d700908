package org.dualdistill.inference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.junit.jupiter.api.Test;

/**
 * 10,000 predictions on the tiny model from 4 threads (every 10th one decodes a video from bytes): the process's
 * resident set (VmRSS from /proc/self/status, sampled every 500 predictions after a GC and glibc's malloc_trim) grows
 * less than 5% after a warm-up of 1,000 predictions on the same threads (which settles the allocator's per-thread
 * arenas, LibTorch's caches and the JIT).
 */
class VideoClassifierSoakTest {
    static final int THREADS = 4;

    @Test
    void tenThousandPredictionsKeepTheResidentSetFlat() throws Exception {
        List<ClipInput> clips = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            clips.add(InferenceFixtures.clip(200 + i));
        }
        byte[] video = Files.readAllBytes(InferenceFixtures.video(20));
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        try (VideoClassifier c = VideoClassifier.builder(InferenceFixtures.export()).optMaxBatch(8)
                .optMaxWait(Duration.ofMillis(1)).optQueueCapacity(THREADS).build()) {
            run(pool, c, clips, video, 1_000); // warm-up
            long[] rss = new long[20];
            for (int b = 0; b < rss.length; b++) {
                run(pool, c, clips, video, 500);
                System.gc();
                trim();
                rss[b] = rssKb();
            }
            // Single samples swing by ~15% with transient allocations (JIT and GC work areas come and go between
            // samples), so compare the lowest of the first three samples with the lowest of the last three: a leak
            // lifts every later sample, a transient peak lifts only one.
            long before = Math.min(rss[0], Math.min(rss[1], rss[2]));
            long after = Math.min(rss[17], Math.min(rss[18], rss[19]));
            double growth = (double) (after - before) / before;
            System.out.printf("soak: VmRSS %d kB -> %d kB over 10,000 predictions (%+.2f%%), %d batches; samples (kB) %s%n", before,
                    after, 100 * growth, c.stats().batches(), java.util.Arrays.toString(rss));
            assertEquals(11_000, c.stats().requests());
            assertTrue(growth < 0.05, "RSS grew " + (100 * growth) + "% (" + before + " -> " + after + " kB)");
        } finally {
            pool.shutdownNow();
        }
    }

    private static void run(ExecutorService pool, VideoClassifier c, List<ClipInput> clips, byte[] video, int total)
            throws Exception {
        List<Future<?>> fs = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
            int tt = t;
            fs.add(pool.submit(() -> {
                for (int k = tt; k < total; k += THREADS) {
                    List<Prediction> p = k % 10 == 0 ? c.classify(video, "soak.avi") : c.classify(clips.get(k % clips.size()));
                    if (p.isEmpty()) {
                        throw new AssertionError("no prediction");
                    }
                }
                return null;
            }));
        }
        for (Future<?> f : fs) {
            f.get();
        }
    }

    /**
     * Returns free heap memory to the OS (glibc's malloc_trim), so RSS shows live memory rather than what the allocator
     * happens to cache at the moment of sampling; a leak survives the trim.
     */
    static void trim() {
        try {
            var linker = java.lang.foreign.Linker.nativeLinker();
            var f = linker.defaultLookup().find("malloc_trim");
            if (f.isPresent()) {
                int ignored = (int) linker.downcallHandle(f.get(), java.lang.foreign.FunctionDescriptor.of(
                        java.lang.foreign.ValueLayout.JAVA_INT, java.lang.foreign.ValueLayout.JAVA_LONG)).invokeExact(0L);
            }
        } catch (Throwable t) {
            throw new AssertionError("malloc_trim failed", t);
        }
    }

    /** @return this process's resident set in kB */
    static long rssKb() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IOException("/proc/self/status has no VmRSS");
    }
}
