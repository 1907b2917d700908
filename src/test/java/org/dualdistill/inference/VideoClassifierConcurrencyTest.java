package org.dualdistill.inference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.junit.jupiter.api.Test;

/**
 * 8 threads x 200 requests on one classifier give the results of sequential calls, with no errors.
 *
 * <p>Batched vs single: LibTorch's CPU kernels (the head's matrix products) may round a row differently depending
 * on the batch size and the row's position, so a probability computed in a batch of several clips can differ from
 * the same clip computed alone in the last bits (measured while writing this: logits within 5e-10). With batching
 * on, the test therefore requires the same top-1 class and every probability within 1e-6 of the sequential one, and
 * reports how many results were bit-identical; with batching off ({@code maxBatch = 1}) it requires bit-identical
 * results.
 */
class VideoClassifierConcurrencyTest {
    static final int THREADS = 8;
    static final int PER_THREAD = 200;
    static final int CLIPS = 12;
    static final int VIDEOS = 4;

    /** One request of the mix: a decoded clip or the bytes of a video file. */
    private record Input(ClipInput clip, byte[] video, String name) {
        List<Prediction> classify(VideoClassifier c) throws ClassificationException {
            return clip != null ? c.classify(clip) : c.classify(video, name);
        }
    }

    private static List<Input> inputs() throws Exception {
        List<Input> in = new ArrayList<>();
        for (int i = 0; i < CLIPS; i++) {
            in.add(new Input(InferenceFixtures.clip(100 + i), null, "clip-" + (100 + i)));
        }
        for (int i = 0; i < VIDEOS; i++) {
            in.add(new Input(null, Files.readAllBytes(InferenceFixtures.video(10 + i)), "video-" + i));
        }
        return in;
    }

    @Test
    void eightThreadsBatchedMatchSequentialCalls() throws Exception {
        List<Input> in = inputs();
        try (VideoClassifier c = VideoClassifier.builder(InferenceFixtures.export()).optTopK(4).optMaxBatch(8)
                .optMaxWait(Duration.ofMillis(2)).optQueueCapacity(THREADS).build()) {
            List<List<Prediction>> reference = new ArrayList<>();
            for (Input i : in) {
                reference.add(i.classify(c)); // one at a time: batch size 1
            }
            long before = c.stats().batches();
            List<List<Prediction>>[] got = run(c, in, THREADS, PER_THREAD);
            int exact = 0;
            int total = 0;
            for (int t = 0; t < THREADS; t++) {
                for (int k = 0; k < PER_THREAD; k++) {
                    int which = (t * PER_THREAD + k) % in.size();
                    List<Prediction> ref = reference.get(which);
                    List<Prediction> res = got[t].get(k);
                    total++;
                    if (res.equals(ref)) {
                        exact++;
                        continue;
                    }
                    assertEquals(ref.get(0).index(), res.get(0).index(), "top-1 of " + in.get(which).name());
                    for (Prediction r : ref) {
                        Prediction p = res.stream().filter(x -> x.index() == r.index()).findFirst().orElseThrow();
                        assertEquals(r.probability(), p.probability(), 1e-6, in.get(which).name() + " class " + r.label());
                    }
                }
            }
            VideoClassifier.Stats s = c.stats();
            double meanBatch = (double) (s.clips() - in.size()) / (s.batches() - before);
            System.out.printf("concurrency: %d/%d results bit-identical to sequential calls, mean batch %.2f%n", exact, total, meanBatch);
            assertEquals(THREADS * PER_THREAD, total);
            assertTrue(meanBatch > 1.0, "concurrent requests were micro-batched (mean batch " + meanBatch + ")");
        }
    }

    @Test
    void eightThreadsUnbatchedAreBitIdenticalToSequentialCalls() throws Exception {
        List<Input> in = inputs();
        try (VideoClassifier c = VideoClassifier.builder(InferenceFixtures.export()).optTopK(4).optMaxBatch(1)
                .optQueueCapacity(THREADS).build()) {
            List<List<Prediction>> reference = new ArrayList<>();
            for (Input i : in) {
                reference.add(i.classify(c));
            }
            int perThread = 40;
            List<List<Prediction>>[] got = run(c, in, THREADS, perThread);
            for (int t = 0; t < THREADS; t++) {
                for (int k = 0; k < perThread; k++) {
                    int which = (t * perThread + k) % in.size();
                    assertEquals(reference.get(which), got[t].get(k), in.get(which).name());
                }
            }
            assertEquals(1.0, c.stats().meanBatch());
        }
    }

    @SuppressWarnings("unchecked")
    private static List<List<Prediction>>[] run(VideoClassifier c, List<Input> in, int threads, int perThread) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<List<List<Prediction>>>> fs = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int tt = t;
                Callable<List<List<Prediction>>> job = () -> {
                    List<List<Prediction>> out = new ArrayList<>();
                    for (int k = 0; k < perThread; k++) {
                        out.add(in.get((tt * perThread + k) % in.size()).classify(c));
                    }
                    return out;
                };
                fs.add(pool.submit(job));
            }
            List<List<Prediction>>[] out = new List[threads];
            for (int t = 0; t < threads; t++) {
                out[t] = fs.get(t).get(); // any error in any thread fails the test here
                assertEquals(perThread, out[t].size());
            }
            return out;
        } finally {
            pool.shutdownNow();
        }
    }
}
