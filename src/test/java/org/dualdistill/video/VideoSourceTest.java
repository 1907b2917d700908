package org.dualdistill.video;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.stream.Stream;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dualdistill.internal.torch.TensorBridge;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Probing and frame-accurate decoding over the codec/container matrix the bundled FFmpeg can write. */
@SuppressWarnings("try") // a PointerScope is opened for what it collects, not referenced
class VideoSourceTest {
    private static final int FRAMES = 60;
    private static final int W = 64;
    private static final int H = 48;

    @TempDir
    static Path dir;

    private static Path mpeg4Avi;

    @BeforeAll
    static void fixtures() throws IOException {
        mpeg4Avi = TestVideos.write(dir.resolve("mpeg4.avi"), EncoderOptions.builder(VideoCodec.MPEG4, W, H).build(), FRAMES);
    }

    /** codec, file name, max B-frames: every combination a real dataset might hand us that we can also write. */
    static Stream<Arguments> matrix() {
        return Stream.of(
                Arguments.of(VideoCodec.MPEG4, "mpeg4.avi", 0),
                Arguments.of(VideoCodec.MPEG4, "mpeg4_bframes.avi", 2),
                Arguments.of(VideoCodec.MPEG4, "mpeg4_bframes.mp4", 2),
                Arguments.of(VideoCodec.H264, "h264.mp4", 0),
                Arguments.of(VideoCodec.MJPEG, "mjpeg.avi", 0),
                Arguments.of(VideoCodec.VP9, "vp9.webm", 0),
                Arguments.of(VideoCodec.FFV1, "ffv1.mkv", 0));
    }

    private static Path encode(VideoCodec codec, String name, int bFrames) throws IOException {
        assumeTrue(codec.canEncode() && codec.canDecode(), codec + " not in the bundled FFmpeg");
        Path f = dir.resolve("m_" + name);
        if (!Files.exists(f)) {
            TestVideos.write(f, EncoderOptions.builder(codec, W, H).optMaxBFrames(bFrames).optGopSize(12).build(), FRAMES);
        }
        return f;
    }

    @Test
    void probesAnMpeg4Avi() throws Exception {
        try (VideoSource s = VideoSource.open(mpeg4Avi)) {
            VideoInfo i = s.info();
            assertEquals("avi", i.container());
            assertEquals("mpeg4", i.codec());
            assertEquals(W, i.width());
            assertEquals(H, i.height());
            assertEquals(0, i.rotation());
            assertEquals(new Rational(25, 1), i.frameRate());
            assertEquals(FRAMES, i.frameCount());
            assertEquals(FRAMES * 40_000L, i.durationUs());
            assertEquals(FRAMES * 40_000L, s.durationUs());
            assertEquals("yuv420p", i.pixelFormat());
            assertFalse(i.variableFrameRate());
            assertEquals(FRAMES / 12, i.keyframes());
            assertEquals(W, s.outputWidth());
            assertEquals(H, s.outputHeight());
            assertEquals(400_000L, s.frameTimeUs(10));
        }
    }

