package org.dualdistill.video;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.SplittableRandom;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dualdistill.internal.torch.TensorBridge;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Crop geometry, flips and normalization, checked pixel for pixel. */
@SuppressWarnings("try")
class VideoTransformTest {
    private static final float[] MEAN = {0.45f, 0.40f, 0.35f};
    private static final float[] STD = {0.225f, 0.25f, 0.20f};

    @TempDir
    Path dir;

    @Test
    void trainDrawsScaleCropAndFlipWithinBounds() {
        VideoTransform t = VideoTransform.train(182, 228);
        SplittableRandom rnd = new SplittableRandom(5);
        int flips = 0;
        int minW = Integer.MAX_VALUE;
        int maxW = 0;
        for (int i = 0; i < 2000; i++) {
            VideoTransform.Spatial s = t.sample(320, 240, 160, 160, 0, rnd);
            assertTrue(s.shortSide() >= 182 && s.shortSide() <= 228, "scale " + s.shortSide());
            int side = (int) Math.round(160.0 * 240 / s.shortSide());
            CropBox b = s.box();
            assertEquals(side, b.width());
            assertEquals(side, b.height());
            assertTrue(b.fitsIn(320, 240), b.toString());
            minW = Math.min(minW, b.width());
            maxW = Math.max(maxW, b.width());
            flips += s.flip() ? 1 : 0;
        }
        assertEquals(Math.round(160.0 * 240 / 228), minW);
        assertEquals(Math.round(160.0 * 240 / 182), maxW);
        assertTrue(flips > 900 && flips < 1100, "flips " + flips);
        // deterministic per seed
        assertEquals(t.sample(320, 240, 160, 160, 0, new SplittableRandom(9)), t.sample(320, 240, 160, 160, 0, new SplittableRandom(9)));
    }

    @Test
    void centerAndThreeCropsFollowPySlowFast() {
        // 320x240 scaled to short side 160 is 213x160; a 160 crop is 240x240 source pixels
        assertEquals(new CropBox(40, 0, 240, 240), VideoTransform.center(160).sample(320, 240, 160, 160, 0, null).box());
        // odd free space: offset ceil(81 / 2) = 41
        assertEquals(new CropBox(41, 0, 240, 240), VideoTransform.center(160).sample(321, 240, 160, 160, 0, null).box());
        VideoTransform three = VideoTransform.threeCrop(160);
        assertEquals(new CropBox(0, 0, 240, 240), three.sample(320, 240, 160, 160, 0, null).box());
        assertEquals(new CropBox(40, 0, 240, 240), three.sample(320, 240, 160, 160, 1, null).box());
        assertEquals(new CropBox(80, 0, 240, 240), three.sample(320, 240, 160, 160, 2, null).box());
        // portrait: along the height
        assertEquals(new CropBox(0, 80, 240, 240), three.sample(240, 320, 160, 160, 2, null).box());
        // no scaling: the crop is cut at source resolution
        assertEquals(new CropBox(80, 40, 160, 160), VideoTransform.center(0).sample(320, 240, 160, 160, 0, null).box());
        // a crop larger than the scaled frame is clamped to the frame
        assertEquals(new CropBox(0, 0, 64, 48), VideoTransform.center(0).sample(64, 48, 160, 160, 0, null).box());
        assertThrows(IllegalArgumentException.class, () -> VideoTransform.train(228, 182));
        assertThrows(IllegalArgumentException.class, () -> VideoTransform.of(0, 10, VideoTransform.Crop.CENTER, 0));
        assertThrows(IllegalArgumentException.class, () -> VideoTransform.of(10, 10, VideoTransform.Crop.CENTER, 1.5));
    }

    /** Java reference: pixel * scale + shift ((pixel / 255 - mean) / std) over a box, frames in {@code pos}, optionally mirrored. */
    private static float[] expected(byte[] rgb, int w, int h, long[] pos, CropBox b, boolean flip) {
        float[] scale = VideoTransform.normalizationScale(STD);
        float[] shift = VideoTransform.normalizationShift(MEAN, STD);
        int t = pos.length;
        float[] out = new float[3 * t * b.height() * b.width()];
        int o = 0;
        for (int c = 0; c < 3; c++) {
            for (int k = 0; k < t; k++) {
                for (int y = 0; y < b.height(); y++) {
                    for (int x = 0; x < b.width(); x++) {
                        int sx = b.x() + (flip ? b.width() - 1 - x : x);
                        int sy = b.y() + y;
                        int v = rgb[(int) (((pos[k] * h + sy) * w + sx) * 3 + c)] & 0xff;
                        out[o] = v * scale[c] + shift[c];
                        assertEquals((v / 255f - MEAN[c]) / STD[c], out[o], 1e-6f);
                        o++;
                    }
                }
            }
        }
        return out;
    }

