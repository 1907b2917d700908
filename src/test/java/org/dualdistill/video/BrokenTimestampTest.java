package org.dualdistill.video;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Streams with B-frames whose packets carry pts equal to their dts (a muxer that wrote decode order as presentation
 * order, as in some real H.264 MP4s): the packet timestamps then name the wrong frames, and only the decoder's output
 * order says which frame is shown when. Frame {@code i} must be the {@code i}-th frame that
 * {@code ffmpeg -fps_mode passthrough} outputs, on every sampling path: sequential, random access, clip windows.
 *
 * <p>The fixture is an MPEG-4 Part 2 stream with two B-frames between references (the bundled LGPL FFmpeg has no
 * B-frame H.264 encoder), remuxed by the bundled ffmpeg tool with {@code setts=pts=DTS} so that every packet's pts is
 * its dts. The reference is the same tool's own decode, compared frame for frame (barcode and pixels).
 */
class BrokenTimestampTest {
    private static final int W = 64;
    private static final int H = 48;
    private static final int FRAMES = 60;

    @TempDir
    static Path dir;

    private static Path fixture(String name) throws IOException {
        Path f = dir.resolve(name);
        if (Files.exists(f)) {
            return f;
        }
        BundledFfmpeg.require();
        Path good = dir.resolve("bframes.mp4");
        if (!Files.exists(good)) {
            TestVideos.write(good, EncoderOptions.builder(VideoCodec.MPEG4, W, H).optMaxBFrames(2).optGopSize(12).build(), FRAMES);
        }
        if (name.equals("bframes.mp4")) {
            return good;
        }
        String ext = name.substring(name.lastIndexOf('.') + 1);
        // _raw keeps the muxer's negative first dts as the pts: the demuxer then discards that packet's frame
        String setts = name.contains("_raw") ? "setts=pts=DTS" : "setts=pts=DTS-STARTDTS:dts=DTS-STARTDTS";
        BundledFfmpeg.ffmpeg("-i", good.toString(), "-map", "0:v", "-c", "copy", "-bsf:v", setts, "-f", ext.equals("mkv") ? "matroska" : ext, f.toString());
        return f;
    }

    /** @return the barcode index of every frame the reference decodes */
    private static int[] indices(byte[][] frames) {
        return Arrays.stream(frames).mapToInt(f -> TestVideos.readIndex(f, W, H)).toArray();
    }

    /** Asserts that the clip's frames are the reference's frames {@code want}, by barcode and by pixels. */
    private static void assertFrames(byte[][] ref, long[] want, Clip c, String what) {
        int[] wantIdx = Arrays.stream(want).mapToInt(i -> TestVideos.readIndex(ref[(int) i], W, H)).toArray();
        assertArrayEquals(wantIdx, TestVideos.readIndices(c.frames()), what + " " + Arrays.toString(want));
        byte[] got = TestVideos.bytes(c.frames());
        int size = W * H * 3;
        for (int k = 0; k < want.length; k++) {
            byte[] r = ref[(int) want[k]];
            long sum = 0;
            for (int i = 0; i < size; i++) {
                sum += Math.abs((got[k * size + i] & 0xff) - (r[i] & 0xff));
            }
            // the same decoder and a colour conversion that may round differently: a shifted frame differs by ~50
            double mad = (double) sum / size;
            assertTrue(mad < 4, what + ": frame " + want[k] + " differs from ffmpeg's by " + mad + " per byte");
        }
        assertEquals(0, c.stats().missingFrames(), what + " " + c.stats());
    }

    @ParameterizedTest
    @ValueSource(strings = {"pts_eq_dts.mp4", "pts_eq_dts.mkv", "pts_eq_dts.mov", "pts_eq_dts_raw.mp4", "bframes.mp4"})
    void everySamplingPathMatchesTheFfmpegTool(String name) throws Exception {
        Path f = fixture(name);
        byte[][] ref = BundledFfmpeg.decodeRgb(f, W, H);
        int n = ref.length;
        int[] refIdx = indices(ref);
        assertTrue(n >= FRAMES - 2, name + ": ffmpeg decoded only " + n + " frames " + Arrays.toString(refIdx));
        try (VideoSource s = VideoSource.open(f)) {
            assertEquals(n, s.frameCount(), name + " " + s.info());
            // sequential: the whole video in one request
            long[] all = new long[n];
            Arrays.setAll(all, i -> i);
            try (Clip c = s.frames(all)) {
                assertFrames(ref, all, c, name + " sequential");
            }
            // random access: single frames in a shuffled order, then scattered and repeated requests
            long[] order = all.clone();
            SplittableRandom rnd = new SplittableRandom(16);
            for (int i = n - 1; i > 0; i--) {
                int j = rnd.nextInt(i + 1);
                long t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
            for (long i : order) {
                try (Clip c = s.frames(i)) {
                    assertFrames(ref, new long[] {i}, c, name + " frames(" + i + ")");
                }
            }
            // random access seeks to a keyframe (GOP of 12) rather than decoding from the start
            try (Clip first = s.frames(0); Clip last = s.frames(n - 2)) {
                assertTrue(last.stats().framesDecoded() <= 24, name + " frames(" + (n - 2) + ") decoded from the start: " + last.stats());
                assertFrames(ref, new long[] {n - 2}, last, name + " frames(" + (n - 2) + ") after frames(0)");
            }
            long[][] requests = {{n - 1}, {0}, {1, 2}, {n - 2, n - 1}, {23, 24, 25}, {37, 11, 11, 40}, {12, 13, 14}, {n - 1, 0, n / 2}};
            for (long[] r : requests) {
                try (Clip c = s.frames(r)) {
                    assertFrames(ref, r, c, name + " frames" + Arrays.toString(r));
                }
            }
            // clip windows: the timeline is the stream's constant 25 fps, whatever the packets claimed
            Timeline tl = Timeline.of(s);
            for (int i = 0; i < n; i++) {
                assertEquals(i * 40_000L, tl.timeUs(i), name + " time of frame " + i);
            }
            List<ClipSampler> samplers = List.of(ClipSampler.uniform(8, 2, 4, 1), ClipSampler.random(8, 3, 3), ClipSampler.uniform(4, 1, 5, 1));
            for (ClipSampler sampler : samplers) {
                for (ClipInfo w : sampler.sample(tl, new SplittableRandom(7))) {
                    long[] in = s.indicesIn(w);
                    try (Clip c = s.clip(w)) {
                        assertFrames(ref, in, c, name + " clip " + w);
                    }
                    long[] picked = tl.frameIndices(w, sampler.frames());
                    try (Clip c = s.frames(picked)) {
                        assertFrames(ref, picked, c, name + " window " + w);
                    }
                    try (Clip c = s.clip(w, 5)) {
                        long[] five = new long[5];
                        Arrays.setAll(five, i -> in[(int) ((long) i * (in.length - 1) / 4)]);
                        assertFrames(ref, five, c, name + " clip(5) " + w);
                    }
                }
            }
            assertEquals(0, s.stats().corruptFrames(), name + " " + s.stats());
        }
    }
}
