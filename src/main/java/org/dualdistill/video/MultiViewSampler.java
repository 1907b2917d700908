package org.dualdistill.video;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dualdistill.internal.torch.TorchRuntime;

/**
 * Gives every model its own view of the same clip: one decoded window, one region, one flip, resampled to each
 * model's frame count and size, so the teachers see exactly what the student sees.
 *
 * <p>The first view is the reference: the {@link ClipSampler}'s {@code frames x stride} is its T and stride, and the
 * {@link VideoTransform}'s crop is cut at its H x W. Then for each clip:
 * <ol>
 * <li>the clip sampler draws the window (start at a frame, {@code frames * stride} frame periods long);</li>
 * <li>the transform draws the region of the source frame ({@link CropBox}: a {@code crop * short / scale} square
 *     for a square crop), the flip and the scale;</li>
 * <li>each view takes its T frames evenly over the window ({@link Timeline#frameIndices}: the reference view gets
 *     every {@code stride}-th frame; a 16-frame teacher view of a 13 x 6 window gets frames
 *     {@code 0, 4, 9, 14, ...} of it) and resizes the region to its H x W;</li>
 * <li>each view is recorded ({@link ViewRecord}: video, window, box, flip, scale, T x H x W), the key for a
 *     teacher-output cache.</li>
 * </ol>
 * Planning ({@link #plan}) is plain Java; {@link #sample} decodes the union of all views' frames of all the video's
 * clips in one pass ("decode once, sample several") and renders each view.
 *
 * <p>Immutable and thread-safe; the methods that touch tensors open their own {@link PointerScope}.
 */
@SuppressWarnings("try") // a PointerScope is opened for what it collects, not referenced
public final class MultiViewSampler {
    static {
        TorchRuntime.init();
    }

    private final ClipSampler clips;
    private final VideoTransform transform;
    private final List<ViewSpec> views;
    private final List<String> names;

    private MultiViewSampler(ClipSampler clips, VideoTransform transform, List<ViewSpec> views) {
        if (clips == null || transform == null) {
            throw new IllegalArgumentException("clip sampler and transform must not be null");
        }
        if (views.isEmpty()) {
            throw new IllegalArgumentException("at least one view is required (the first is the reference view)");
        }
        Set<String> seen = new HashSet<>();
        for (ViewSpec v : views) {
            if (v == null) {
                throw new IllegalArgumentException("views must not be null");
            }
            if (!seen.add(v.name())) {
                throw new IllegalArgumentException("duplicate view name " + v.name());
            }
        }
        if (views.get(0).frames() != clips.frames()) {
            throw new IllegalArgumentException("the reference view " + views.get(0).name() + " has " + views.get(0).frames()
                    + " frames but the clip sampler takes " + clips.frames() + " (frames x stride must describe the first view)");
        }
        this.clips = clips;
        this.transform = transform;
        this.views = List.copyOf(views);
        this.names = MultiViewClip.namesOf(this.views);
    }

    /**
     * @param clips     the time-window sampler; its {@code frames} must equal the first view's
     * @param transform the spatial augmentation, applied at the first view's size
     * @param views     the views, reference first, e.g. student then teachers
     * @return the sampler
     */
    public static MultiViewSampler of(ClipSampler clips, VideoTransform transform, ViewSpec... views) {
        return new MultiViewSampler(clips, transform, Arrays.asList(views.clone()));
    }

    /**
     * @param clips     the time-window sampler
     * @param transform the spatial augmentation
     * @return a builder; add the reference view first
     */
    public static Builder builder(ClipSampler clips, VideoTransform transform) {
        return new Builder(clips, transform);
    }

    /** Builder for {@link MultiViewSampler}; {@code add*} accumulates views. Not thread-safe. */
    public static final class Builder {
        private final ClipSampler clips;
        private final VideoTransform transform;
        private final List<ViewSpec> views = new ArrayList<>();

        private Builder(ClipSampler clips, VideoTransform transform) {
            this.clips = clips;
            this.transform = transform;
        }

        /**
         * @param view one more view (the first one added is the reference)
         * @return this
         */
        public Builder addView(ViewSpec view) {
            views.add(view);
            return this;
        }

        /**
         * @return the sampler
         * @throws IllegalArgumentException without views, with duplicate names, or when the first view's T differs from
         *                                  the clip sampler's frames
         */
        public MultiViewSampler build() {
            return new MultiViewSampler(clips, transform, views);
        }
    }

    /** @return the clip sampler */
    public ClipSampler clipSampler() {
        return clips;
    }

    /** @return the spatial transform */
    public VideoTransform transform() {
        return transform;
    }

    /** @return the views, reference first */
    public List<ViewSpec> views() {
        return views;
    }

    /** @return the view names, in order */
    public List<String> viewNames() {
        return names;
    }

    /** @return clips made per video ({@link ClipSampler#clipsPerVideo()}) */
    public int clipsPerVideo() {
        return clips.clipsPerVideo();
    }

