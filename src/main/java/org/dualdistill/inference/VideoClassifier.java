package org.dualdistill.inference;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.InferenceMode;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dualdistill.export.ExportException;
import org.dualdistill.export.ExportedStudent;
import org.dualdistill.export.ModelCard;
import org.dualdistill.export.StudentExport;
import org.dualdistill.internal.torch.TensorBridge;
import org.dualdistill.internal.torch.TorchRuntime;
import org.dualdistill.video.ClipSampler;
import org.dualdistill.video.DecodeOptions;
import org.dualdistill.video.MultiViewClip;
import org.dualdistill.video.MultiViewSampler;
import org.dualdistill.video.VideoDecodeException;
import org.dualdistill.video.VideoSource;
import org.dualdistill.video.VideoTransform;
import org.dualdistill.video.ViewSpec;

/**
 * Classifies videos with an exported student ({@link StudentExport}): plain Java in (a file, the bytes of a file, or
 * an already decoded {@link ClipInput}), ranked {@link Prediction}s out. No tensor crosses the API.
 *
 * <p><b>Preprocessing</b> follows the model card, as the test-time views of training: {@code numClips} windows of
 * {@code clipLength} frames every {@code frameStride}-th frame, evenly spaced over the video
 * ({@link ClipSampler#uniform}; one clip: centred), the short side scaled to {@code shortSide} and a centre crop (or,
 * with three crops, left/centre/right: {@link VideoTransform#threeCrop}) of {@code crop} pixels, normalized with the
 * card's mean and std. With several views, the softmax probabilities are averaged (multi-view testing).
 *
 * <p><b>Threads and batching.</b> Thread-safe: any number of threads may call one classifier. Decoding and
 * preprocessing run on the calling thread (so they scale with the callers); the model runs on one worker thread that
 * owns it, in eval mode under {@link InferenceMode}. The worker takes the first waiting request, then waits at most
 * {@code maxWait} for more, up to {@code maxBatch} clips, and runs them as one batch ({@code maxBatch = 1} turns
 * micro-batching off). Callers get futures ({@link #submit}) or block ({@code classify}).
 *
 * <p><b>Determinism.</b> A request's result does not depend on thread timing except through the batch it lands in:
 * LibTorch's CPU matrix kernels may round a row differently depending on the batch size and the row's position, so
 * a batched probability can differ from the same clip run alone in the last bits (observed: logits within 5e-10,
 * i.e. ulps). With {@code maxBatch = 1} results are bit-identical to sequential calls. Top-k ties are broken by class index.
 *
 * <p><b>Bounded memory.</b> At most {@code queueCapacity} requests are admitted at once (being preprocessed,
 * waiting or running); a request beyond that waits up to {@code admissionTimeout} for room and is then rejected
 * with {@link RejectedExecutionException} (default: no wait, so an overloaded service sheds load at once). Waiting
 * requests hold their normalized views on the Java heap ({@code views * 3 * T * crop^2} floats); native memory is
 * allocated per batch inside one {@link PointerScope} and freed when the batch ends.
 *
 * <p><b>Errors.</b> Unreadable or corrupt input, a missing file, a clip of the wrong shape or with non-finite values:
 * {@link ClassificationException} naming the input, thrown before the request is queued, so a bad request never
 * reaches a batch and never harms later ones. An inference failure fails that batch's requests with a
 * {@link ClassificationException}; the worker carries on.
 *
 * <p><b>Lifecycle.</b> {@link #close()} stops admitting requests, lets the worker finish those already admitted,
 * stops it and releases the model (idempotent, thread-safe); calls after close throw
 * {@link IllegalStateException}{@code ("VideoClassifier is closed")}.
 */
public final class VideoClassifier implements AutoCloseable {
    static {
        TorchRuntime.init();
    }

    /** The view name used for the student (as in training). */
    private static final String VIEW = "student";

    /**
     * Counters since the classifier was built.
     *
     * @param requests requests run by the model
     * @param batches  forward passes
     * @param clips    clips (views) run; {@code clips / batches} is the mean batch size
     */
    public record Stats(long requests, long batches, long clips) {
        /** @return mean clips per forward pass (0 before the first) */
        public double meanBatch() {
            return batches == 0 ? 0 : (double) clips / batches;
        }
    }

    /** A queued request; only the worker completes it, after giving its admission permit back. */
    private record Request(String name, float[][] views, CompletableFuture<List<Prediction>> result, Semaphore admission) {
        /**
         * The permit goes back before the future completes: a caller woken by completion may submit again at once
         * and must find room (releasing in a completion callback would race with the woken caller).
         */
        void finish(List<Prediction> predictions) {
            admission.release();
            result.complete(predictions);
        }

