package org.dualdistill.video;

/**
 * Everything that determined the pixels of one view of one clip, so that a teacher-output cache can key on it
 * ({@link #cacheKey()}): which video, which time window, which region, whether mirrored, and the output size.
 * Immutable and thread-safe.
 *
 * <p>Caching is only valid for identical records: a flipped or shifted view is a different input (ViT features are
 * not flip-equivariant). The frames are a function of the window, {@code frames} and the video's timeline
 * ({@link Timeline#frameIndices}); the pixels also depend on the decoder and the resize filter, which a cache should
 * keep fixed.
 *
 * @param videoId   the dataset's id of the video (or segment)
 * @param view      the view's name ({@link ViewSpec#name()})
 * @param startUs   window start, microseconds from the video's first frame (a frame time)
 * @param endUs     window end, exclusive
 * @param clipIndex the window's index among the video's windows ({@link ClipInfo#clipIndex()})
 * @param augIndex  the augmentation or spatial-crop index ({@link ClipInfo#augIndex()})
 * @param box       the region of the source frame every view was resampled from
 * @param flip      whether the view is mirrored left-right
 * @param shortSide the short side, in pixels, the source was (notionally) scaled to before the reference view's crop
 *                  was cut (pytorchvideo's short-side scale); 0 when the source was not scaled
 * @param frames    T of this view
 * @param height    H of this view
 * @param width     W of this view
 */
public record ViewRecord(String videoId, String view, long startUs, long endUs, int clipIndex, int augIndex, CropBox box, boolean flip,
        int shortSide, int frames, int height, int width) {

    /**
     * A canonical string of what determines the view's pixels (everything except the view's name and the clip and
     * augmentation indices), e.g. {@code "brush_hair/a.avi|0-2600000|171x171+40+0|flip|16x224x224"}.
     *
     * @return the key
     */
    public String cacheKey() {
        return videoId + "|" + startUs + "-" + endUs + "|" + box + "|" + (flip ? "flip" : "noflip") + "|" + frames + "x" + height + "x"
                + width;
    }
}
