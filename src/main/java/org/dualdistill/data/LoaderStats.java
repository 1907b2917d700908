package org.dualdistill.data;

import java.util.List;

/**
 * Counters of a {@link DataLoader} since it was built, all epochs together. Immutable snapshot.
 *
 * @param batches        batches handed to the consumer
 * @param clips          clips in those batches
 * @param videos         videos (or segments) decoded, once per batch that needed them
 * @param skippedVideos  videos that could not be opened or decoded (missing, corrupt), each time one was needed
 * @param skippedClips   clips left out of their batches because of those
 * @param framesDecoded  frames that came out of the decoders
 * @param corruptFrames  damaged frames the decoders reported (and skipped, see
 *                       {@link org.dualdistill.video.CorruptFramePolicy})
 * @param workerNanos    time workers spent building batches, summed over workers
 * @param waitNanos      time the consumer spent waiting for a batch (high: the loader is the bottleneck)
 * @param elapsedNanos   time since the first epoch started
 * @param recentSkips    the reasons of the last few skips, newest last
 * @param skippedFiles   distinct files among the skipped videos ({@link DataLoader#skippedFiles()})
 */
public record LoaderStats(long batches, long clips, long videos, long skippedVideos, long skippedClips, long framesDecoded,
        long corruptFrames, long workerNanos, long waitNanos, long elapsedNanos, List<String> recentSkips,
        long skippedFiles) {
    /** Copies the list. */
    public LoaderStats {
        recentSkips = List.copyOf(recentSkips);
    }

    /** @return clips delivered per second of wall time since the first epoch started */
    public double clipsPerSecond() {
        return elapsedNanos == 0 ? 0 : clips * 1e9 / elapsedNanos;
    }

    /** @return clips built per second of worker time (per-worker throughput) */
    public double clipsPerWorkerSecond() {
        return workerNanos == 0 ? 0 : clips * 1e9 / workerNanos;
    }
}
