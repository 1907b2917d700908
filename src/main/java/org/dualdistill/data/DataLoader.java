package org.dualdistill.data;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dualdistill.internal.torch.TorchRuntime;
import org.dualdistill.video.Clip;
import org.dualdistill.video.ClipPlan;
import org.dualdistill.video.DecodeOptions;
import org.dualdistill.video.MultiViewSampler;
import org.dualdistill.video.Timeline;
import org.dualdistill.video.VideoSource;
import org.dualdistill.video.ViewRecord;
import org.dualdistill.video.ViewSpec;

/**
 * Decodes a {@link VideoDataset} into {@link Batch}es on worker threads, ahead of the training loop.
 *
 * <pre>{@code
 * MultiViewSampler views = MultiViewSampler.of(ClipSampler.random(13, 6), VideoTransform.train(182, 228),
 *         ViewSpec.of("student", 13, 160), ViewSpec.of("teacher", 16, 224));
 * try (DataLoader loader = DataLoader.builder(dataset, views).optBatchSize(8).optWorkers(2).optSeed(1).build()) {
 *     for (int epoch = 0; epoch < epochs; epoch++) {
 *         for (Batch b : loader.epoch(epoch)) {
 *             try (b) {
 *                 Tensor x = b.data("student"); // float32 [B, 3, 13, 160, 160]
 *                 ...
 *             }
 *         }
 *     }
 * }
 * }</pre>
 *
 * <p>Work: an epoch's clips are {@code dataset.size() x clipsPerVideo} (the clip sampler's), in the order of a
 * per-epoch shuffle of the videos, cut into batches of {@code batchSize}. Workers claim batches in order and build
 * each one whole: for every video in it they open the file (each worker keeps its last few {@link VideoSource}s open,
 * so segments of one long video do not rescan it), plan its clips, decode the union of the frames all views of those
 * clips need in one pass ("decode once, sample several"), and render every view straight into the batch tensors.
 * At most {@code prefetch} batches are claimed but not yet consumed (queued or in progress), which bounds memory.
 *
 * <p>Determinism: the shuffle depends only on (seed, epoch) and each video's windows and augmentations only on
 * (seed, epoch, video index), and batches reach the consumer in order; so the same seed and epoch give the same
 * batches whatever the number of workers.
 *
 * <p>Sharding ({@link Builder#optShard}): for data-parallel training each of {@code worldSize} ranks builds its own
 * loader with the same seed and its {@code rank}. Every rank computes the same per-epoch shuffle of all videos, pads it
 * by wrapping around to a multiple of {@code worldSize} (PyTorch's {@code DistributedSampler}, {@code drop_last=False})
 * and keeps positions {@code rank, rank + worldSize, ...}: the shards are disjoint (but for the few padding
 * repeats), change every epoch, and have the same number of videos and hence of batches on every rank. Since a video's
 * windows and augmentations depend only on (seed, epoch, video index), batch {@code k} of ranks {@code 0..W-1} together
 * hold exactly the clips of batch {@code k} of an unsharded loader with {@code W} times the batch size (when no padding
 * is needed and each video yields one clip). With {@code optShardPadding(false)} (evaluation) nothing is repeated and
 * shards may differ in size by one video.
 *
 * <p>Failures: a video that cannot be opened or decoded (missing, corrupt, truncated) is a counted skip
 * ({@link LoaderStats}; logged at DEBUG level per occurrence, and gathered per file: {@link #skippedFiles()},
 * {@link #skipSummary()}, and the list file of {@link Builder#optSkipList}): its clips are left out and the batch is
 * smaller; a batch whose clips were all skipped is not delivered. The consumer's {@code hasNext()} throws
 * {@link UnusableDataException} when an epoch had batches to make but delivered none (nothing is usable), or as soon
 * as more than {@link Builder#optMaxSkippedFraction} of the epoch's videos are unusable files. Anything else (a bug,
 * out of memory) stops the epoch: the consumer's next {@code hasNext()} throws {@link IllegalStateException} with
 * the cause.
 *
 * <p>Ownership and threads: the loader owns its worker threads and everything they made that was not yet handed
 * over; each delivered batch is owned by the consumer, who closes it. Calling {@link #epoch(int)} again supersedes the
 * previous epoch and frees its queued batches. {@link #close()} stops the workers promptly (each finishes at most
 * the video it is decoding), frees queued batches and returns; it is idempotent. One consumer thread at a time.
 */