    @Test
    void cropFlipAndNormalizeAreExactOnDecodedIndexFrames() throws Exception {
        Path f = TestVideos.temp(dir, 12, 25, 48, 64);
        try (VideoSource s = VideoSource.open(f); Clip c = s.frames(0, 3, 7, 11); PointerScope scope = new PointerScope()) {
            assertArrayEquals(new int[] {0, 3, 7, 11}, TestVideos.readIndices(c.frames()));
            byte[] rgb = TestVideos.bytes(c.frames());
            long[] pos = {3, 0, 2, 2};
            for (CropBox b : new CropBox[] {new CropBox(0, 0, 64, 48), new CropBox(5, 7, 33, 21), new CropBox(63, 47, 1, 1)}) {
                for (boolean flip : new boolean[] {false, true}) {
                    Tensor out = torch.empty(new long[] {3, pos.length, b.height(), b.width()}, new TensorOptions(ScalarType.Float), null);
                    VideoTransform.renderInto(c.frames(), pos, b, flip, MEAN, STD, out);
                    assertArrayEquals(expected(rgb, 64, 48, pos, b, flip), TensorBridge.toFloats(out), 0f, b + " flip " + flip);
                }
            }
            // the full frame, unflipped, still shows the frame indices: read them back from the normalized output
            Tensor full = VideoTransform.render(c.frames(), new CropBox(0, 0, 64, 48), false, 48, 64, new float[3], new float[] {1, 1, 1});
            try {
                Tensor bytes = full.mul(new org.bytedeco.pytorch.Scalar(255.0)).round().to(ScalarType.Byte).permute(1, 2, 3, 0).contiguous();
                assertArrayEquals(new int[] {0, 3, 7, 11}, TestVideos.readIndices(bytes));
            } finally {
                full.close();
            }
        }
    }

    @Test
    void resizeKeepsConstantsAndMirrorsSymmetrically() {
        try (PointerScope scope = new PointerScope()) {
            // one frame 4x2 (W x H): columns 0, 40, 80, 120 in every channel
            byte[] px = new byte[2 * 4 * 3];
            for (int y = 0; y < 2; y++) {
                for (int x = 0; x < 4; x++) {
                    for (int c = 0; c < 3; c++) {
                        px[(y * 4 + x) * 3 + c] = (byte) (40 * x);
                    }
                }
            }
            Tensor frames = Tensor.create(px, false, 1, 2, 4, 3);
            float[] zero = new float[3];
            float[] one = {1, 1, 1};
            Tensor up = VideoTransform.render(frames, new CropBox(0, 0, 4, 2), false, 4, 8, zero, one);
            Tensor upFlip = VideoTransform.render(frames, new CropBox(0, 0, 4, 2), true, 4, 8, zero, one);
            try {
                float[] a = TensorBridge.toFloats(up);
                float[] b = TensorBridge.toFloats(upFlip);
                // bilinear, align_corners=false, x2: output column j samples source x = (j + 0.5) / 2 - 0.5, clamped at 0
                float[] row = {0, 10, 30, 50, 70, 90, 110, 120};
                for (int c = 0; c < 3; c++) {
                    for (int y = 0; y < 4; y++) {
                        for (int x = 0; x < 8; x++) {
                            assertEquals(row[x] / 255f, a[(c * 4 + y) * 8 + x], 1e-6f);
                            assertEquals(row[7 - x] / 255f, b[(c * 4 + y) * 8 + x], 1e-6f);
                        }
                    }
                }
            } finally {
                up.close();
                upFlip.close();
            }
        }
    }

    @Test
    void singleStepsOnFloatClips() {
        try (PointerScope scope = new PointerScope()) {
            Tensor clip = torch.arange(new org.bytedeco.pytorch.Scalar(3 * 2 * 240 * 320)).to(ScalarType.Float).reshape(3, 2, 240, 320);
            Tensor scaled = VideoTransform.shortSideScale(clip, 160);
            Tensor cropped = VideoTransform.crop(clip, new CropBox(10, 20, 30, 40));
            Tensor flipped = VideoTransform.horizontalFlip(cropped);
            Tensor norm = VideoTransform.normalize(cropped.div(new org.bytedeco.pytorch.Scalar(1e6)), MEAN, STD);
            try {
                assertArrayEquals(new long[] {3, 2, 160, 213}, TensorBridge.shape(scaled));
                assertArrayEquals(new long[] {3, 2, 40, 30}, TensorBridge.shape(cropped));
                // clip value at (c, t, y, x) is ((c * 2 + t) * 240 + y) * 320 + x
                float[] cv = TensorBridge.toFloats(cropped);
                float[] fv = TensorBridge.toFloats(flipped);
                float[] nv = TensorBridge.toFloats(norm);
                int i = 0;
                for (int c = 0; c < 3; c++) {
                    for (int t = 0; t < 2; t++) {
                        for (int y = 0; y < 40; y++) {
                            for (int x = 0; x < 30; x++, i++) {
                                float v = ((c * 2 + t) * 240 + 20 + y) * 320 + 10 + x;
                                assertEquals(v, cv[i]);
                                assertEquals(v - x + (29 - x), fv[i]);
                                assertEquals((v / 1e6f - MEAN[c]) / STD[c], nv[i], 1e-5f);
                            }
                        }
                    }
                }
            } finally {
                scaled.close();
                cropped.close();
                flipped.close();
                norm.close();
            }
            assertThrows(IllegalArgumentException.class, () -> VideoTransform.crop(clip, new CropBox(300, 0, 30, 40)));
        }
    }
}
