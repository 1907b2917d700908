package org.dualdistill.video;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

/** Windows and frame indices of the clip samplers, exactly, on timelines built without decoding. */
class ClipSamplerTest {
    private static final Timeline FPS30_90 = Timeline.constantRate(90, new Rational(30, 1)); // 3 s

    private static long[] strided(long start, int n, int stride) {
        long[] out = new long[n];
        for (int i = 0; i < n; i++) {
            out[i] = start + (long) i * stride;
        }
        return out;
    }

    @Test
    void clipDurationIsFramesTimesStrideAtTheVideoRate() {
        assertEquals(2_600_000, ClipSampler.random(13, 6).clipDurationUs(FPS30_90));
        Timeline ntsc = Timeline.constantRate(300, new Rational(30000, 1001));
        assertEquals(2_602_600, ClipSampler.random(13, 6).clipDurationUs(ntsc));
        // a fixed target rate (PySlowFast TARGET_FPS) overrides the video's
        assertEquals(2_600_000, ClipSampler.random(13, 6).withFrameRate(new Rational(30, 1)).clipDurationUs(ntsc));
    }

    @Test
    void uniformSpacesWindowsFromFirstToLastStartTimesCrops() {
        List<ClipInfo> w = ClipSampler.uniform(13, 6, 3, 3).sample(FPS30_90, new SplittableRandom(1));
        assertEquals(9, w.size());
        long[] starts = {0, 200_000, 400_000}; // possible starts [0, 400000]: frames 0, 6, 12
        for (int i = 0; i < 3; i++) {
            for (int c = 0; c < 3; c++) {
                ClipInfo ci = w.get(i * 3 + c);
                assertEquals(starts[i], ci.startUs());
                assertEquals(starts[i] + 2_600_000, ci.endUs());
                assertEquals(i, ci.clipIndex());
                assertEquals(c, ci.augIndex());
                assertEquals(i == 2 && c == 2, ci.isLastClip());
                assertArrayEquals(strided(6L * i, 13, 6), FPS30_90.frameIndices(ci, 13));
            }
        }
        // one clip: centred
        ClipInfo one = ClipSampler.uniform(13, 6, 1, 1).sample(FPS30_90, new SplittableRandom(1)).get(0);
        assertEquals(200_000, one.startUs());
        assertArrayEquals(strided(6, 13, 6), FPS30_90.frameIndices(one, 13));
        assertTrue(one.isLastClip());
    }

    @Test
    void constantPerVideoMatchesPytorchvideoSpacingWithAugmentations() {
        List<ClipInfo> w = ClipSampler.constantPerVideo(4, 5, 4, 2).sample(FPS30_90, new SplittableRandom(1));
        // window 20 frames = 666,667 us; possible starts [0, 2,333,333]; starts at i/3 of that, snapped to frames 0, 23, 47, 70
        assertEquals(8, w.size());
        long[] frames = {0, 23, 47, 70};
        for (int i = 0; i < 4; i++) {
            for (int a = 0; a < 2; a++) {
                ClipInfo ci = w.get(i * 2 + a);
                assertEquals(FPS30_90.timeUs((int) frames[i]), ci.startUs());
                assertEquals(ci.startUs() + 666_667, ci.endUs());
                assertEquals(a, ci.augIndex());
                assertArrayEquals(strided(frames[i], 4, 5), FPS30_90.frameIndices(ci, 4));
            }
        }
        // a single clip starts at 0 (pytorchvideo), unlike uniform's centred one
        assertEquals(0, ClipSampler.constantPerVideo(4, 5, 1, 1).sample(FPS30_90, new SplittableRandom(1)).get(0).startUs());
    }

    @Test
    void randomWindowsStartOnFramesAndStayInsideTheVideo() {
        ClipSampler s = ClipSampler.random(13, 6, 2);
        SplittableRandom rnd = new SplittableRandom(42);
        Set<Long> startFrames = new HashSet<>();
        for (int k = 0; k < 300; k++) {
            List<ClipInfo> w = s.sample(FPS30_90, rnd);
            assertEquals(2, w.size());
            assertFalse(w.get(0).isLastClip());
            assertTrue(w.get(1).isLastClip());
            for (ClipInfo ci : w) {
                int f = FPS30_90.frameAtOrBefore(ci.startUs());
                assertEquals(FPS30_90.timeUs(f), ci.startUs(), "window starts on a frame");
                assertTrue(f >= 0 && f <= 12, "start frame " + f);
                assertEquals(ci.startUs() + 2_600_000, ci.endUs());
                assertTrue(ci.endUs() <= FPS30_90.durationUs());
                assertArrayEquals(strided(f, 13, 6), FPS30_90.frameIndices(ci, 13));
                startFrames.add((long) f);
            }
        }
        assertEquals(13, startFrames.size(), "all 13 possible starts are drawn");
        // same seed, same windows
        assertEquals(ClipSampler.random(13, 6, 3).sample(FPS30_90, new SplittableRandom(7)),
                ClipSampler.random(13, 6, 3).sample(FPS30_90, new SplittableRandom(7)));
    }