@SuppressWarnings("try") // a PointerScope is opened for what it collects, not referenced
public final class DataLoader implements AutoCloseable {
    static {
        TorchRuntime.init();
    }

    private static final System.Logger LOG = System.getLogger("org.dualdistill.data");
    /** Marks a batch whose clips were all skipped. */
    private static final Object EMPTY = new Object();
    private static final int RECENT_SKIPS = 16;
    /** Files named in a one-line summary. */
    private static final int SUMMARY_NAMES = 3;

    private final VideoDataset dataset;
    private final MultiViewSampler sampler;
    private final int batchSize;
    private final int prefetch;
    private final boolean shuffle;
    private final long seed;
    private final boolean dropLast;
    private final DecodeOptions decodeOptions;
    private final int openSources;
    private final int maxDecodeFrames;
    private final int shardRank;
    private final int shardCount;
    private final boolean shardPadding;
    private final Thread[] workers;

    private final Object lock = new Object();
    private volatile boolean closed;
    private Epoch current; // guarded by lock
    private long firstEpochNanos; // guarded by lock; 0 = no epoch yet

    private final AtomicLong batches = new AtomicLong();
    private final AtomicLong clips = new AtomicLong();
    private final AtomicLong videos = new AtomicLong();
    private final AtomicLong skippedVideos = new AtomicLong();
    private final AtomicLong skippedClips = new AtomicLong();
    private final AtomicLong framesDecoded = new AtomicLong();
    private final AtomicLong corruptFrames = new AtomicLong();
    private final AtomicLong workerNanos = new AtomicLong();
    private final AtomicLong waitNanos = new AtomicLong();
    private final ArrayDeque<String> recentSkips = new ArrayDeque<>();
    private final double maxSkippedFraction;
    private final Path skipList;
    private final boolean pinMemory;
    private final LinkedHashMap<Path, String> skippedFiles = new LinkedHashMap<>(); // guarded by itself
    private int summarized; // guarded by skippedFiles: files already in a skipSummary()

    private DataLoader(Builder b) {
        this.dataset = b.dataset;
        this.sampler = b.sampler;
        this.batchSize = b.batchSize;
        this.prefetch = b.prefetch > 0 ? b.prefetch : 2 * b.workers;
        this.shuffle = b.shuffle;
        this.seed = b.seed;
        this.dropLast = b.dropLast;
        this.decodeOptions = b.decodeOptions;
        this.openSources = b.openSources;
        this.maxDecodeFrames = b.maxDecodeFrames;
        this.shardRank = b.shardRank;
        this.shardCount = b.shardCount;
        this.shardPadding = b.shardPadding;
        this.maxSkippedFraction = b.maxSkippedFraction;
        this.skipList = b.skipList;
        this.pinMemory = b.pinMemory;
        if (dataset.numExtraLabels() > 0) {
            for (LabeledVideo v : dataset.videos()) {
                if (v.extraLabels().size() != dataset.numExtraLabels()) {
                    throw new IllegalArgumentException("all examples must carry " + dataset.numExtraLabels() + " extra labels; " + v.id() + " has "
                            + v.extraLabels().size());
                }
            }
        }
        this.workers = new Thread[b.workers];
        for (int i = 0; i < workers.length; i++) {
            Thread t = new Thread(this::work, "dualdistill-loader-" + i);
            t.setDaemon(true);
            workers[i] = t;
        }
        for (Thread t : workers) {
            t.start();
        }
    }

    /**
     * @param dataset the examples
     * @param sampler the clips and views to make from each
     * @return a builder (batch 8, 2 workers, prefetch 2 x workers, shuffled, seed 0)
     */
    public static Builder builder(VideoDataset dataset, MultiViewSampler sampler) {
        return new Builder(dataset, sampler);
    }

    /** Builder for {@link DataLoader}; {@code opt*} methods set optional fields. Not thread-safe. */
    public static final class Builder {
        private final VideoDataset dataset;
        private final MultiViewSampler sampler;
        private int batchSize = 8;
        private int workers = 2;
        private int prefetch;
        private boolean shuffle = true;
        private long seed;
        private boolean dropLast;
        private DecodeOptions decodeOptions = DecodeOptions.defaults();
        private int openSources = 2;
        private int maxDecodeFrames = 256;
        private int shardRank;
        private int shardCount = 1;
        private boolean shardPadding = true;
        private double maxSkippedFraction = 1.0;
        private Path skipList;
        private boolean pinMemory;

