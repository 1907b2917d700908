package org.dualdistill.data;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import org.bytedeco.pytorch.Tensor;
import org.dualdistill.internal.torch.OwnedTensors;
import org.dualdistill.internal.torch.TorchRuntime;
import org.dualdistill.video.ViewRecord;

/**
 * One batch from a {@link DataLoader}: per view a {@code float32 [B, 3, T, H, W]} CPU tensor (normalized, contiguous;
 * in pinned memory with {@link DataLoader.Builder#optPinMemory}, on a CUDA device when it comes from a
 * {@link DevicePrefetcher}),
 * the labels {@code int64 [B]}, the extra labels {@code int64 [B, K]} when the dataset has them (EPIC-KITCHENS' verb
 * and noun), the examples and, per view, the {@link ViewRecord}s of its B clips (the teacher-output cache keys).
 *
 * <p>Ownership: a batch is made on a loader worker thread and handed to the consumer, who owns it and must close it
 * (every step, as DJL requires: {@code try (Batch b = ...)}). {@link #data(int)}, {@link #labels()} and
 * {@link #extraLabels()} lend tensors that stay valid until {@link #close()}; {@link #detachData(int)} transfers one
 * view's tensor to the caller. {@code close()} is idempotent and thread-safe; other use after close throws
 * {@link IllegalStateException}. A batch that is never closed is freed by a cleaner, with a warning.
 */
public final class Batch implements AutoCloseable {
    static {
        TorchRuntime.init();
    }

    /** Batches made and not yet closed or cleaned, for leak tests. */
    static final AtomicInteger OPEN = new AtomicInteger();

    private final OwnedTensors tensors; // views..., labels, extra labels (or null)
    private final int numViews;
    private final int epoch;
    private final int index;
    private final List<String> viewNames;
    private final List<LabeledVideo> videos;
    private final List<List<ViewRecord>> records;

    /**
     * @param retained views, then labels, then extra labels (may be null); retained tensors this batch now owns
     */
    Batch(int epoch, int index, List<String> viewNames, Tensor[] retained, List<LabeledVideo> videos, List<List<ViewRecord>> records) {
        this.numViews = viewNames.size();
        this.epoch = epoch;
        this.index = index;
        this.viewNames = List.copyOf(viewNames);
        this.videos = List.copyOf(videos);
        this.records = records.stream().map(List::copyOf).toList();
        OPEN.incrementAndGet();
        this.tensors = new OwnedTensors(this, "Batch", retained, OPEN::decrementAndGet);
    }

    /**
     * A copy of {@code like} elsewhere (a device): same epoch, index, views, examples and records.
     *
     * @param retained  the copies of {@code like}'s tensors, in {@link #tensor(int)} order; retained, now owned by this
     * @param onRelease runs once after this batch's tensors are released (it frees what the copy depended on)
     */
    Batch(Batch like, Tensor[] retained, Runnable onRelease) {
        this.numViews = like.numViews;
        this.epoch = like.epoch;
        this.index = like.index;
        this.viewNames = like.viewNames;
        this.videos = like.videos;
        this.records = like.records;
        if (retained.length != like.tensorCount()) {
            throw new IllegalArgumentException("expected " + like.tensorCount() + " tensors, got " + retained.length);
        }
        OPEN.incrementAndGet();
        this.tensors = new OwnedTensors(this, "Batch", retained, () -> {
            try {
                onRelease.run();
            } finally {
                OPEN.decrementAndGet();
            }
        });
    }

    /** @return the number of tensor slots: views, labels, extra labels */
    int tensorCount() {
        return numViews + 2;
    }

    /** @return tensor slot {@code i} (borrowed; null for a detached view or absent extra labels) */
    Tensor tensor(int i) {
        return tensors.get(i);
    }

    /** @return B, the number of clips (smaller than the loader's batch size for the last batch or after skips) */
    public int size() {
        return videos.size();
    }

    /** @return the epoch this batch belongs to */
    public int epoch() {
        return epoch;
    }

    /** @return the batch's index within its epoch (batches whose clips were all skipped leave gaps) */
    public int index() {
        return index;
    }

    /** @return the number of views */
    public int numViews() {
        return numViews;
    }

    /** @return the view names, in the sampler's order (reference view first) */
    public List<String> viewNames() {
        return viewNames;
    }

    /**
     * Lends one view's clips.
     *
     * @param view the view's index
     * @return {@code float32 [B, 3, T, H, W]} on the batch's device; borrowed: valid until the batch is closed, do not close it
     */
    public Tensor data(int view) {
        if (view < 0 || view >= numViews) {
            throw new IllegalArgumentException("view " + view + " out of range [0, " + numViews + ")");
        }
        Tensor t = tensors.get(view);
        if (t == null) {
            throw new IllegalStateException("view " + viewNames.get(view) + " was detached");
        }
        return t;
    }

    /**
     * Lends one view's clips by name.
     *
     * @param name the view's name
     * @return as {@link #data(int)}
     */
    public Tensor data(String name) {
        int i = viewNames.indexOf(name);
        if (i < 0) {
            throw new IllegalArgumentException("no view named " + name + "; views are " + viewNames);
        }
        return data(i);
    }

    /**
     * Transfers one view's tensor to the caller; the batch no longer frees it.
     *
     * @param view the view's index
     * @return {@code float32 [B, 3, T, H, W]}; caller must close it
     */
    public Tensor detachData(int view) {
        if (view < 0 || view >= numViews) {
            throw new IllegalArgumentException("view " + view + " out of range [0, " + numViews + ")");
        }
        Tensor x = tensors.take(view);
        if (x == null) {
            throw new IllegalStateException("view " + viewNames.get(view) + " was detached");
        }
        return x;
    }

    /** @return the labels, {@code int64 [B]}; borrowed */
    public Tensor labels() {
        return tensors.get(numViews);
    }

    /** @return the extra labels {@code int64 [B, K]}, or null when the dataset has none; borrowed */
    public Tensor extraLabels() {
        return tensors.get(numViews + 1);
    }

    /** @return the examples, in batch order */
    public List<LabeledVideo> videos() {
        return videos;
    }

    /**
     * @param view the view's index
     * @return the records of that view's B clips, in batch order
     */
    public List<ViewRecord> records(int view) {
        return records.get(view);
    }

    /** Frees the tensors not detached. Idempotent and thread-safe. */
    @Override
    public void close() {
        tensors.close();
    }

    @Override
    public String toString() {
        return "Batch[epoch " + epoch + ", #" + index + ", " + size() + " clips, views " + viewNames + "]";
    }
}