        void fail(Throwable t) {
            admission.release();
            result.completeExceptionally(t);
        }
    }

    private final ExportedStudent student;
    private final ModelCard card;
    private final MultiViewSampler sampler;
    private final int topK;
    private final int maxBatch;
    private final long maxWaitNanos;
    private final long admissionTimeoutNanos;
    private final int queueCapacity;
    private final int clipFloats;
    private final org.bytedeco.pytorch.Device device; // null = the CPU
    private final float[] mean;
    private final float[] std;
    private final Semaphore admission;
    private final ArrayBlockingQueue<Request> queue;
    private final ReentrantReadWriteLock intake = new ReentrantReadWriteLock();
    private final Thread worker;
    private final AtomicLong requests = new AtomicLong();
    private final AtomicLong batches = new AtomicLong();
    private final AtomicLong clips = new AtomicLong();
    private volatile boolean closed;
    private final Object closeLock = new Object();
    private boolean released;
    private Request carry; // worker-confined: a request that did not fit the previous batch

    private VideoClassifier(Builder b, ExportedStudent student) {
        this.student = student;
        this.card = student.card();
        ModelCard.Input in = card.input();
        this.mean = card.mean();
        this.std = card.std();
        this.topK = Math.min(b.topK, card.numClasses());
        this.maxBatch = b.maxBatch;
        this.maxWaitNanos = b.maxWait.toNanos();
        this.admissionTimeoutNanos = b.admissionTimeout.toNanos();
        this.queueCapacity = b.queueCapacity;
        this.clipFloats = 3 * in.clipLength() * in.crop() * in.crop();
        this.device = b.device.equals("cpu") ? null : new org.bytedeco.pytorch.Device(b.device);
        if (device != null) {
            student.model().module().to(device, false);
        }
        VideoTransform transform = b.crops == 3 ? VideoTransform.threeCrop(in.shortSide()) : VideoTransform.center(in.shortSide());
        this.sampler = MultiViewSampler.of(ClipSampler.uniform(in.clipLength(), in.frameStride(), b.clips, b.crops), transform,
                new ViewSpec(VIEW, in.clipLength(), in.crop(), in.crop(), mean, std));
        this.admission = new Semaphore(queueCapacity);
        this.queue = new ArrayBlockingQueue<>(queueCapacity);
        this.worker = Thread.ofPlatform().name("dualdistill-classifier").daemon(true).unstarted(this::runWorker);
        this.worker.start();
    }

    /**
     * @param exportDir a folder written by {@link StudentExport#write}
     * @return a builder with topK 5, maxBatch 8, maxWait 5 ms, queue capacity 64, one centred view, no admission wait
     */
    public static Builder builder(Path exportDir) {
        return new Builder(exportDir);
    }

    /** Builder for {@link VideoClassifier}; {@code opt*} methods set optional fields. Not thread-safe. */
    public static final class Builder {
        private final Path dir;
        private int topK = 5;
        private int maxBatch = 8;
        private Duration maxWait = Duration.ofMillis(5);
        private int queueCapacity = 64;
        private Duration admissionTimeout = Duration.ZERO;
        private int clips = 1;
        private int crops = 1;
        private String device = "cpu";

        private Builder(Path dir) {
            if (dir == null) {
                throw new IllegalArgumentException("exportDir must not be null");
            }
            this.dir = dir;
        }

        /** @param k predictions returned per request (capped at the number of classes), &gt;= 1; @return this */
        public Builder optTopK(int k) {
            if (k < 1) {
                throw new IllegalArgumentException("topK must be >= 1, got " + k);
            }
            topK = k;
            return this;
        }

        /** @param n most clips per forward pass, &gt;= 1 (1 = no micro-batching); @return this */
        public Builder optMaxBatch(int n) {
            if (n < 1 || n > 1024) {
                throw new IllegalArgumentException("maxBatch must be in [1, 1024], got " + n);
            }
            maxBatch = n;
            return this;
        }

        /** @param wait longest time the worker waits for more requests once it holds one, &gt;= 0; @return this */
        public Builder optMaxWait(Duration wait) {
            if (wait == null || wait.isNegative()) {
                throw new IllegalArgumentException("maxWait must be >= 0, got " + wait);
            }
            maxWait = wait;
            return this;
        }

        /** @param n most requests admitted at once (preprocessing, waiting or running), &gt;= 1; @return this */
        public Builder optQueueCapacity(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("queueCapacity must be >= 1, got " + n);
            }
            queueCapacity = n;
            return this;
        }

