package org.dualdistill.video;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Chooses the time windows ({@link ClipInfo}) taken from a video, as pytorchvideo's clip samplers do, in exact
 * microseconds. A window lasts {@code frames x stride} frame periods: {@code frames} frames taken every
 * {@code stride}-th frame (PySlowFast's {@code NUM_FRAMES x SAMPLING_RATE}, e.g. 13 x 6 for X3D-S), at the video's own
 * frame rate or at a fixed one ({@link #withFrameRate}, PySlowFast's {@code TARGET_FPS}).
 *
 * <p>Three samplers:
 * <ul>
 * <li>{@link #random(int, int, int) random}: training; each window starts at a uniformly random time;</li>
 * <li>{@link #uniform(int, int, int, int) uniform}: testing; {@code numClips} windows evenly spaced from the first to
 *     the last possible start (one clip: centred) times {@code numCrops} spatial crops, as PySlowFast's multi-view test
 *     ({@code NUM_ENSEMBLE_VIEWS x NUM_SPATIAL_CROPS}, e.g. 10 x 3); {@link ClipInfo#augIndex()} is the crop index;</li>
 * <li>{@link #constantPerVideo(int, int, int, int) constantPerVideo}: pytorchvideo's
 *     {@code ConstantClipsPerVideoSampler}; {@code clipsPerVideo} windows at {@code i * maxStart / (clipsPerVideo - 1)},
 *     each repeated {@code augsPerClip} times with its own random augmentation.</li>
 * </ul>
 *
 * <p>Windows start exactly at a frame's presentation time (the one nearest to the drawn or computed start), so a view
 * of {@code frames} frames selects frames {@code s, s + stride, ...} exactly ({@link Timeline#frameIndices}). When the
 * video (or the segment) is shorter than a window, the window starts at the beginning and its frames past the end
 * repeat the last frame. Samplers are immutable records and thread-safe; the randomness comes from the caller's
 * {@link SplittableRandom}, so equal seeds give equal windows.
 */
public sealed interface ClipSampler permits ClipSampler.Random, ClipSampler.Uniform, ClipSampler.ConstantPerVideo {

    /** @return frames per clip of the reference view (the student's T) */
    int frames();

    /** @return the step between those frames, in frame periods */
    int stride();

    /** @return the frame rate that {@code frames x stride} refers to; null means each video's own rate */
    Rational frameRate();

    /** @return how many windows {@link #sample} returns for every video */
    int clipsPerVideo();

    /**
     * @param fps the fixed rate that {@code frames x stride} frame periods refer to, or null for each video's own rate
     * @return a copy of this sampler with that rate
     */
    ClipSampler withFrameRate(Rational fps);

    /**
     * Samples windows within {@code [fromUs, toUs)} of a video (a whole video: {@code [0, durationUs)}; an annotated
     * segment: its start and stop times).
     *
     * @param timeline the video's frame clock
     * @param fromUs   start of the span to sample from, microseconds (clamped to the video)
     * @param toUs     end of the span, microseconds, &gt;= fromUs (clamped to the video)
     * @param rnd      the randomness (used by random samplers only); advanced by the call
     * @return {@link #clipsPerVideo()} windows; the last one has {@link ClipInfo#isLastClip()} set
     */
    List<ClipInfo> sample(Timeline timeline, long fromUs, long toUs, SplittableRandom rnd);

    /**
     * Samples windows over a whole video.
     *
     * @param timeline the video's frame clock
     * @param rnd      the randomness
     * @return as {@link #sample(Timeline, long, long, SplittableRandom)} over {@code [0, durationUs)}
     */
    default List<ClipInfo> sample(Timeline timeline, SplittableRandom rnd) {
        return sample(timeline, 0, timeline.durationUs(), rnd);
    }

    /**
     * @param timeline the video's frame clock (its rate is used unless {@link #frameRate()} is set)
     * @return the window length, {@code frames * stride / fps} rounded to the nearest microsecond (at least 1)
     */
    default long clipDurationUs(Timeline timeline) {
        Rational fps = frameRate() != null ? frameRate() : timeline.frameRate();
        return Math.max(1, new Rational(fps.den(), fps.num()).toMicros((long) frames() * stride()));
    }

    /**
     * The training sampler.
     *
     * @param frames        T of the reference view, &gt;= 1
     * @param stride        frame step, &gt;= 1
     * @param clipsPerVideo independent windows per video and epoch, &gt;= 1 (decoded together: "decode once, sample
     *                      several")
     * @return the sampler
     */
    static Random random(int frames, int stride, int clipsPerVideo) {
        return new Random(frames, stride, clipsPerVideo, null);
    }

    /**
     * One random window per video.
     *
     * @param frames T of the reference view
     * @param stride frame step
     * @return the sampler
     */
    static Random random(int frames, int stride) {
        return random(frames, stride, 1);
    }

    /**
     * The multi-view test sampler.
     *
     * @param frames   T of the reference view
     * @param stride   frame step
     * @param numClips evenly spaced windows per video, &gt;= 1
     * @param numCrops spatial crops per window, &gt;= 1 (3 with {@link VideoTransform#threeCrop})
     * @return the sampler
     */
    static Uniform uniform(int frames, int stride, int numClips, int numCrops) {
        return new Uniform(frames, stride, numClips, numCrops, null);
    }

    /**
     * pytorchvideo's constant-clips-per-video sampler.
     *
     * @param frames        T of the reference view
     * @param stride        frame step
     * @param clipsPerVideo evenly spaced windows per video, &gt;= 1
     * @param augsPerClip   augmentations drawn per window, &gt;= 1
     * @return the sampler
     */
    static ConstantPerVideo constantPerVideo(int frames, int stride, int clipsPerVideo, int augsPerClip) {
        return new ConstantPerVideo(frames, stride, clipsPerVideo, augsPerClip, null);
    }

    /**
     * Random windows: each start uniform over the possible starts, then moved to the nearest frame.
     *
     * @param frames        T of the reference view
     * @param stride        frame step
     * @param clipsPerVideo windows per video
     * @param frameRate     fixed rate, or null for each video's own
     */
    record Random(int frames, int stride, int clipsPerVideo, Rational frameRate) implements ClipSampler {
        /** Validates. */
        public Random {
            SampleSpan.check(frames, stride, frameRate);
            SampleSpan.positive(clipsPerVideo, "clipsPerVideo");
        }

        @Override
        public Random withFrameRate(Rational fps) {
            return new Random(frames, stride, clipsPerVideo, fps);
        }

        @Override
        public List<ClipInfo> sample(Timeline timeline, long fromUs, long toUs, SplittableRandom rnd) {
            SampleSpan w = SampleSpan.of(this, timeline, fromUs, toUs);
            List<ClipInfo> out = new ArrayList<>(clipsPerVideo);
            for (int i = 0; i < clipsPerVideo; i++) {
                long start = w.from + (w.delta == 0 ? 0 : rnd.nextLong(w.delta + 1));
                out.add(w.clip(start, i, 0, i == clipsPerVideo - 1));
            }
            return out;
        }
    }

    /**
     * Evenly spaced windows times spatial crops, for testing.
     *
     * @param frames    T of the reference view
     * @param stride    frame step
     * @param numClips  windows per video
     * @param numCrops  crops per window
     * @param frameRate fixed rate, or null for each video's own
     */
    record Uniform(int frames, int stride, int numClips, int numCrops, Rational frameRate) implements ClipSampler {
        /** Validates. */
        public Uniform {
            SampleSpan.check(frames, stride, frameRate);
            SampleSpan.positive(numClips, "numClips");
            SampleSpan.positive(numCrops, "numCrops");
        }

        @Override
        public int clipsPerVideo() {
            return numClips * numCrops;
        }

        @Override
        public Uniform withFrameRate(Rational fps) {
            return new Uniform(frames, stride, numClips, numCrops, fps);
        }

        @Override
        public List<ClipInfo> sample(Timeline timeline, long fromUs, long toUs, SplittableRandom rnd) {
            SampleSpan w = SampleSpan.of(this, timeline, fromUs, toUs);
            List<ClipInfo> out = new ArrayList<>(clipsPerVideo());
            for (int i = 0; i < numClips; i++) {
                long start = w.from + (numClips == 1 ? w.delta / 2 : Timeline.mulDiv(w.delta, i, numClips - 1));
                for (int c = 0; c < numCrops; c++) {
                    out.add(w.clip(start, i, c, i == numClips - 1 && c == numCrops - 1));
                }
            }
            return out;
        }
    }

    /**
     * A fixed number of evenly spaced windows, each with several augmentations (pytorchvideo).
     *
     * @param frames        T of the reference view
     * @param stride        frame step
     * @param clipsPerVideo windows per video
     * @param augsPerClip   augmentations per window
     * @param frameRate     fixed rate, or null for each video's own
     */
    record ConstantPerVideo(int frames, int stride, int clipsPerVideo, int augsPerClip, Rational frameRate) implements ClipSampler {
        /** Validates. */
        public ConstantPerVideo {
            SampleSpan.check(frames, stride, frameRate);
            SampleSpan.positive(clipsPerVideo, "clipsPerVideo");
            SampleSpan.positive(augsPerClip, "augsPerClip");
        }

        /** @return windows times augmentations */
        @Override
        public int clipsPerVideo() {
            return Math.multiplyExact(clipsPerVideo, augsPerClip);
        }

        @Override
        public ConstantPerVideo withFrameRate(Rational fps) {
            return new ConstantPerVideo(frames, stride, clipsPerVideo, augsPerClip, fps);
        }

        @Override
        public List<ClipInfo> sample(Timeline timeline, long fromUs, long toUs, SplittableRandom rnd) {
            SampleSpan w = SampleSpan.of(this, timeline, fromUs, toUs);
            List<ClipInfo> out = new ArrayList<>(clipsPerVideo());
            for (int i = 0; i < clipsPerVideo; i++) {
                long start = w.from + (clipsPerVideo == 1 ? 0 : Timeline.mulDiv(w.delta, i, clipsPerVideo - 1));
                for (int a = 0; a < augsPerClip; a++) {
                    out.add(w.clip(start, i, a, i == clipsPerVideo - 1 && a == augsPerClip - 1));
                }
            }
            return out;
        }
    }
}