    @Test
    void otherFrameCountsResampleTheSameWindow() {
        ClipInfo w = ClipSampler.uniform(13, 6, 1, 1).sample(FPS30_90, new SplittableRandom(0)).get(0); // frames 6 .. 83
        long[] teacher = FPS30_90.frameIndices(w, 16);
        // frame i is the one nearest to 6 + i * 78 / 16 (ties to the earlier)
        assertArrayEquals(new long[] {6, 11, 16, 21, 25, 30, 35, 40, 45, 50, 55, 60, 64, 69, 74, 79}, teacher);
        long[] four = FPS30_90.frameIndices(w, 4);
        assertArrayEquals(new long[] {6, 25, 45, 64}, four);
        for (long f : teacher) {
            assertTrue(FPS30_90.timeUs((int) f) >= w.startUs() && FPS30_90.timeUs((int) f) < w.endUs());
        }
    }

    @Test
    void targetFrameRateTakesEveryFifthFrameOf25FpsVideo() {
        Timeline t25 = Timeline.constantRate(100, new Rational(25, 1));
        ClipSampler s = ClipSampler.uniform(13, 6, 1, 1).withFrameRate(new Rational(30, 1));
        ClipInfo w = s.sample(t25, new SplittableRandom(0)).get(0);
        assertEquals(2_600_000, w.durationUs());
        long f0 = t25.frameAtOrBefore(w.startUs());
        assertArrayEquals(strided(f0, 13, 5), t25.frameIndices(w, 13));
    }

    @Test
    void segmentsAreSampledWithinTheirSpan() {
        ClipSampler s = ClipSampler.random(4, 2);
        SplittableRandom rnd = new SplittableRandom(3);
        for (int k = 0; k < 100; k++) {
            ClipInfo w = s.sample(FPS30_90, 1_000_000, 2_000_000, rnd).get(0);
            assertTrue(w.startUs() >= 1_000_000 - 16_667 && w.endUs() <= 2_000_000 + 16_667, w.toString());
            assertEquals(266_667, w.durationUs());
        }
        // a segment shorter than a window starts at the segment
        ClipInfo w = ClipSampler.uniform(13, 6, 1, 1).sample(FPS30_90, 1_000_000, 1_500_000, new SplittableRandom(0)).get(0);
        assertEquals(1_000_000, w.startUs());
    }

    @Test
    void shortVideosRepeatTheirLastFrame() {
        Timeline t = Timeline.constantRate(20, new Rational(30, 1));
        ClipInfo w = ClipSampler.random(13, 6).sample(t, new SplittableRandom(0)).get(0);
        assertEquals(0, w.startUs());
        assertArrayEquals(new long[] {0, 6, 12, 18, 19, 19, 19, 19, 19, 19, 19, 19, 19}, t.frameIndices(w, 13));
    }

    @Test
    void variableFrameRateUsesTimestamps() {
        // frames at 0, 10, 20 ms, then a gap, then every 40 ms
        long[] times = {0, 10_000, 20_000, 100_000, 140_000, 180_000, 220_000, 260_000};
        Timeline t = Timeline.of(times, 300_000, new Rational(25, 1));
        ClipInfo w = new ClipInfo(0, 240_000, 0, 0, true);
        assertArrayEquals(new long[] {0, 3, 4}, t.frameIndices(w, 3)); // nearest to 0, 80 ms, 160 ms (tie -> earlier)
        assertEquals(2, t.frameAtOrBefore(99_999));
        assertEquals(3, t.nearestFrame(61_000));
        assertEquals(2, t.nearestFrame(59_000));
    }

    @Test
    void badArgumentsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> ClipSampler.random(0, 6));
        assertThrows(IllegalArgumentException.class, () -> ClipSampler.random(13, 0));
        assertThrows(IllegalArgumentException.class, () -> ClipSampler.uniform(13, 6, 0, 3));
        assertThrows(IllegalArgumentException.class, () -> ClipSampler.constantPerVideo(13, 6, 2, 0));
        assertThrows(IllegalArgumentException.class, () -> ClipSampler.random(13, 6).withFrameRate(Rational.UNKNOWN));
        assertThrows(IllegalArgumentException.class, () -> ClipSampler.random(4, 1).sample(FPS30_90, 2_000_000, 1_000_000, new SplittableRandom(0)));
        assertThrows(IllegalArgumentException.class, () -> Timeline.of(new long[] {0, 5, 3}, 10, new Rational(1, 1)));
    }
}