        /** @param wait how long a request waits for room when the classifier is full before it is rejected; @return this */
        public Builder optAdmissionTimeout(Duration wait) {
            if (wait == null || wait.isNegative()) {
                throw new IllegalArgumentException("admissionTimeout must be >= 0, got " + wait);
            }
            admissionTimeout = wait;
            return this;
        }

        /**
         * Multi-view testing for file and byte inputs.
         *
         * @param numClips windows per video, evenly spaced (1 = centred), &gt;= 1
         * @param numCrops spatial crops per window: 1 (centre) or 3 (along the long side)
         * @return this
         */
        public Builder optViews(int numClips, int numCrops) {
            if (numClips < 1 || (numCrops != 1 && numCrops != 3)) {
                throw new IllegalArgumentException("views need numClips >= 1 and numCrops 1 or 3, got " + numClips + " x " + numCrops);
            }
            clips = numClips;
            crops = numCrops;
            return this;
        }

        /**
         * @param spec where the model runs: {@code cpu} (default), {@code cuda}, {@code cuda:N} or {@code auto};
         *             batches are assembled in pinned host memory and copied without blocking
         * @return this
         * @throws IllegalArgumentException in one line when CUDA is asked on the CPU build of LibTorch or on a
         *                                  machine without that device
         */
        public Builder optDevice(String spec) {
            try {
                device = org.dualdistill.recipe.Devices.resolve(spec);
            } catch (org.dualdistill.recipe.RecipeException e) {
                throw new IllegalArgumentException(e.getMessage(), e);
            }
            return this;
        }