    /**
     * Plans a video's clips.
     *
     * @param videoId      the id recorded in the {@link ViewRecord}s
     * @param timeline     the video's frame clock
     * @param sourceWidth  W of the decoded frame the boxes refer to
     * @param sourceHeight H of the decoded frame
     * @param fromUs       start of the span to sample (0 for the whole video)
     * @param toUs         end of the span ({@link Timeline#durationUs()} for the whole video)
     * @param rnd          the randomness: the window draws come first, then one spatial draw per clip, in clip order
     * @return {@link #clipsPerVideo()} plans
     */
    public List<ClipPlan> plan(String videoId, Timeline timeline, int sourceWidth, int sourceHeight, long fromUs, long toUs,
            SplittableRandom rnd) {
        if (videoId == null || rnd == null) {
            throw new IllegalArgumentException("videoId and rnd must not be null");
        }
        List<ClipInfo> windows = clips.sample(timeline, fromUs, toUs, rnd);
        ViewSpec ref = views.get(0);
        List<ClipPlan> out = new ArrayList<>(windows.size());
        for (ClipInfo w : windows) {
            VideoTransform.Spatial sp = transform.sample(sourceWidth, sourceHeight, ref.width(), ref.height(), w.augIndex(), rnd);
            long[][] idx = new long[views.size()][];
            List<ViewRecord> recs = new ArrayList<>(views.size());
            for (int v = 0; v < views.size(); v++) {
                ViewSpec s = views.get(v);
                idx[v] = timeline.frameIndices(w, s.frames());
                recs.add(new ViewRecord(videoId, s.name(), w.startUs(), w.endUs(), w.clipIndex(), w.augIndex(), sp.box(), sp.flip(),
                        sp.shortSide(), s.frames(), s.height(), s.width()));
            }
            out.add(new ClipPlan(w, sp, idx, recs));
        }
        return out;
    }

    /**
     * @param plans clip plans
     * @return the distinct frame indices all their views need, ascending
     */
    public static long[] framesOf(List<ClipPlan> plans) {
        return plans.stream().flatMapToLong(p -> Arrays.stream(p.allFrames())).sorted().distinct().toArray();
    }

    /**
     * Renders one view of a planned clip from decoded frames.
     *
     * @param decoded        {@code uint8 [N, H, W, 3]} as decoded ({@link Clip#frames()}), H x W the size the plan's
     *                       box refers to; borrowed
     * @param decodedIndices the source frame index of each of the N frames, ascending and distinct
     * @param plan           the clip
     * @param view           the view's index
     * @param out            {@code float32 [3, T, H', W']} with the view's T, H', W', contiguous; borrowed and
     *                       overwritten (for example one sample of a batch)
     * @throws IllegalArgumentException if a needed frame was not decoded, or on shape mismatches
     */
    public void render(Tensor decoded, long[] decodedIndices, ClipPlan plan, int view, Tensor out) {
        ViewSpec s = views.get(view);
        long[] want = plan.frameIndicesUnsafe(view);
        long[] pos = new long[want.length];
        for (int i = 0; i < want.length; i++) {
            int p = Arrays.binarySearch(decodedIndices, want[i]);
            if (p < 0) {
                throw new IllegalArgumentException("frame " + want[i] + " of view " + s.name() + " was not decoded");
            }
            pos[i] = p;
        }
        try (PointerScope scope = new PointerScope()) {
            if (out.dim() != 4 || out.size(1) != s.frames() || out.size(2) != s.height() || out.size(3) != s.width()) {
                throw new IllegalArgumentException("out: expected float32 [3, " + s.frames() + ", " + s.height() + ", " + s.width()
                        + "] for view " + s.name() + ", got " + org.dualdistill.internal.torch.TensorBridge.shapeString(out));
            }
        }
        VideoTransform.renderInto(decoded, pos, plan.box(), plan.flip(), s.mean(), s.std(), out);
    }

    /**
     * Samples, decodes and renders a whole video's clips (one decode of the union of their frames).
     *
     * @param source  an open source decoding at the size the boxes should refer to (normally its native size);
     *                borrowed
     * @param videoId the id recorded in the {@link ViewRecord}s
     * @param rnd     the randomness
     * @return {@link #clipsPerVideo()} clips; caller must close each
     * @throws VideoDecodeException on unreadable or damaged input
     */
    public List<MultiViewClip> sample(VideoSource source, String videoId, SplittableRandom rnd) throws VideoDecodeException {
        return sample(source, videoId, 0, source.durationUs(), rnd);
    }

    /**
     * Samples, decodes and renders the clips of a segment of a video. All clips' frames are decoded in one pass and
     * held at once (for many clips over a long video, e.g. 10 x 3 test views, the {@code DataLoader} splits the pass
     * under a frame cap).
     *
     * @param source  an open source; borrowed
     * @param videoId the id recorded in the {@link ViewRecord}s
     * @param fromUs  segment start, microseconds
     * @param toUs    segment end, microseconds
     * @param rnd     the randomness
     * @return {@link #clipsPerVideo()} clips; caller must close each
     * @throws VideoDecodeException on unreadable or damaged input
     */
    public List<MultiViewClip> sample(VideoSource source, String videoId, long fromUs, long toUs, SplittableRandom rnd)
            throws VideoDecodeException {
        Timeline tl = Timeline.of(source);
        List<ClipPlan> plans = plan(videoId, tl, source.outputWidth(), source.outputHeight(), fromUs, toUs, rnd);
        long[] union = framesOf(plans);
        List<MultiViewClip> out = new ArrayList<>(plans.size());
        boolean ok = false;
        try (Clip decoded = source.frames(union)) {
            for (ClipPlan p : plans) {
                Tensor[] ts = new Tensor[views.size()];
                try (PointerScope scope = new PointerScope()) {
                    for (int v = 0; v < views.size(); v++) {
                        ViewSpec s = views.get(v);
                        ts[v] = torch.empty(new long[] {3, s.frames(), s.height(), s.width()}, new TensorOptions(ScalarType.Float), null);
                        render(decoded.frames(), union, p, v, ts[v]);
                    }
                    for (Tensor t : ts) {
                        t.retainReference();
                    }
                }
                out.add(new MultiViewClip(ts, p, names));
            }
            ok = true;
            return out;
        } finally {
            if (!ok) {
                for (MultiViewClip c : out) {
                    c.close();
                }
            }
        }
    }

    @Override
    public String toString() {
        return "MultiViewSampler[" + clips + ", " + transform + ", views " + views + "]";
    }
}
