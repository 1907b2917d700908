package org.dualdistill.video;

import java.util.Arrays;
import java.util.List;

/**
 * One clip as a {@link MultiViewSampler} planned it, before any pixel is decoded: the time window, the region, the
 * flip and the short-side scale shared by all views, plus each view's frame indices and {@link ViewRecord}.
 * Immutable and thread-safe.
 */
public final class ClipPlan {
    private final ClipInfo window;
    private final VideoTransform.Spatial spatial;
    private final long[][] frameIndices;
    private final List<ViewRecord> records;

    ClipPlan(ClipInfo window, VideoTransform.Spatial spatial, long[][] frameIndices, List<ViewRecord> records) {
        this.window = window;
        this.spatial = spatial;
        this.frameIndices = frameIndices;
        this.records = List.copyOf(records);
    }

    /** @return the time window every view covers */
    public ClipInfo window() {
        return window;
    }

    /** @return the region of the source frame every view is resampled from */
    public CropBox box() {
        return spatial.box();
    }

    /** @return whether every view is mirrored */
    public boolean flip() {
        return spatial.flip();
    }

    /** @return the short side the source was notionally scaled to (0 = not scaled) */
    public int shortSide() {
        return spatial.shortSide();
    }

    /**
     * @param view the view's index in the sampler
     * @return the source frame indices of that view, in output order (a copy)
     */
    public long[] frameIndices(int view) {
        return frameIndices[view].clone();
    }

    /** @return one record per view, in the sampler's view order */
    public List<ViewRecord> records() {
        return records;
    }

    /** @return the distinct frame indices of all views, ascending: what has to be decoded */
    public long[] allFrames() {
        return Arrays.stream(frameIndices).flatMapToLong(Arrays::stream).sorted().distinct().toArray();
    }

    long[] frameIndicesUnsafe(int view) {
        return frameIndices[view];
    }

    @Override
    public String toString() {
        return "ClipPlan[" + window.startUs() + "-" + window.endUs() + " us, clip " + window.clipIndex() + ", aug " + window.augIndex() + ", box "
                + spatial.box() + (spatial.flip() ? ", flipped" : "") + "]";
    }
}