        /**
         * Loads the export and starts the worker.
         *
         * @return the classifier; caller must close
         * @throws ExportException when the export cannot be loaded (message names the file and the reason)
         */
        public VideoClassifier build() throws ExportException {
            ExportedStudent s = StudentExport.load(dir);
            try {
                return new VideoClassifier(this, s);
            } catch (RuntimeException e) {
                s.close();
                throw e;
            }
        }
    }

    /** @return the model card (class names, input geometry, normalization, metrics) */
    public ModelCard card() {
        return card;
    }

    /** @return views taken per file or byte input */
    public int viewsPerVideo() {
        return sampler.clipsPerVideo();
    }

    /** @return counters since the classifier was built */
    public Stats stats() {
        return new Stats(requests.get(), batches.get(), clips.get());
    }

    /**
     * Classifies a video file. Blocks until the result is ready.
     *
     * @param video the file
     * @return the top-k predictions, most probable first
     * @throws ClassificationException     when the file is missing, unreadable or not a video, or inference fails
     * @throws RejectedExecutionException  when the classifier is full (see {@link Builder#optQueueCapacity})
     * @throws IllegalStateException       after close
     */
    public List<Prediction> classify(Path video) throws ClassificationException {
        if (video == null) {
            throw new IllegalArgumentException("video must not be null");
        }
        String name = video.toString();
        return await(name, enqueue(name, () -> {
            try (VideoSource src = VideoSource.open(video, DecodeOptions.defaults())) {
                return views(src, name);
            }
        }));
    }

    /**
     * Classifies a video held in memory (e.g. an HTTP request body). Blocks until the result is ready.
     *
     * @param video the complete file contents (borrowed; read before this returns)
     * @param name  a name for messages
     * @return the top-k predictions, most probable first
     * @throws ClassificationException    when the bytes are not a decodable video, or inference fails
     * @throws RejectedExecutionException when the classifier is full
     * @throws IllegalStateException      after close
     */
    public List<Prediction> classify(byte[] video, String name) throws ClassificationException {
        if (video == null || name == null) {
            throw new IllegalArgumentException("video and name must not be null");
        }
        return await(name, enqueue(name, () -> {
            try (VideoSource src = VideoSource.open(video, name, DecodeOptions.defaults())) {
                return views(src, name);
            }
        }));
    }

    /**
     * Classifies an already decoded clip. Blocks until the result is ready.
     *
     * @param clip the clip (borrowed; read before this returns)
     * @return the top-k predictions, most probable first
     * @throws ClassificationException    when the clip's shape is not the model's input or it holds NaN or infinity,
     *                                    or inference fails
     * @throws RejectedExecutionException when the classifier is full
     * @throws IllegalStateException      after close
     */
    public List<Prediction> classify(ClipInput clip) throws ClassificationException {
        return await(clip.name(), submit(clip));
    }

    /**
     * Queues an already decoded clip and returns at once.
     *
     * @param clip the clip (borrowed; read before this returns)
     * @return the future result; it fails with a {@link ClassificationException} only if inference itself fails
     * @throws ClassificationException    when the clip's shape is wrong or it holds NaN or infinity
     * @throws RejectedExecutionException when the classifier is full
     * @throws IllegalStateException      after close
     */
    public CompletableFuture<List<Prediction>> submit(ClipInput clip) throws ClassificationException {
        if (clip == null) {
            throw new IllegalArgumentException("clip must not be null");
        }
        return enqueue(clip.name(), () -> new float[][] {normalized(clip)});
    }

    private interface Preprocess {
        float[][] run() throws Exception;
    }

    /** Admits, preprocesses on the calling thread, and queues a request. */
    private CompletableFuture<List<Prediction>> enqueue(String name, Preprocess pre) throws ClassificationException {
        requireOpen();
        boolean admitted;
        try {
            admitted = admissionTimeoutNanos == 0 ? admission.tryAcquire()
                    : admission.tryAcquire(admissionTimeoutNanos, TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ClassificationException(name, "interrupted while waiting for room in the classifier", e);
        }
        if (!admitted) {
            throw new RejectedExecutionException("VideoClassifier is full (" + queueCapacity + " requests in flight); "
                    + "rejected " + name + ": retry later, or raise optQueueCapacity / optAdmissionTimeout");
        }
        boolean queued = false;
        try {
            float[][] views;
            try {
                views = pre.run();
            } catch (ClassificationException e) {
                throw e;
            } catch (VideoDecodeException e) {
                throw new ClassificationException(name, "cannot decode: " + e.getMessage(), e);
            } catch (Exception e) {
                throw new ClassificationException(name, "cannot prepare the input: " + e.getMessage(), e);
            }
            CompletableFuture<List<Prediction>> f = new CompletableFuture<>();
            intake.readLock().lock();
            try {
                requireOpen();
                queued = queue.offer(new Request(name, views, f, admission)); // never full: admission bounds the requests
                if (!queued) {
                    throw new IllegalStateException("VideoClassifier queue overflow (admission bound broken)");
                }
            } finally {
                intake.readLock().unlock();
            }
            return f;
        } finally {
            if (!queued) {
                admission.release();
            }
        }
    }

    private static List<Prediction> await(String name, CompletableFuture<List<Prediction>> f) throws ClassificationException {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ClassificationException(name, "interrupted while waiting for the result", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof ClassificationException c) {
                throw c;
            }
            if (e.getCause() instanceof IllegalStateException s) {
                throw new IllegalStateException(s.getMessage(), s);
            }
            throw new ClassificationException(name, "inference failed: " + e.getCause(), e.getCause());
        }
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("VideoClassifier is closed");
        }
    }

    /** Decodes and renders every view of a source (caller's thread); plain float arrays out, all tensors freed. */
    private float[][] views(VideoSource src, String name) throws VideoDecodeException {
        try (PointerScope scope = new PointerScope()) {
            List<MultiViewClip> clipsOut = sampler.sample(src, name, new SplittableRandom(0));
            float[][] out = new float[clipsOut.size()][];
            try {
                for (int i = 0; i < out.length; i++) {
                    out[i] = TensorBridge.toFloats(clipsOut.get(i).view(0));
                }
            } finally {
                for (MultiViewClip c : clipsOut) {
                    c.close();
                }
            }
            return out;
        }
    }

    /** Checks a decoded clip against the card and normalizes it into a new array. */
    private float[] normalized(ClipInput clip) throws ClassificationException {
        ModelCard.Input in = card.input();
        float[] d = clip.data();
        long declared = 3L * clip.frames() * clip.height() * clip.width();
        if (d == null || clip.frames() != in.clipLength() || clip.height() != in.crop() || clip.width() != in.crop()
                || d.length != declared || d.length != clipFloats) {
            throw new ClassificationException(clip.name(), "expected a clip of shape [3, " + in.clipLength() + ", " + in.crop() + ", "
                    + in.crop() + "] (" + clipFloats + " values), got [3, " + clip.frames() + ", " + clip.height() + ", "
                    + clip.width() + "] with " + (d == null ? "no data" : d.length + " values"), null);
        }
        int plane = clipFloats / 3;
        float[] out = new float[clipFloats];
        for (int c = 0; c < 3; c++) {
            float m = mean[c];
            float s = std[c];
            for (int i = c * plane, end = i + plane; i < end; i++) {
                float v = d[i];
                if (!Float.isFinite(v)) {
                    throw new ClassificationException(clip.name(), "value " + v + " at index " + i + " (channel " + c
                            + ") is not finite", null);
                }
                out[i] = (v - m) / s;
            }
        }
        return out;
    }

    // ---- the worker: the only thread that touches the model ----

    private void runWorker() {
        while (true) {
            List<Request> batch;
            try {
                batch = nextBatch();
            } catch (InterruptedException e) {
                continue; // only close() interrupts; the loop rechecks closed
            }
            if (batch == null) {
                return;
            }
            run(batch);
        }
    }

    /** @return the next batch, or null when closed and nothing is left */
    private List<Request> nextBatch() throws InterruptedException {
        Request first = carry;
        carry = null;
        while (first == null) {
            first = queue.poll(50, TimeUnit.MILLISECONDS);
            if (first == null && closed && queue.isEmpty()) {
                return null;
            }
        }
        List<Request> batch = new ArrayList<>();
        batch.add(first);
        int n = first.views().length;
        long deadline = System.nanoTime() + maxWaitNanos;
        while (n < maxBatch) {
            long left = deadline - System.nanoTime();
            Request r = left > 0 && !closed ? queue.poll(left, TimeUnit.NANOSECONDS) : queue.poll();
            if (r == null) {
                break;
            }
            if (n + r.views().length > maxBatch) {
                carry = r;
                break;
            }
            batch.add(r);
            n += r.views().length;
        }
        return batch;
    }

    private void run(List<Request> batch) {
        int numClasses = card.numClasses();
        int finished = 0;
        try {
            List<float[]> all = new ArrayList<>();
            for (Request r : batch) {
                all.addAll(Arrays.asList(r.views()));
            }
            float[] probs = new float[all.size() * numClasses];
            for (int from = 0; from < all.size(); from += maxBatch) {
                int n = Math.min(maxBatch, all.size() - from);
                forward(all.subList(from, from + n), probs, from * numClasses);
                batches.incrementAndGet();
                clips.addAndGet(n);
            }
            int v = 0;
            for (Request r : batch) {
                double[] avg = new double[numClasses];
                for (int i = 0; i < r.views().length; i++, v++) {
                    for (int c = 0; c < numClasses; c++) {
                        avg[c] += probs[v * numClasses + c];
                    }
                }
                for (int c = 0; c < numClasses; c++) {
                    avg[c] /= r.views().length;
                }
                requests.incrementAndGet();
                r.finish(topK(avg));
                finished++;
            }
        } catch (Throwable t) {
            for (Request r : batch.subList(finished, batch.size())) {
                r.fail(new ClassificationException(r.name(), "inference failed: " + t, t));
            }
        }
    }

    /** One forward pass over {@code views}, softmax rows written to {@code probs} at {@code offset}. */
    private void forward(List<float[]> views, float[] probs, int offset) {
        ModelCard.Input in = card.input();
        try (PointerScope scope = new PointerScope(); InferenceMode guard = new InferenceMode()) {
            Tensor x = torch.empty(new long[] {views.size(), 3, in.clipLength(), in.crop(), in.crop()},
                    new TensorOptions(ScalarType.Float), null);
            FloatPointer dst = new FloatPointer(x.data_ptr());
            for (int i = 0; i < views.size(); i++) {
                dst.position((long) i * clipFloats).put(views.get(i), 0, clipFloats);
            }
            if (device != null) {
                x = x.pin_memory().to(device, x.dtype(), true, false);
            }
            Tensor p = torch.softmax(student.model().forward(x).logits(), 1);
            float[] rows = TensorBridge.toFloats(device == null ? p : p.cpu());
            System.arraycopy(rows, 0, probs, offset, rows.length);
        }
    }

    private List<Prediction> topK(double[] p) {
        Integer[] idx = new Integer[p.length];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = i;
        }
        Arrays.sort(idx, (a, b) -> p[a] != p[b] ? Double.compare(p[b], p[a]) : Integer.compare(a, b));
        List<Prediction> out = new ArrayList<>(topK);
        for (int i = 0; i < topK; i++) {
            out.add(new Prediction(card.classNames().get(idx[i]), idx[i], p[idx[i]]));
        }
        return List.copyOf(out);
    }

    /**
     * Stops admitting requests, lets the worker finish the admitted ones, stops it and releases the model.
     * Idempotent and thread-safe; blocks until the worker has stopped.
     */
    @Override
    public void close() {
        intake.writeLock().lock();
        try {
            closed = true;
        } finally {
            intake.writeLock().unlock();
        }
        synchronized (closeLock) {
            if (released) {
                return;
            }
            boolean interrupted = false;
            while (worker.isAlive()) {
                try {
                    worker.join();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            student.close();
            released = true;
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** @return whether {@link #close()} has completed (the worker has stopped and the model is released) */
    public boolean isReleased() {
        synchronized (closeLock) {
            return released;
        }
    }
}
