package org.dualdistill.video;

import org.dualdistill.internal.Leaks;
import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicReference;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dualdistill.internal.torch.TorchRuntime;

/**
 * Decoded frames of one clip: an owned CPU tensor {@code uint8 [T, H, W, 3]} (RGB, row-major, upright when rotation
 * is applied) plus the frame indices, their presentation times and the decode counters.
 *
 * <p>Ownership: the clip owns its tensor and frees it in {@link #close()}; {@link #frames()} lends it,
 * {@link #takeFrames()} hands it over, and {@link #toFloat(float[], float[])} returns a new tensor the caller must
 * close. {@code close()} is idempotent and thread-safe; any other use after close throws {@link IllegalStateException}.
 * A clip can be handed to another thread (it holds no thread-confined state), but is not meant to be used by two
 * threads at once.
 */
@SuppressWarnings("try") // a PointerScope is opened for what it collects, not referenced
public final class Clip implements AutoCloseable {
    static {
        TorchRuntime.init();
    }

    private final AtomicReference<Tensor> frames;
    private final long[] frameIndices;
    private final long[] timestampsUs;
    private final DecodeStats stats;
    private final State state;
    private final Cleaner.Cleanable cleanable;

    /** @param retained a tensor whose reference this clip now owns (retained by the caller) */
    Clip(Tensor retained, long[] frameIndices, long[] timestampsUs, DecodeStats stats) {
        this.frames = new AtomicReference<>(retained);
        this.frameIndices = frameIndices;
        this.timestampsUs = timestampsUs;
        this.stats = stats;
        this.state = new State(retained, Leaks.origin("Clip"));
        this.cleanable = Leaks.CLEANER.register(this, state);
    }

    /** What the cleaner needs: releases the tensor, warning when the clip was never closed. */
    private static final class State implements Runnable {
        private final Tensor tensor;
        private final Throwable origin;
        private volatile boolean explicit;
        private volatile boolean transferred;

        State(Tensor tensor, Throwable origin) {
            this.tensor = tensor;
            this.origin = origin;
        }

        @Override
        public void run() {
            if (transferred) {
                return;
            }
            if (!explicit) {
                Leaks.report("Clip", origin);
            }
            tensor.releaseReference();
        }
    }

    private Tensor live() {
        Tensor t = frames.get();
        if (t == null) {
            throw new IllegalStateException("Clip is closed");
        }
        return t;
    }

    /**
     * Lends the frames.
     *
     * @return {@code uint8 [T, H, W, 3]} on the CPU, contiguous; borrowed: valid until this clip is closed, do not close it
     */
    public Tensor frames() {
        return live();
    }

    /**
     * Transfers the frames tensor to the caller; the clip counts as closed afterwards.
     *
     * @return {@code uint8 [T, H, W, 3]}; caller must close it
     */
    public Tensor takeFrames() {
        Tensor t = frames.getAndSet(null);
        if (t == null) {
            throw new IllegalStateException("Clip is closed");
        }
        state.transferred = true;
        cleanable.clean();
        return t;
    }

    /**
     * Converts to the network input layout: {@code float32 [3, T, H, W]} with {@code (x / 255 - mean[c]) / std[c]}.
     *
     * @param mean per-channel mean (RGB), length 3, e.g. {@code {0.45f, 0.45f, 0.45f}} (pytorchvideo X3D)
     * @param std  per-channel standard deviation, length 3, all &gt; 0, e.g. {@code {0.225f, 0.225f, 0.225f}}
     * @return a new contiguous CPU tensor; caller must close it
     */
    public Tensor toFloat(float[] mean, float[] std) {
        if (mean == null || std == null || mean.length != 3 || std.length != 3) {
            throw new IllegalArgumentException("mean and std must have 3 values (RGB), got "
                    + (mean == null ? "null" : mean.length) + " and " + (std == null ? "null" : std.length));
        }
        for (float s : std) {
            if (!(s > 0)) {
                throw new IllegalArgumentException("std values must be > 0, got " + java.util.Arrays.toString(std));
            }
        }
        Tensor t = live();
        try (PointerScope scope = new PointerScope()) {
            Tensor x = t.permute(3, 0, 1, 2).to(torch.ScalarType.Float).div(new Scalar(255.0));
            Tensor m = Tensor.create(mean.clone(), 3, 1, 1, 1);
            Tensor s = Tensor.create(std.clone(), 3, 1, 1, 1);
            Tensor out = x.sub(m).div(s).contiguous();
            out.retainReference();
            return out;
        }
    }

    /** @return T, the number of frames */
    public int numFrames() {
        return frameIndices.length;
    }

    /** @return H, the frame height in pixels */
    public int height() {
        return (int) live().size(1);
    }

    /** @return W, the frame width in pixels */
    public int width() {
        return (int) live().size(2);
    }

    /** @return the source frame index of each output frame (a copy) */
    public long[] frameIndices() {
        return frameIndices.clone();
    }

    /** @return presentation time in microseconds (relative to the video's first frame) of each output frame (a copy) */
    public long[] timestampsUs() {
        return timestampsUs.clone();
    }

    /** @return the counters of the decode that produced this clip */
    public DecodeStats stats() {
        return stats;
    }

    /** Frees the frames tensor. Idempotent and thread-safe. */
    @Override
    public void close() {
        if (frames.getAndSet(null) != null) {
            state.explicit = true;
            cleanable.clean();
        }
    }
}
