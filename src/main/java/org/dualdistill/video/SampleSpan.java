package org.dualdistill.video;

/**
 * What the {@link ClipSampler}s share: the span a sampler draws from (possible window starts
 * {@code [from, from + delta]}, window length {@code d}), snapping of starts to frames, and argument checks.
 * Immutable.
 */
final class SampleSpan {
    final Timeline timeline;
    final long from;
    final long delta;
    final long d;

    private SampleSpan(Timeline timeline, long from, long delta, long d) {
        this.timeline = timeline;
        this.from = from;
        this.delta = delta;
        this.d = d;
    }

    static SampleSpan of(ClipSampler s, Timeline t, long fromUs, long toUs) {
        if (t == null) {
            throw new IllegalArgumentException("timeline must not be null");
        }
        if (toUs < fromUs) {
            throw new IllegalArgumentException("span must not be reversed, got [" + fromUs + ", " + toUs + ") us");
        }
        long last = t.timeUs(t.frameCount() - 1);
        long from = Math.min(Math.max(0, fromUs), last);
        long to = Math.max(from, Math.min(toUs, t.durationUs()));
        long d = s.clipDurationUs(t);
        return new SampleSpan(t, from, Math.max(0, to - from - d), d);
    }

    ClipInfo clip(long rawStart, int clipIndex, int augIndex, boolean last) {
        long start = timeline.timeUs(timeline.nearestFrame(rawStart));
        return new ClipInfo(start, start + d, clipIndex, augIndex, last);
    }

    static void check(int frames, int stride, Rational fps) {
        positive(frames, "frames");
        positive(stride, "stride");
        if ((long) frames * stride > 1_000_000) {
            throw new IllegalArgumentException("frames x stride must be <= 1000000, got " + frames + " x " + stride);
        }
        if (fps != null && !fps.isPositive()) {
            throw new IllegalArgumentException("frameRate must be positive or null (the video's own), got " + fps);
        }
    }

    static void positive(int v, String name) {
        if (v < 1) {
            throw new IllegalArgumentException(name + " must be >= 1, got " + v);
        }
    }
}