        private Builder(VideoDataset dataset, MultiViewSampler sampler) {
            if (dataset == null || sampler == null) {
                throw new IllegalArgumentException("dataset and sampler must not be null");
            }
            this.dataset = dataset;
            this.sampler = sampler;
        }

        /**
         * @param size clips per batch, &gt;= 1
         * @return this
         */
        public Builder optBatchSize(int size) {
            check(size >= 1, "batch size must be >= 1, got " + size);
            this.batchSize = size;
            return this;
        }

        /**
         * @param workers decoding threads, 1..256 (each decodes with one FFmpeg thread)
         * @return this
         */
        public Builder optWorkers(int workers) {
            check(workers >= 1 && workers <= 256, "workers must be in [1, 256], got " + workers);
            this.workers = workers;
            return this;
        }

        /**
         * @param batches how many batches may be claimed but not yet consumed (default 2 x workers)
         * @return this
         */
        public Builder optPrefetch(int batches) {
            check(batches >= 1, "prefetch must be >= 1, got " + batches);
            this.prefetch = batches;
            return this;
        }

        /**
         * @param shuffle whether each epoch visits the videos in a seeded random order (default true)
         * @return this
         */
        public Builder optShuffle(boolean shuffle) {
            this.shuffle = shuffle;
            return this;
        }

        /**
         * @param seed the seed of shuffles, windows and augmentations
         * @return this
         */
        public Builder optSeed(long seed) {
            this.seed = seed;
            return this;
        }

        /**
         * @param dropLast whether a final batch smaller than the batch size is left out
         * @return this
         */
        public Builder optDropLast(boolean dropLast) {
            this.dropLast = dropLast;
            return this;
        }

        /**
         * @param options how workers open videos (default: one thread, native size; a size here makes the crop boxes
         *                refer to that size)
         * @return this
         */
        public Builder optDecodeOptions(DecodeOptions options) {
            check(options != null, "decode options must not be null");
            this.decodeOptions = options;
            return this;
        }

        /**
         * @param sources videos each worker keeps open for reuse, &gt;= 1 (default 2)
         * @return this
         */
        public Builder optOpenSourcesPerWorker(int sources) {
            check(sources >= 1, "open sources per worker must be >= 1, got " + sources);
            this.openSources = sources;
            return this;
        }

        /**
         * @param frames the most frames one decode pass may hold; a video's clips are decoded in several passes when
         *               their frames together exceed it (default 256)
         * @return this
         */
        public Builder optMaxDecodeFrames(int frames) {
            check(frames >= 1, "max decode frames must be >= 1, got " + frames);
            this.maxDecodeFrames = frames;
            return this;
        }

        /**
         * Restricts every epoch to one rank's shard of the (shuffled) videos, for data-parallel training; see the
         * class comment. Every rank must use the same seed, batch size and dataset.
         *
         * @param rank      this rank, in [0, worldSize)
         * @param worldSize number of ranks, &gt;= 1 (1 = no sharding)
         * @return this
         */
        public Builder optShard(int rank, int worldSize) {
            check(worldSize >= 1, "world size must be >= 1, got " + worldSize);
            check(rank >= 0 && rank < worldSize, "rank must be in [0, " + worldSize + "), got " + rank);
            this.shardRank = rank;
            this.shardCount = worldSize;
            return this;
        }

        /**
         * @param pad whether shards are padded by repeating videos so that every rank gets the same number of batches
         *            (default true: required for training, where every step is a collective; use false for
         *            evaluation, where repeats would be counted twice)
         * @return this
         */
        public Builder optShardPadding(boolean pad) {
            this.shardPadding = pad;
            return this;
        }

        /**
         * @param fraction the largest fraction of an epoch's videos that may be unusable files, in [0, 1]: when more
         *                 distinct files than {@code fraction x videosPerEpoch()} have failed to open or decode, the
         *                 consumer's next {@code hasNext()} throws {@link UnusableDataException}. Default 1 (never;
         *                 an epoch that delivers no batch at all throws in any case)
         * @return this
         */
        public Builder optMaxSkippedFraction(double fraction) {
            check(fraction >= 0 && fraction <= 1, "max skipped fraction must be in [0, 1], got " + fraction);
            this.maxSkippedFraction = fraction;
            return this;
        }

        /**
         * @param file where every unusable file is listed, one {@code path<TAB>reason} line each, as they are met
         *             (replaced on the first skip of this loader), or null for none (default)
         * @return this
         */
        public Builder optSkipList(Path file) {
            this.skipList = file;
            return this;
        }

