package org.dualdistill.video;

/**
 * A clip's time window within a video, as produced by a clip sampler (pytorchvideo's {@code ClipInfo}), in exact
 * microseconds. Time 0 is the presentation time of the video's first frame. Immutable and thread-safe.
 *
 * @param startUs    start of the window, inclusive, in microseconds (&gt;= 0)
 * @param endUs      end of the window, exclusive, in microseconds (&gt; startUs)
 * @param clipIndex  index of this clip among the clips sampled from the video
 * @param augIndex   index of the augmentation applied to this clip
 * @param isLastClip whether the sampler produces no further clip from this video
 */
public record ClipInfo(long startUs, long endUs, int clipIndex, int augIndex, boolean isLastClip) {
    /** Validates the window. */
    public ClipInfo {
        if (startUs < 0) {
            throw new IllegalArgumentException("ClipInfo.startUs must be >= 0, got " + startUs);
        }
        if (endUs <= startUs) {
            throw new IllegalArgumentException("ClipInfo window must not be empty, got [" + startUs + ", " + endUs + ") us");
        }
        if (clipIndex < 0 || augIndex < 0) {
            throw new IllegalArgumentException("ClipInfo indices must be >= 0, got clip " + clipIndex + ", aug " + augIndex);
        }
    }

    /**
     * @param startUs start, inclusive, microseconds
     * @param endUs   end, exclusive, microseconds
     * @return a window that is clip 0, augmentation 0, last clip
     */
    public static ClipInfo of(long startUs, long endUs) {
        return new ClipInfo(startUs, endUs, 0, 0, true);
    }

    /** @return {@code endUs - startUs} */
    public long durationUs() {
        return endUs - startUs;
    }
}
