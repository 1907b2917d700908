package org.dualdistill.data.synthetic;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.IntConsumer;

import org.dualdistill.video.EncoderOptions;
import org.dualdistill.video.VideoEncoder;

/**
 * How both synthetic generators ({@link SyntheticActionDataset}, {@link SyntheticWorld}) write their videos: one job
 * renders and encodes one file; jobs run in order on the caller's thread or on a small daemon pool. A video's bytes
 * depend only on its own seed, so the thread count never changes the output. Stateless.
 */
final class RenderJobs {
    /** One video to render and encode. */
    @FunctionalInterface
    interface Job {
        void run() throws IOException;
    }

    private RenderJobs() {
    }

    /** Renders every frame of {@code scene} and encodes it to {@code file}. */
    static void encode(Scene scene, int frames, Path file, EncoderOptions options) throws IOException {
        try (VideoEncoder enc = VideoEncoder.open(file, options)) {
            for (int t = 0; t < frames; t++) {
                enc.writeFrame(scene.render(t));
            }
        }
    }

    /**
     * Runs the jobs, {@code threads} at a time, and reports each finished job's index to {@code onDone} (in job order;
     * null = no report).
     *
     * @param threadName  name of the pool's threads
     * @param failure     message of the IOException for a job failing with a checked cause other than IOException
     * @param interrupted message of the IOException when the caller is interrupted
     * @throws IOException the first failing job's (in job order)
     */
    static void runAll(List<? extends Job> jobs, int threads, IntConsumer onDone, String threadName, String failure,
                       String interrupted) throws IOException {
        if (threads == 1) {
            for (int i = 0; i < jobs.size(); i++) {
                jobs.get(i).run();
                if (onDone != null) {
                    onDone.accept(i);
                }
            }
            return;
        }
        ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, threadName);
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (Job j : jobs) {
                futures.add(pool.submit(() -> {
                    try {
                        j.run();
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                }));
            }
            for (int i = 0; i < futures.size(); i++) {
                try {
                    futures.get(i).get();
                    if (onDone != null) {
                        onDone.accept(i);
                    }
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof UncheckedIOException u) {
                        throw u.getCause();
                    }
                    if (e.getCause() instanceof RuntimeException r) {
                        throw r;
                    }
                    throw new IOException(failure, e.getCause());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException(interrupted, e);
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