    @ParameterizedTest(name = "{1}")
    @MethodSource("matrix")
    void everyFrameIsExactAfterSeeking(VideoCodec codec, String name, int bFrames) throws Exception {
        Path f = encode(codec, name, bFrames);
        try (VideoSource s = VideoSource.open(f)) {
            assertEquals(FRAMES, s.frameCount(), "frame count of " + name);
            long[] all = new long[FRAMES];
            Arrays.setAll(all, i -> i);
            try (Clip c = s.frames(all)) {
                int[] got = TestVideos.readIndices(c.frames());
                int[] want = new int[FRAMES];
                Arrays.setAll(want, i -> i);
                assertArrayEquals(want, got, "sequential decode of " + name);
                assertEquals(0, c.stats().missingFrames());
                assertEquals(0, c.stats().corruptFrames());
            }
            Random rnd = new Random(42);
            for (int round = 0; round < 12; round++) {
                long[] idx = new long[1 + rnd.nextInt(8)];
                for (int k = 0; k < idx.length; k++) {
                    idx[k] = rnd.nextInt(FRAMES);
                }
                try (Clip c = s.frames(idx)) {
                    int[] got = TestVideos.readIndices(c.frames());
                    assertArrayEquals(Arrays.stream(idx).mapToInt(v -> (int) v).toArray(), got, name + " frames " + Arrays.toString(idx));
                    assertEquals(0, c.stats().missingFrames(), name + " " + c.stats());
                }
            }
            // single frames backwards: one seek each
            for (int i = FRAMES - 1; i >= 0; i -= 7) {
                try (Clip c = s.frames(i)) {
                    assertEquals(i, TestVideos.readIndices(c.frames())[0], name + " frame " + i);
                }
            }
            assertEquals(0, s.stats().corruptFrames());
            assertEquals(0, s.stats().readErrors());
        }
    }

    @ParameterizedTest(name = "{1}")
    @MethodSource("matrix")
    void frameCountMatchesFfprobe(VideoCodec codec, String name, int bFrames) throws Exception {
        assumeTrue(TestVideos.ffprobe() != null, "no /usr/bin/ffprobe");
        Path f = encode(codec, name, bFrames);
        String n = TestVideos.ffprobe("-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames", "-of",
                "csv=p=0", f.toString());
        try (VideoSource s = VideoSource.open(f)) {
            assertEquals(Long.parseLong(n.lines().findFirst().orElseThrow().trim()), s.frameCount(), name);
        }
    }

    @Test
    void clipsByTimeWindow() throws Exception {
        try (VideoSource s = VideoSource.open(mpeg4Avi)) {
            ClipInfo w = ClipInfo.of(400_000, 800_000); // frames 10..19 at 25 fps
            assertArrayEquals(new long[] {10, 11, 12, 13, 14, 15, 16, 17, 18, 19}, s.indicesIn(w));
            try (Clip c = s.clip(w)) {
                assertEquals(10, c.numFrames());
                assertArrayEquals(new int[] {10, 11, 12, 13, 14, 15, 16, 17, 18, 19}, TestVideos.readIndices(c.frames()));
                assertEquals(400_000L, c.timestampsUs()[0]);
            }
            try (Clip c = s.clip(w, 4)) {
                assertArrayEquals(new long[] {10, 13, 16, 19}, c.frameIndices());
                assertArrayEquals(new int[] {10, 13, 16, 19}, TestVideos.readIndices(c.frames()));
            }
            try (Clip c = s.clip(ClipInfo.of(0, 120_000), 5)) { // 3 frames, upsampled by repetition
                assertArrayEquals(new long[] {0, 0, 1, 1, 2}, c.frameIndices());
            }
            assertThrows(IllegalArgumentException.class, () -> s.clip(ClipInfo.of(10_000_000, 11_000_000)));
            assertThrows(IllegalArgumentException.class, () -> s.frames(FRAMES));
            assertThrows(IllegalArgumentException.class, () -> s.frames());
        }
    }

