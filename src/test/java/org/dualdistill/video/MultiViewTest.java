package org.dualdistill.video;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dualdistill.internal.torch.TensorBridge;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The student's and the teachers' views come from the same window and the same region: checked on decoded content
 * that encodes the frame index (red level) and the source position (green = x ramp, blue = y ramp), losslessly coded.
 */
@SuppressWarnings("try")
class MultiViewTest {
    private static final int W = 96;
    private static final int H = 72;
    private static final int FRAMES = 30;
    private static final float[] ZERO = {0, 0, 0};
    private static final float[] ONE = {1, 1, 1};

    @TempDir
    Path dir;

    /** FFV1 (lossless YUV 4:4:4): R = 8 t, G = x ramp, B = y ramp. */
    private Path rampVideo() throws Exception {
        Path f = dir.resolve("ramps.mkv");
        try (VideoEncoder enc = VideoEncoder.open(f, EncoderOptions.builder(VideoCodec.FFV1, W, H).optFrameRate(30).build())) {
            for (int t = 0; t < FRAMES; t++) {
                byte[] rgb = new byte[W * H * 3];
                for (int y = 0; y < H; y++) {
                    for (int x = 0; x < W; x++) {
                        int o = (y * W + x) * 3;
                        rgb[o] = (byte) (8 * t);
                        rgb[o + 1] = (byte) Math.round(x * 255.0 / (W - 1));
                        rgb[o + 2] = (byte) Math.round(y * 255.0 / (H - 1));
                    }
                }
                enc.writeFrame(rgb);
            }
        }
        return f;
    }

    /** Per output frame: the frame index read from the red level. */
    private static long[] framesOf(float[] v, int t, int h, int w) {
        long[] out = new long[t];
        for (int k = 0; k < t; k++) {
            double sum = 0;
            for (int i = 0; i < h * w; i++) {
                sum += v[k * h * w + i];
            }
            out[k] = Math.round(sum / (h * w) * 255 / 8);
        }
        return out;
    }