        /**
         * @param pin whether the workers render batches into pinned (page-locked) host memory, from which a
         *            {@link DevicePrefetcher} copies to a CUDA device without blocking (default false). Needs CUDA:
         *            {@link #build} refuses it in one line on the CPU build of LibTorch or without a device.
         * @return this
         */
        public Builder optPinMemory(boolean pin) {
            this.pinMemory = pin;
            return this;
        }

        /**
         * Starts the worker threads; they wait for {@link DataLoader#epoch(int)}.
         *
         * @return the loader; caller must close it
         */
        public DataLoader build() {
            if (pinMemory) {
                DevicePrefetcher.requireCuda();
            }
            return new DataLoader(this);
        }

        private static void check(boolean ok, String message) {
            if (!ok) {
                throw new IllegalArgumentException(message);
            }
        }
    }

    /** One epoch's work and results; all mutable fields guarded by the loader's lock. */
    private static final class Epoch {
        final int number;
        final int[] order;
        final int totalClips;
        final int numBatches;
        final Map<Integer, Object> results = new HashMap<>();
        int firstBatch;
        int delivered;
        int nextClaim;
        int consumed;
        Batch pending;
        boolean iterated;
        volatile boolean cancelled;

        Epoch(int number, int[] order, int totalClips, int numBatches) {
            this.number = number;
            this.order = order;
            this.totalClips = totalClips;
            this.numBatches = numBatches;
        }
    }

    /** @return the dataset */
    public VideoDataset dataset() {
        return dataset;
    }

    /** @return the sampler */
    public MultiViewSampler sampler() {
        return sampler;
    }

    /** @return clips per epoch, {@code videosPerEpoch() x clipsPerVideo} */
    public int clipsPerEpoch() {
        return Math.multiplyExact(videosPerEpoch(), sampler.clipsPerVideo());
    }

    /** @return videos per epoch: the dataset's size, or this rank's shard of it (padded unless disabled) */
    public int videosPerEpoch() {
        int n = dataset.size();
        if (shardCount == 1) {
            return n;
        }
        return shardPadding ? (n + shardCount - 1) / shardCount : (n - shardRank + shardCount - 1) / shardCount;
    }

    /** @return batches per epoch (before skips) */
    public int batchesPerEpoch() {
        int n = clipsPerEpoch();
        return dropLast ? n / batchSize : (n + batchSize - 1) / batchSize;
    }

    /**
     * Starts an epoch; a previous epoch still running is abandoned and its queued batches are freed.
     *
     * @param epoch the epoch number (it seeds the shuffle and the augmentations), &gt;= 0
     * @return the epoch's batches, in order; iterate it once, from one thread, and close every batch
     * @throws IllegalStateException if the loader is closed
     */
    public Iterable<Batch> epoch(int epoch) {
        return epoch(epoch, 0);
    }

