package org.dualdistill.video;

import java.util.Arrays;

/**
 * The frame clock of one video: how many frames it has, when each one is shown (microseconds from the first frame),
 * how long it lasts, and its frame rate. This is all a {@link ClipSampler} needs to turn a sampled time window into
 * exact frame indices, so samplers can be planned and tested without decoding anything.
 *
 * <p>Frame selection rule (used by every view of every clip): the frame shown for time {@code t} is the frame whose
 * presentation time is nearest to {@code t} (the earlier one on a tie), so a window whose start is a frame time and
 * whose frames are spaced by whole frame periods selects exactly {@code start, start + stride, ...} even though
 * timestamps are rounded to microseconds. Times past the last frame select the last frame (short videos repeat their
 * last frame, as PySlowFast clamps indices).
 *
 * <p>Immutable and thread-safe.
 */
public final class Timeline {
    private final long[] timesUs;
    private final long durationUs;
    private final Rational frameRate;

    private Timeline(long[] timesUs, long durationUs, Rational frameRate) {
        this.timesUs = timesUs;
        this.durationUs = durationUs;
        this.frameRate = frameRate;
    }

    /**
     * The timeline of an open video, from its packet index (no decoding).
     *
     * @param source an open source (borrowed)
     * @return its timeline; the frame rate is the stream's, or frames / duration when the stream does not say
     * @throws IllegalStateException    if the source is closed
     * @throws IllegalArgumentException if the video has no frame
     */
    public static Timeline of(VideoSource source) {
        int n = Math.toIntExact(source.frameCount());
        long[] t = new long[n];
        for (int i = 0; i < n; i++) {
            t[i] = source.frameTimeUs(i);
        }
        Rational fps = source.info().frameRate();
        long dur = Math.max(source.durationUs(), n == 0 ? 1 : t[n - 1] + 1);
        if (!fps.isPositive()) {
            fps = Rational.of(n * 1_000_000L, dur);
        }
        return of(t, dur, fps);
    }

    /**
     * A constant-frame-rate timeline: frame {@code i} at {@code round(i / fps)} seconds, in microseconds.
     *
     * @param frameCount number of frames, at least 1
     * @param fps        frames per second, positive
     * @return the timeline, lasting {@code frameCount / fps}
     */
    public static Timeline constantRate(int frameCount, Rational fps) {
        if (frameCount < 1) {
            throw new IllegalArgumentException("frameCount must be >= 1, got " + frameCount);
        }
        if (fps == null || !fps.isPositive()) {
            throw new IllegalArgumentException("fps must be positive, got " + fps);
        }
        Rational period = new Rational(fps.den(), fps.num());
        long[] t = new long[frameCount];
        for (int i = 0; i < frameCount; i++) {
            t[i] = period.toMicros(i);
        }
        return new Timeline(t, period.toMicros(frameCount), fps);
    }

    /**
     * A timeline from explicit frame times.
     *
     * @param timesUs    presentation time of every frame in microseconds, non-decreasing, the first one 0 (copied)
     * @param durationUs time from the first frame to the end of the last one, greater than the last frame's time
     * @param frameRate  the nominal frame rate, positive (used to turn {@code frames x stride} into a duration)
     * @return the timeline
     */
    public static Timeline of(long[] timesUs, long durationUs, Rational frameRate) {
        if (timesUs == null || timesUs.length == 0) {
            throw new IllegalArgumentException("a timeline needs at least one frame");
        }
        if (frameRate == null || !frameRate.isPositive()) {
            throw new IllegalArgumentException("frameRate must be positive, got " + frameRate);
        }
        long[] t = timesUs.clone();
        for (int i = 1; i < t.length; i++) {
            if (t[i] < t[i - 1]) {
                throw new IllegalArgumentException("frame times must not decrease: frame " + i + " at " + t[i] + " us after "
                        + t[i - 1] + " us");
            }
        }
        if (t[0] < 0 || durationUs <= t[t.length - 1]) {
            throw new IllegalArgumentException("need 0 <= first frame time and duration > last frame time, got first " + t[0]
                    + " us, last " + t[t.length - 1] + " us, duration " + durationUs + " us");
        }
        return new Timeline(t, durationUs, frameRate);
    }

    /** @return the number of frames */
    public int frameCount() {
        return timesUs.length;
    }

    /**
     * @param index a frame index in {@code [0, frameCount)}
     * @return its presentation time in microseconds
     */
    public long timeUs(int index) {
        return timesUs[index];
    }

    /** @return microseconds from the first frame to the end of the last */
    public long durationUs() {
        return durationUs;
    }

    /** @return the nominal frame rate (positive) */
    public Rational frameRate() {
        return frameRate;
    }

    /**
     * @param timeUs a time in microseconds
     * @return the last frame shown at or before {@code timeUs} (0 for times before the first frame)
     */
    public int frameAtOrBefore(long timeUs) {
        int i = Arrays.binarySearch(timesUs, timeUs);
        if (i >= 0) {
            while (i + 1 < timesUs.length && timesUs[i + 1] == timeUs) {
                i++;
            }
            return i;
        }
        return Math.max(0, -i - 2);
    }

    /**
     * @param timeUs a time in microseconds
     * @return the frame whose presentation time is nearest to {@code timeUs}; the earlier one on a tie
     */
    public int nearestFrame(long timeUs) {
        int i = frameAtOrBefore(timeUs);
        if (i + 1 < timesUs.length && timesUs[i] < timeUs && timesUs[i + 1] - timeUs < timeUs - timesUs[i]) {
            return i + 1;
        }
        return i;
    }

    /**
     * The frames of a view with {@code numFrames} frames spread evenly over a window: frame {@code i} is the frame
     * nearest to {@code startUs + floor(i * (endUs - startUs) / numFrames)}. A view with {@code frames} frames of a
     * window that lasts {@code frames x stride} frame periods therefore gets every {@code stride}-th frame from the
     * window's first; a view with a different count resamples the same window.
     *
     * @param window    the window
     * @param numFrames the number of frames, at least 1
     * @return frame indices in {@code [0, frameCount)}, non-decreasing (repeats where the video is too short)
     */
    public long[] frameIndices(ClipInfo window, int numFrames) {
        if (numFrames < 1) {
            throw new IllegalArgumentException("numFrames must be >= 1, got " + numFrames);
        }
        long d = window.durationUs();
        long[] out = new long[numFrames];
        for (int i = 0; i < numFrames; i++) {
            long t = window.startUs() + mulDiv(i, d, numFrames);
            out[i] = nearestFrame(t);
        }
        return out;
    }

    /** @return {@code floor(a * b / c)} for non-negative a, b and positive c, exact even when {@code a * b} overflows */
    static long mulDiv(long a, long b, long c) {
        long hi = Math.multiplyHigh(a, b);
        long lo = a * b;
        if (hi == 0 && lo >= 0) {
            return lo / c;
        }
        return java.math.BigInteger.valueOf(a).multiply(java.math.BigInteger.valueOf(b)).divide(java.math.BigInteger.valueOf(c))
                .longValueExact();
    }

    @Override
    public String toString() {
        return "Timeline[" + timesUs.length + " frames, " + durationUs + " us, " + frameRate + " fps]";
    }
}