    /** Mean of channel c over all frames at output column x (or row y when column is negative). */
    private static double line(float[] v, int c, int t, int h, int w, int column, int row) {
        double sum = 0;
        int n = 0;
        for (int k = 0; k < t; k++) {
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    if ((column >= 0 && x == column) || (row >= 0 && y == row)) {
                        sum += v[((c * t + k) * h + y) * w + x];
                        n++;
                    }
                }
            }
        }
        return sum / n * 255;
    }

    /** The source coordinate bilinear resampling reads for output pixel 0 of a box edge (align_corners=false). */
    private static double firstSample(int boxStart, int boxSize, int out) {
        return boxStart + Math.max(0, 0.5 * boxSize / out - 0.5);
    }

    @Test
    void studentAndTeachersSeeTheSameWindowAndRegion() throws Exception {
        Path f = rampVideo();
        ViewSpec student = new ViewSpec("student", 4, 24, 24, ZERO, ONE);
        ViewSpec teacher = new ViewSpec("teacher", 6, 40, 40, ZERO, ONE);
        ViewSpec wide = new ViewSpec("wide", 3, 30, 50, ZERO, ONE);
        MultiViewSampler mv = MultiViewSampler.builder(ClipSampler.random(4, 3, 3), VideoTransform.train(40, 60)).addView(student)
                .addView(teacher).addView(wide).build();
        int flipped = 0;
        try (VideoSource src = VideoSource.open(f)) {
            Timeline tl = Timeline.of(src);
            for (int seed = 0; seed < 6; seed++) {
                List<MultiViewClip> clips = mv.sample(src, "ramps", new SplittableRandom(seed));
                assertEquals(3, clips.size());
                for (MultiViewClip c : clips) {
                    try (c; PointerScope scope = new PointerScope()) {
                        ClipPlan p = c.plan();
                        CropBox b = p.box();
                        flipped += p.flip() ? 1 : 0;
                        long start = tl.frameAtOrBefore(p.window().startUs());
                        assertEquals(tl.timeUs((int) start), p.window().startUs());
                        assertEquals(400_000, p.window().durationUs());
                        // the student takes every third frame of the window
                        assertArrayEquals(new long[] {start, start + 3, start + 6, start + 9}, p.frameIndices(0));
                        for (int v = 0; v < 3; v++) {
                            ViewSpec s = mv.views().get(v);
                            ViewRecord r = c.records().get(v);
                            assertEquals(new ViewRecord("ramps", s.name(), p.window().startUs(), p.window().endUs(), p.window().clipIndex(), 0, b,
                                    p.flip(), p.shortSide(), s.frames(), s.height(), s.width()), r);
                            float[] x = TensorBridge.toFloats(c.view(v));
                            // time: the frames shown are the planned ones, all inside the window
                            assertArrayEquals(p.frameIndices(v), framesOf(x, s.frames(), s.height(), s.width()), s.name());
                            for (long fi : p.frameIndices(v)) {
                                assertTrue(fi >= start && fi < start + 12, s.name() + " frame " + fi + " outside the window at " + start);
                            }
                            // space: the left, right, top and bottom edges sample the box's edges
                            double left = line(x, 1, s.frames(), s.height(), s.width(), 0, -1) * (W - 1) / 255;
                            double right = line(x, 1, s.frames(), s.height(), s.width(), s.width() - 1, -1) * (W - 1) / 255;
                            double top = line(x, 2, s.frames(), s.height(), s.width(), -1, 0) * (H - 1) / 255;
                            double bottom = line(x, 2, s.frames(), s.height(), s.width(), -1, s.height() - 1) * (H - 1) / 255;
                            double x0 = firstSample(b.x(), b.width(), s.width());
                            double x1 = 2 * b.x() + b.width() - 1 - x0;
                            double y0 = firstSample(b.y(), b.height(), s.height());
                            double y1 = 2 * b.y() + b.height() - 1 - y0;
                            String what = s.name() + " box " + b + (p.flip() ? " flipped" : "");
                            assertEquals(p.flip() ? x1 : x0, left, 1.0, what + " left");
                            assertEquals(p.flip() ? x0 : x1, right, 1.0, what + " right");
                            assertEquals(y0, top, 1.0, what + " top");
                            assertEquals(y1, bottom, 1.0, what + " bottom");
                        }
                        assertNotEquals(c.records().get(0).cacheKey(), c.records().get(1).cacheKey());
                        assertTrue(c.records().get(1).cacheKey().startsWith("ramps|" + p.window().startUs() + "-" + p.window().endUs() + "|" + b + "|"));
                    }
                }
            }
        }
        assertTrue(flipped > 0 && flipped < 18, "flips " + flipped);
    }

    @Test
    void uniformTestViewsShowTheRightFramesOfAnIndexVideo() throws Exception {
        Path f = TestVideos.temp(dir, 40, 20, 48, 64);
        ViewSpec student = new ViewSpec("student", 5, 48, 64, ZERO, ONE);
        ViewSpec teacher = new ViewSpec("teacher", 8, 48, 64, ZERO, ONE);
        // full frames (no scaling, crop = frame): the barcode stays readable
        MultiViewSampler mv = MultiViewSampler.of(ClipSampler.uniform(5, 4, 3, 1), VideoTransform.center(0), student, teacher);
        try (VideoSource src = VideoSource.open(f)) {
            List<MultiViewClip> clips = mv.sample(src, "index", new SplittableRandom(0));
            long[] starts = {0, 10, 20}; // window 20 frames, possible starts 0..20
            for (int i = 0; i < 3; i++) {
                try (MultiViewClip c = clips.get(i); PointerScope scope = new PointerScope()) {
                    assertEquals(new CropBox(0, 0, 64, 48), c.plan().box());
                    long s = starts[i];
                    assertArrayEquals(new long[] {s, s + 4, s + 8, s + 12, s + 16}, c.plan().frameIndices(0));
                    // 8 frames over 20: nearest to s + 2.5 k (ties to the earlier)
                    assertArrayEquals(new long[] {s, s + 2, s + 5, s + 7, s + 10, s + 12, s + 15, s + 17}, c.plan().frameIndices(1));
                    for (int v = 0; v < 2; v++) {
                        Tensor bytes = c.view(v).mul(new Scalar(255.0)).round().to(ScalarType.Byte).permute(1, 2, 3, 0).contiguous();
                        long[] want = c.plan().frameIndices(v);
                        int[] got = TestVideos.readIndices(bytes);
                        for (int k = 0; k < want.length; k++) {
                            assertEquals(want[k], got[k], "view " + v + " frame " + k);
                        }
                    }
                }
            }
        }
    }

    @Test
    void configurationErrorsAreReported() {
        ClipSampler cs = ClipSampler.random(13, 6);
        VideoTransform vt = VideoTransform.train(182, 228);
        assertThrows(IllegalArgumentException.class, () -> MultiViewSampler.builder(cs, vt).build());
        assertThrows(IllegalArgumentException.class, () -> MultiViewSampler.of(cs, vt, ViewSpec.of("s", 16, 160)));
        assertThrows(IllegalArgumentException.class, () -> MultiViewSampler.of(cs, vt, ViewSpec.of("s", 13, 160), ViewSpec.of("s", 16, 224)));
        MultiViewSampler ok = MultiViewSampler.of(cs, vt, ViewSpec.of("s", 13, 160), ViewSpec.of("t", 16, 224));
        assertEquals(List.of("s", "t"), ok.viewNames());
        // planning needs no decoding: a 10 s, 30 fps video at 320x240
        List<ClipPlan> plans = ok.plan("v", Timeline.constantRate(300, new Rational(30, 1)), 320, 240, 0, 10_000_000, new SplittableRandom(1));
        assertEquals(1, plans.size());
        assertEquals(13 + 16 - countShared(plans.get(0)), plans.get(0).allFrames().length);
    }

    private static int countShared(ClipPlan p) {
        int shared = 0;
        for (long a : p.frameIndices(0)) {
            for (long b : p.frameIndices(1)) {
                if (a == b) {
                    shared++;
                    break;
                }
            }
        }
        return shared;
    }
}