    /**
     * The rest of an epoch from batch {@code fromBatch} on: the same batches {@link #epoch(int)} yields at those
     * positions (a batch depends only on the seed, the epoch and its index), without decoding the ones before. This is
     * how training resumes mid-epoch.
     *
     * @param epoch     the epoch number (>= 0)
     * @param fromBatch index of the first batch to yield, in {@code [0, batchesPerEpoch()]}
     * @return the batches from {@code fromBatch} on; same contract as {@link #epoch(int)}
     */
    public Iterable<Batch> epoch(int epoch, int fromBatch) {
        if (epoch < 0) {
            throw new IllegalArgumentException("epoch must be >= 0, got " + epoch);
        }
        if (fromBatch < 0 || fromBatch > batchesPerEpoch()) {
            throw new IllegalArgumentException("fromBatch must be in [0, " + batchesPerEpoch() + "], got " + fromBatch);
        }
        int n = dataset.size();
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        if (shuffle) {
            SplittableRandom rnd = new SplittableRandom(mix(seed, epoch, -1));
            for (int i = n - 1; i > 0; i--) {
                int j = rnd.nextInt(i + 1);
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
        }
        if (shardCount > 1) {
            // DistributedSampler: pad by wrapping around, then take every shardCount-th position from shardRank
            int[] shard = new int[videosPerEpoch()];
            for (int i = 0; i < shard.length; i++) {
                shard[i] = order[(shardRank + i * shardCount) % Math.max(n, 1)];
            }
            order = shard;
        }
        Epoch ep = new Epoch(epoch, order, clipsPerEpoch(), batchesPerEpoch());
        ep.nextClaim = fromBatch;
        ep.consumed = fromBatch;
        ep.firstBatch = fromBatch;
        synchronized (lock) {
            if (closed) {
                throw new IllegalStateException("DataLoader is closed");
            }
            if (current != null) {
                cancel(current);
            }
            current = ep;
            if (firstEpochNanos == 0) {
                firstEpochNanos = System.nanoTime();
            }
            lock.notifyAll();
        }
        return () -> {
            synchronized (lock) {
                if (ep.iterated) {
                    throw new IllegalStateException("epoch " + epoch + " is already being iterated; call epoch() again for a new pass");
                }
                ep.iterated = true;
            }
            return new Iterator<>() {
                @Override
                public boolean hasNext() {
                    return fetch(ep);
                }

                @Override
                public Batch next() {
                    if (!fetch(ep)) {
                        throw new NoSuchElementException("epoch " + epoch + " has no more batches");
                    }
                    synchronized (lock) {
                        Batch b = ep.pending;
                        ep.pending = null;
                        return b;
                    }
                }
            };
        };
    }

    /** Waits for the epoch's next delivered batch and parks it in {@code ep.pending}; false at the end. */
    private boolean fetch(Epoch ep) {
        long t0 = System.nanoTime();
        try {
            synchronized (lock) {
                while (true) {
                    if (closed) {
                        throw new IllegalStateException("DataLoader is closed");
                    }
                    if (ep.cancelled) {
                        throw new IllegalStateException("epoch " + ep.number + " was superseded by a later epoch() call");
                    }
                    if (ep.pending != null) {
                        return true;
                    }
                    UnusableDataException tooMany = tooManySkipped();
                    if (tooMany != null) {
                        cancel(ep);
                        throw tooMany;
                    }
                    if (ep.consumed >= ep.numBatches) {
                        if (ep.delivered == 0 && ep.numBatches > ep.firstBatch) {
                            cancel(ep);
                            throw unusable("no usable video: all " + (ep.numBatches - ep.firstBatch) + " batches of epoch "
                                    + ep.number + " were empty");
                        }
                        return false;
                    }
                    Object r = ep.results.remove(ep.consumed);
                    if (r == null) {
                        lock.wait(); // a worker filing a result (and its skips) wakes us
                        continue;
                    }
                    ep.consumed++;
                    lock.notifyAll(); // a prefetch slot is free
                    if (r instanceof Throwable t) {
                        cancel(ep);
                        throw new IllegalStateException("data loader worker failed on batch " + (ep.consumed - 1) + " of epoch " + ep.number, t);
                    }
                    if (r instanceof Batch b) {
                        batches.incrementAndGet();
                        clips.addAndGet(b.size());
                        ep.delivered++;
                        ep.pending = b;
                        return true;
                    }
                    // EMPTY: every clip of that batch was skipped
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for a batch", e);
        } finally {
            waitNanos.addAndGet(System.nanoTime() - t0);
        }
    }

    /** Marks an epoch abandoned and frees what it holds; under the lock. */
    private void cancel(Epoch ep) {
        ep.cancelled = true;
        for (Object r : ep.results.values()) {
            if (r instanceof Batch b) {
                b.close();
            }
        }
        ep.results.clear();
        if (ep.pending != null) {
            ep.pending.close();
            ep.pending = null;
        }
        lock.notifyAll();
    }

    /** A worker thread: claims batches of the current epoch in order, builds them, files the results. */
    private void work() {
        SourceCache cache = new SourceCache();
        try {
            while (true) {
                Epoch ep;
                int k;
                synchronized (lock) {
                    while (true) {
                        if (closed) {
                            return;
                        }
                        ep = current;
                        if (ep != null && !ep.cancelled && ep.nextClaim < ep.numBatches && ep.nextClaim - ep.consumed < prefetch) {
                            k = ep.nextClaim++;
                            break;
                        }
                        lock.wait();
                    }
                }
                Object result;
                try {
                    result = build(ep, k, cache);
                } catch (Throwable t) {
                    result = t;
                }
                synchronized (lock) {
                    if (ep.cancelled || closed) {
                        if (result instanceof Batch b) {
                            b.close();
                        }
                    } else if (result != null) {
                        ep.results.put(k, result);
                    }
                    lock.notifyAll();
                }
            }
        } catch (InterruptedException e) {
            // close() stops the worker
        } finally {
            cache.close();
        }
    }

    /** Builds batch k: a Batch, EMPTY when every clip was skipped, or null when the epoch was abandoned. */
    private Object build(Epoch ep, int k, SourceCache cache) {
        long t0 = System.nanoTime();
        List<ViewSpec> views = sampler.views();
        int nv = views.size();
        int cpv = sampler.clipsPerVideo();
        int extraK = dataset.numExtraLabels();
        int from = k * batchSize;
        int to = Math.min(from + batchSize, ep.totalClips);
        int n = to - from;
        try (PointerScope scope = new PointerScope()) {
            Tensor[] out = new Tensor[nv];
            for (int v = 0; v < nv; v++) {
                ViewSpec s = views.get(v);
                TensorOptions o = new TensorOptions(ScalarType.Float);
                out[v] = torch.empty(new long[] {n, 3, s.frames(), s.height(), s.width()},
                        pinMemory ? o.pinned_memory(new BoolOptional(true)) : o, null);
            }
            Fill fill = new Fill(out, n, extraK, nv);
            int p = from;
            while (p < to) {
                if (ep.cancelled || closed) {
                    return null;
                }
                int c0 = p % cpv;
                int c1 = Math.min(cpv, c0 + (to - p));
                int index = ep.order[p / cpv];
                addVideo(ep, index, dataset.get(index), c0, c1, fill, cache);
                p += c1 - c0;
            }
            int f = fill.filled;
            if (f == 0) {
                return EMPTY;
            }
            Tensor[] all = new Tensor[nv + 2];
            for (int v = 0; v < nv; v++) {
                all[v] = f == n ? out[v] : pinned(out[v].narrow(0, 0, f).clone());
            }
            all[nv] = pinned(Tensor.create(Arrays.copyOf(fill.labels, f)));
            all[nv + 1] = extraK == 0 ? null : pinned(Tensor.create(Arrays.copyOf(fill.extra, f * extraK), f, extraK));
            for (Tensor t : all) {
                if (t != null) {
                    t.retainReference();
                }
            }
            return new Batch(ep.number, k, sampler.viewNames(), all, fill.videos, fill.records);
        } finally {
            workerNanos.addAndGet(System.nanoTime() - t0);
        }
    }

    /** @return {@code t}, or its copy in pinned memory with {@link Builder#optPinMemory} */
    private Tensor pinned(Tensor t) {
        return pinMemory ? t.pin_memory() : t;
    }

    /** What a batch under construction has collected. */
    private static final class Fill {
        final Tensor[] out;
        final long[] labels;
        final long[] extra;
        final int extraK;
        final List<LabeledVideo> videos = new ArrayList<>();
        final List<List<ViewRecord>> records = new ArrayList<>();
        int filled;

        Fill(Tensor[] out, int n, int extraK, int nv) {
            this.out = out;
            this.labels = new long[n];
            this.extra = new long[n * extraK];
            this.extraK = extraK;
            for (int v = 0; v < nv; v++) {
                records.add(new ArrayList<>());
            }
        }
    }

    /** Renders clips {@code [c0, c1)} of one video into the batch; a video that cannot be read is a counted skip. */
    private void addVideo(Epoch ep, int index, LabeledVideo video, int c0, int c1, Fill fill, SourceCache cache) {
        SourceCache.Entry e;
        try {
            e = cache.open(video.path());
        } catch (IOException ex) {
            skip(video, c1 - c0, ex);
            return;
        }
        videos.incrementAndGet();
        long fromUs = video.startUs();
        long toUs = video.endUs() == LabeledVideo.TO_END ? e.timeline().durationUs() : video.endUs();
        SplittableRandom rnd = new SplittableRandom(mix(seed, ep.number, index));
        List<ClipPlan> plans = sampler.plan(video.id(), e.timeline(), e.source().outputWidth(), e.source().outputHeight(), fromUs, toUs, rnd)
                .subList(c0, c1);
        int i = 0;
        while (i < plans.size()) {
            // one decode pass for as many clips as fit under the frame cap (always at least one)
            int j = i + 1;
            while (j < plans.size() && MultiViewSampler.framesOf(plans.subList(i, j + 1)).length <= maxDecodeFrames) {
                j++;
            }
            List<ClipPlan> group = plans.subList(i, j);
            long[] union = MultiViewSampler.framesOf(group);
            try (Clip decoded = e.source().frames(union)) {
                framesDecoded.addAndGet(decoded.stats().framesDecoded());
                corruptFrames.addAndGet(decoded.stats().corruptFrames());
                for (ClipPlan plan : group) {
                    int slot = fill.filled;
                    for (int v = 0; v < fill.out.length; v++) {
                        sampler.render(decoded.frames(), union, plan, v, fill.out[v].select(0, slot));
                    }
                    fill.labels[slot] = video.label();
                    for (int x = 0; x < fill.extraK; x++) {
                        fill.extra[slot * fill.extraK + x] = video.extraLabels().get(x);
                    }
                    fill.videos.add(video);
                    for (int v = 0; v < fill.out.length; v++) {
                        fill.records.get(v).add(plan.records().get(v));
                    }
                    fill.filled++;
                }
            } catch (IOException ex) {
                // the decoder may be in any state now: reopen next time, and leave the rest of this video out
                cache.drop(video.path());
                skip(video, plans.size() - i, ex);
                return;
            }
            i = j;
        }
    }

    private void skip(LabeledVideo video, int clipCount, Exception why) {
        skippedVideos.incrementAndGet();
        skippedClips.addAndGet(clipCount);
        String reason = oneLine(why.getMessage() == null ? why.getClass().getSimpleName() : why.getMessage());
        String msg = video.id() + " (" + video.path() + "): " + reason;
        synchronized (recentSkips) {
            recentSkips.addLast(msg);
            while (recentSkips.size() > RECENT_SKIPS) {
                recentSkips.removeFirst();
            }
        }
        synchronized (skippedFiles) {
            if (skippedFiles.putIfAbsent(video.path(), reason) == null && skipList != null) {
                try {
                    Path parent = skipList.toAbsolutePath().getParent();
                    if (parent != null) {
                        Files.createDirectories(parent);
                    }
                    Files.writeString(skipList, video.path() + "\t" + reason + "\n", StandardCharsets.UTF_8,
                            StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                            skippedFiles.size() == 1 ? StandardOpenOption.TRUNCATE_EXISTING : StandardOpenOption.APPEND);
                } catch (IOException e) {
                    LOG.log(System.Logger.Level.WARNING, skipList + ": cannot list the unusable video " + video.path()
                            + ": " + e.getMessage());
                }
            }
        }
        LOG.log(System.Logger.Level.DEBUG, "skipping " + clipCount + " clip(s) of " + msg);
    }

    private static String oneLine(String s) {
        return s.replaceAll("\\s*[\\r\\n]+\\s*", " | ").strip();
    }

    /** @return the exception for too many unusable files, or null; under the lock */
    private UnusableDataException tooManySkipped() {
        if (maxSkippedFraction >= 1) {
            return null;
        }
        int n;
        synchronized (skippedFiles) {
            n = skippedFiles.size();
        }
        int videos = videosPerEpoch();
        if (n == 0 || n <= maxSkippedFraction * videos) {
            return null;
        }
        return unusable("more than " + fraction(maxSkippedFraction) + " of the videos are unusable");
    }

    private UnusableDataException unusable(String why) {
        Map<Path, String> all;
        synchronized (skippedFiles) {
            all = new LinkedHashMap<>(skippedFiles);
        }
        return new UnusableDataException(dataset.name() + ": " + why + ": " + describeSkips(all), all, videosPerEpoch());
    }

    private static String fraction(double f) {
        return String.format(java.util.Locale.ROOT, "%.3g%%", 100 * f).replaceAll("\\.?0+%", "%");
    }

    /** "3 of 24 videos unusable: a (reason), b (reason), c (reason), and 1 more; full list in F" */
    private String describeSkips(Map<Path, String> all) {
        StringBuilder sb = new StringBuilder().append(all.size()).append(" of ").append(videosPerEpoch())
                .append(" videos unusable");
        int shown = 0;
        for (Map.Entry<Path, String> e : all.entrySet()) {
            if (shown == SUMMARY_NAMES) {
                break;
            }
            sb.append(shown == 0 ? ": " : ", ").append(e.getKey().getFileName()).append(" (").append(shortReason(e))
                    .append(')');
            shown++;
        }
        if (all.size() > shown) {
            sb.append(", and ").append(all.size() - shown).append(" more");
        }
        if (skipList != null && !all.isEmpty()) {
            sb.append("; full list in ").append(skipList.toAbsolutePath());
        }
        return sb.toString();
    }

    /** The reason without the file's path, which the summary already names. */
    private static String shortReason(Map.Entry<Path, String> e) {
        String p = e.getKey().toString();
        String r = e.getValue().replace("\"" + p + "\"", "").replace(p, "").strip();
        r = r.replaceAll("(\\s+(for|in|of))?[\\s:,]*$", "");
        return r.isEmpty() ? e.getValue() : r;
    }

    /** @return every file that could not be opened or decoded so far, with the first reason, in the order met */
    public Map<Path, String> skippedFiles() {
        synchronized (skippedFiles) {
            return new LinkedHashMap<>(skippedFiles);
        }
    }

    /**
     * One line on the unusable files, for a log after each epoch: their count of the epoch's videos, the first few
     * names and reasons, and the list file ({@link Builder#optSkipList}).
     *
     * @return the line, or null when no file was skipped since the last call
     */
    public String skipSummary() {
        Map<Path, String> all;
        synchronized (skippedFiles) {
            if (skippedFiles.size() == summarized) {
                return null;
            }
            summarized = skippedFiles.size();
            all = new LinkedHashMap<>(skippedFiles);
        }
        return dataset.name() + ": " + describeSkips(all) + "; their clips were left out";
    }

    /** @return the counters so far */
    public LoaderStats stats() {
        long elapsed;
        synchronized (lock) {
            elapsed = firstEpochNanos == 0 ? 0 : System.nanoTime() - firstEpochNanos;
        }
        List<String> recent;
        synchronized (recentSkips) {
            recent = List.copyOf(recentSkips);
        }
        int files;
        synchronized (skippedFiles) {
            files = skippedFiles.size();
        }
        return new LoaderStats(batches.get(), clips.get(), videos.get(), skippedVideos.get(), skippedClips.get(), framesDecoded.get(),
                corruptFrames.get(), workerNanos.get(), waitNanos.get(), elapsed, recent, files);
    }

    /** @return batches built and waiting for the consumer (for tests and monitoring) */
    int queuedBatches() {
        synchronized (lock) {
            return current == null ? 0 : current.results.size();
        }
    }

    /** @return whether any worker thread is still running */
    boolean workersAlive() {
        for (Thread t : workers) {
            if (t.isAlive()) {
                return true;
            }
        }
        return false;
    }

    /**
     * Stops the workers (each finishes at most the video it is decoding), frees every batch not yet handed over and
     * closes the workers' videos. Idempotent; batches already handed over stay valid and owned by the consumer.
     */
    @Override
    public void close() {
        synchronized (lock) {
            if (closed) {
                return;
            }
            closed = true;
            if (current != null) {
                cancel(current);
            }
            lock.notifyAll();
        }
        for (Thread t : workers) {
            t.interrupt();
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        boolean interrupted = false;
        for (Thread t : workers) {
            while (t.isAlive()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    LOG.log(System.Logger.Level.WARNING, t.getName() + " is still decoding 30 s after close(); it frees its work when it returns");
                    break;
                }
                try {
                    t.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** @return a well-mixed seed for (seed, epoch, index) (SplitMix64 finalizer over a combination) */
    static long mix(long seed, long epoch, long index) {
        long z = seed * 0x9E3779B97F4A7C15L + epoch * 0xBF58476D1CE4E5B9L + index * 0x94D049BB133111EBL + 0x632BE59BD9B4E019L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /**
     * A worker's open videos, least recently used evicted first. Confined to its worker thread (VideoSource is not
     * thread-safe); closed when the worker ends.
     */
    private final class SourceCache implements AutoCloseable {
        record Entry(VideoSource source, Timeline timeline) {
        }

        private final LinkedHashMap<Path, Entry> open = new LinkedHashMap<>(8, 0.75f, true);

        Entry open(Path path) throws IOException {
            Entry e = open.get(path);
            if (e != null) {
                return e;
            }
            VideoSource s = VideoSource.open(path, decodeOptions);
            try {
                if (s.frameCount() < 1) {
                    throw new IOException("no video frames in " + path);
                }
                e = new Entry(s, Timeline.of(s));
            } catch (IOException | RuntimeException ex) {
                s.close();
                throw ex;
            }
            open.put(path, e);
            while (open.size() > openSources) {
                Iterator<Map.Entry<Path, Entry>> it = open.entrySet().iterator();
                Entry old = it.next().getValue();
                it.remove();
                old.source().close();
            }
            return e;
        }

        void drop(Path path) {
            Entry e = open.remove(path);
            if (e != null) {
                e.source().close();
            }
        }

        @Override
        public void close() {
            for (Entry e : open.values()) {
                e.source().close();
            }
            open.clear();
        }
    }

    @Override
    public String toString() {
        return "DataLoader[" + dataset.name() + ", " + workers.length + " workers, batch " + batchSize + ", prefetch " + prefetch + "]";
    }
}