    @Test
    void resizesAndNormalizes() throws Exception {
        DecodeOptions o = DecodeOptions.builder().optSize(40, 0).optInterpolation(Interpolation.AREA).build();
        try (VideoSource s = VideoSource.open(mpeg4Avi, o); Clip c = s.frames(5, 6, 7); PointerScope scope = new PointerScope()) {
            assertEquals(40, s.outputWidth());
            assertEquals(30, s.outputHeight()); // aspect ratio 64:48 kept
            assertArrayEquals(new long[] {3, 30, 40, 3}, TensorBridge.shape(c.frames()));
            assertEquals(ScalarType.Byte, TensorBridge.dtype(c.frames()));
            assertArrayEquals(new int[] {5, 6, 7}, TestVideos.readIndices(c.frames()));
            float[] mean = {0.45f, 0.4f, 0.35f};
            float[] std = {0.225f, 0.25f, 0.2f};
            Tensor x = c.toFloat(mean, std);
            try {
                assertArrayEquals(new long[] {3, 3, 30, 40}, TensorBridge.shape(x));
                assertEquals(ScalarType.Float, TensorBridge.dtype(x));
                byte[] raw = TestVideos.bytes(c.frames());
                float[] f = TensorBridge.toFloats(x);
                // element [ch=2, t=1, y=7, x=9]
                int rawIdx = ((1 * 30 + 7) * 40 + 9) * 3 + 2;
                int fIdx = ((2 * 3 + 1) * 30 + 7) * 40 + 9;
                assertEquals(((raw[rawIdx] & 0xff) / 255f - mean[2]) / std[2], f[fIdx], 1e-5);
            } finally {
                x.close();
            }
            assertThrows(IllegalArgumentException.class, () -> c.toFloat(new float[2], std));
        }
    }

    @Test
    void decodesIntoABatchSlice() throws Exception {
        try (VideoSource s = VideoSource.open(mpeg4Avi); PointerScope scope = new PointerScope()) {
            Tensor batch = torch.zeros(new long[] {2, 4, 24, 32, 3}, new TensorOptions(ScalarType.Byte));
            DecodeStats st = s.decodeInto(new long[] {8, 9, 10, 11}, batch.select(0, 1));
            assertEquals(4, st.framesConverted());
            assertArrayEquals(new int[] {8, 9, 10, 11}, TestVideos.readIndices(batch.select(0, 1)));
            assertArrayEquals(new int[] {0, 0, 0, 0}, TestVideos.readIndices(batch.select(0, 0)));
            Tensor wrong = torch.zeros(new long[] {3, 24, 32, 3}, new TensorOptions(ScalarType.Byte));
            assertThrows(IllegalArgumentException.class, () -> s.decodeInto(new long[] {1, 2}, wrong));
            Tensor floats = torch.zeros(new long[] {2, 24, 32, 3}, new TensorOptions(ScalarType.Float));
            assertThrows(IllegalArgumentException.class, () -> s.decodeInto(new long[] {1, 2}, floats));
        }
    }

    @Test
    void bytesDecodeLikeTheFile() throws Exception {
        byte[] data = Files.readAllBytes(mpeg4Avi);
        try (VideoSource a = VideoSource.open(mpeg4Avi); VideoSource b = VideoSource.open(data, "in-memory.avi", DecodeOptions.defaults());
                Clip ca = a.frames(3, 30, 59); Clip cb = b.frames(3, 30, 59)) {
            assertEquals("in-memory.avi", b.info().source());
            assertEquals(a.frameCount(), b.frameCount());
            assertArrayEquals(TestVideos.bytes(ca.frames()), TestVideos.bytes(cb.frames()));
        }
    }

    @Test
    void pathsWithSpacesAndNonAsciiCharacters() throws Exception {
        Path odd = Files.createDirectories(dir.resolve("dir with spaces#1")).resolve("vidéo été:ü 1.avi");
        Files.copy(mpeg4Avi, odd);
        try (VideoSource s = VideoSource.open(odd); Clip c = s.frames(42)) {
            assertEquals(odd.toString(), s.info().source());
            assertEquals(42, TestVideos.readIndices(c.frames())[0]);
        }
        Path missing = odd.resolveSibling("nöt thére.avi");
        VideoDecodeException e = assertThrows(VideoDecodeException.class, () -> VideoSource.open(missing));
        assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());
    }

    @Test
    void decoderThreadsGiveTheSamePixels() throws Exception {
        Path f = encode(VideoCodec.H264, "h264.mp4", 0);
        try (VideoSource one = VideoSource.open(f); VideoSource two = VideoSource.open(f, DecodeOptions.builder().optThreads(2).build());
                Clip a = one.frames(0, 17, 18, 44); Clip b = two.frames(0, 17, 18, 44)) {
            assertArrayEquals(TestVideos.bytes(a.frames()), TestVideos.bytes(b.frames()));
        }
    }

    @Test
    void oddSizes() throws Exception {
        Path f = TestVideos.write(dir.resolve("odd.avi"), EncoderOptions.builder(VideoCodec.MPEG4, 63, 47).build(), 20);
        try (VideoSource s = VideoSource.open(f)) {
            assertEquals(63, s.info().width());
            assertEquals(47, s.info().height());
            try (Clip c = s.frames(0, 7, 19)) {
                assertArrayEquals(new long[] {3, 47, 63, 3}, TensorBridge.shape(c.frames()));
                assertArrayEquals(new int[] {0, 7, 19}, TestVideos.readIndices(c.frames()));
            }
        }
        try (VideoSource s = VideoSource.open(f, DecodeOptions.builder().optSize(33, 17).build()); Clip c = s.frames(4, 13)) {
            assertArrayEquals(new long[] {2, 17, 33, 3}, TensorBridge.shape(c.frames()));
            assertArrayEquals(new int[] {4, 13}, TestVideos.readIndices(c.frames()));
        }
    }

    @Test
    void variableFrameRate() throws Exception {
        long[] times = new long[30];
        long t = 0;
        Random rnd = new Random(7);
        for (int i = 0; i < times.length; i++) {
            times[i] = t;
            t += 1000L * (10 + rnd.nextInt(90)); // 10..99 ms per frame
        }
        Path f = TestVideos.writeTimed(dir.resolve("vfr.mp4"),
                EncoderOptions.builder(VideoCodec.MPEG4, W, H).optVariableFrameRate(true).optGopSize(8).build(), times);
        try (VideoSource s = VideoSource.open(f)) {
            assertTrue(s.info().variableFrameRate(), s.info().toString());
            assertEquals(times.length, s.frameCount());
            for (int i = 0; i < times.length; i++) {
                assertEquals(times[i], s.frameTimeUs(i), "time of frame " + i);
            }
            try (Clip c = s.clip(ClipInfo.of(times[11], times[20]))) {
                int[] want = new int[9];
                Arrays.setAll(want, i -> 11 + i);
                assertArrayEquals(want, TestVideos.readIndices(c.frames()));
                assertArrayEquals(Arrays.copyOfRange(times, 11, 20), c.timestampsUs());
            }
            try (Clip c = s.frames(29, 0, 15)) {
                assertArrayEquals(new int[] {29, 0, 15}, TestVideos.readIndices(c.frames()));
            }
        }
        if (TestVideos.ffprobe() != null) {
            String pts = TestVideos.ffprobe("-select_streams", "v:0", "-show_entries", "packet=pts_time", "-of", "csv=p=0", f.toString());
            assertEquals(times.length, pts.lines().count());
        }
    }

    /** An image with a red block in the coded top-left corner, to see where rotation moves it. */
    private static byte[] marked(int w, int h) {
        byte[] rgb = new byte[w * h * 3];
        for (int y = 0; y < h / 4; y++) {
            for (int x = 0; x < w / 4; x++) {
                rgb[(y * w + x) * 3] = (byte) 230;
            }
        }
        return rgb;
    }

    private static int redAt(byte[] frame, int w, int x, int y) {
        return frame[(y * w + x) * 3] & 0xff;
    }

    @ParameterizedTest(name = "rotation {0}")
    @MethodSource("rotations")
    void rotationMetadataTurnsFramesUpright(int rotation, int cornerX, int cornerY) throws Exception {
        Path f = dir.resolve("rot" + rotation + ".mp4");
        try (VideoEncoder enc = VideoEncoder.open(f, EncoderOptions.builder(VideoCodec.MPEG4, W, H).optRotation(rotation).build())) {
            for (int i = 0; i < 5; i++) {
                enc.writeFrame(marked(W, H));
            }
        }
        try (VideoSource s = VideoSource.open(f); Clip c = s.frames(0, 4)) {
            assertEquals(rotation, s.info().rotation());
            int dw = rotation % 180 == 0 ? W : H;
            int dh = rotation % 180 == 0 ? H : W;
            assertEquals(dw, s.info().displayWidth());
            assertArrayEquals(new long[] {2, dh, dw, 3}, TensorBridge.shape(c.frames()));
            byte[] frame = Arrays.copyOf(TestVideos.bytes(c.frames()), dw * dh * 3);
            // the red corner moved where a clockwise turn of `rotation` degrees puts the top-left corner
            int x = cornerX == 0 ? 2 : dw - 3;
            int y = cornerY == 0 ? 2 : dh - 3;
            assertTrue(redAt(frame, dw, x, y) > 180, "red at (" + x + "," + y + ") after rotation " + rotation);
            assertTrue(redAt(frame, dw, dw - 1 - x, dh - 1 - y) < 60, "no red at the opposite corner");
        }
        try (VideoSource s = VideoSource.open(f, DecodeOptions.builder().optApplyRotation(false).build()); Clip c = s.frames(1)) {
            assertArrayEquals(new long[] {1, H, W, 3}, TensorBridge.shape(c.frames()));
            assertTrue(redAt(TestVideos.bytes(c.frames()), W, 2, 2) > 180);
        }
        if (TestVideos.ffprobe() != null && rotation != 0) {
            String r = TestVideos.ffprobe("-select_streams", "v:0", "-show_entries", "stream_side_data=rotation", "-of", "csv=p=0",
                    f.toString());
            // ffprobe prints the display matrix angle: counter-clockwise, i.e. minus ours, in (-180, 180]
            int ccw = -rotation;
            if (ccw <= -180) {
                ccw += 360;
            }
            assertTrue(r.contains(Integer.toString(ccw)), "ffprobe rotation '" + r + "' for " + rotation);
            // and Debian's ffmpeg, which autorotates by default, puts the red corner where we do
            Process p = new ProcessBuilder("/usr/bin/ffmpeg", "-v", "error", "-i", f.toString(), "-frames:v", "1", "-f", "rawvideo",
                    "-pix_fmt", "rgb24", "-").start();
            byte[] theirs = p.getInputStream().readAllBytes();
            p.waitFor();
            int dw = rotation % 180 == 0 ? W : H;
            int dh = rotation % 180 == 0 ? H : W;
            assertEquals(dw * dh * 3, theirs.length);
            int x = cornerX == 0 ? 2 : dw - 3;
            int y = cornerY == 0 ? 2 : dh - 3;
            assertTrue(redAt(theirs, dw, x, y) > 180, "ffmpeg CLI puts red at (" + x + "," + y + ") for rotation " + rotation);
        }
    }

    static Stream<Arguments> rotations() {
        // clockwise rotation -> where the coded top-left corner ends up (x: 0 left / 1 right, y: 0 top / 1 bottom)
        return Stream.of(Arguments.of(0, 0, 0), Arguments.of(90, 1, 0), Arguments.of(180, 1, 1), Arguments.of(270, 0, 1));
    }

    @Test
    void closeIsIdempotentAndUseAfterCloseFails() throws Exception {
        VideoSource s = VideoSource.open(mpeg4Avi);
        Clip c = s.frames(1);
        s.close();
        s.close();
        assertThrows(IllegalStateException.class, () -> s.frames(1));
        assertEquals(1, TestVideos.readIndices(c.frames())[0]); // clips outlive their source
        c.close();
        c.close();
        assertThrows(IllegalStateException.class, c::frames);
        try (VideoSource s2 = VideoSource.open(mpeg4Avi); Clip c2 = s2.frames(2)) {
            Tensor owned = c2.takeFrames();
            assertThrows(IllegalStateException.class, c2::frames);
            assertEquals(2, TestVideos.readIndices(owned)[0]);
            owned.close();
        }
    }
}
