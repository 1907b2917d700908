package org.dualdistill.video;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The encoder's contract (the fixture writer of every other test) and option validation. */
class VideoEncoderTest {
    @TempDir
    Path dir;

    @Test
    void everyCodecTheBundledFfmpegOffers() {
        // the LGPL build: all five encoders and decoders are there (libopenh264 for H.264, libvpx for VP9)
        for (VideoCodec c : VideoCodec.values()) {
            assertTrue(c.canEncode(), c + " encoder");
            assertTrue(c.canDecode(), c + " decoder");
        }
    }

    @Test
    void sameFramesSameBytes() throws Exception {
        EncoderOptions o = EncoderOptions.builder(VideoCodec.MPEG4, 32, 32).build();
        byte[] a = Files.readAllBytes(TestVideos.write(dir.resolve("a.avi"), o, 10));
        byte[] b = Files.readAllBytes(TestVideos.write(dir.resolve("b.avi"), o, 10));
        assertArrayEquals(a, b);
    }

    @Test
    void rejectsWhatTheContainerCannotStore() {
        EncoderOptions rot = EncoderOptions.builder(VideoCodec.MPEG4, 32, 32).optRotation(90).build();
        assertThrows(IllegalArgumentException.class, () -> VideoEncoder.open(dir.resolve("r.avi"), rot));
        EncoderOptions vfr = EncoderOptions.builder(VideoCodec.MPEG4, 32, 32).optVariableFrameRate(true).build();
        assertThrows(IllegalArgumentException.class, () -> VideoEncoder.open(dir.resolve("v.avi"), vfr));
        VideoEncodeException e = assertThrows(VideoEncodeException.class,
                () -> VideoEncoder.open(dir.resolve("x.unknownext"), EncoderOptions.builder(VideoCodec.MPEG4, 32, 32).build()));
        assertTrue(e.getMessage().contains("avformat_alloc_output_context2()") && e.getMessage().contains("x.unknownext"), e.getMessage());
        assertEquals("avformat_alloc_output_context2", e.function());
    }

    @Test
    void rejectsBadFramesAndTimes() throws Exception {
        try (VideoEncoder enc = VideoEncoder.open(dir.resolve("t.mp4"),
                EncoderOptions.builder(VideoCodec.MPEG4, 32, 32).optVariableFrameRate(true).build())) {
            assertThrows(IllegalArgumentException.class, () -> enc.writeFrame(new byte[10]));
            enc.writeFrame(TestVideos.indexFrame(0, 32, 32), 0);
            enc.writeFrame(TestVideos.indexFrame(1, 32, 32), 40_000);
            assertThrows(IllegalArgumentException.class, () -> enc.writeFrame(TestVideos.indexFrame(2, 32, 32), 40_000));
            assertEquals(2, enc.framesWritten());
        }
        try (VideoSource s = VideoSource.open(dir.resolve("t.mp4"))) {
            assertEquals(2, s.frameCount());
        }
    }

    @Test
    void closeIsIdempotent() throws Exception {
        VideoEncoder enc = VideoEncoder.open(dir.resolve("c.mkv"), EncoderOptions.builder(VideoCodec.FFV1, 16, 16).build());
        enc.writeFrame(TestVideos.indexFrame(3, 16, 16));
        enc.finish();
        assertThrows(IllegalStateException.class, () -> enc.writeFrame(TestVideos.indexFrame(4, 16, 16)));
        enc.close();
        enc.close();
        assertThrows(IllegalStateException.class, enc::framesWritten);
        try (VideoSource s = VideoSource.open(dir.resolve("c.mkv")); Clip c = s.frames(0)) {
            assertEquals(3, TestVideos.readIndices(c.frames())[0]);
        }
    }

    @Test
    void optionsValidate() {
        assertThrows(IllegalArgumentException.class, () -> EncoderOptions.builder(VideoCodec.MPEG4, 1, 32).build());
        assertThrows(IllegalArgumentException.class, () -> EncoderOptions.builder(VideoCodec.MPEG4, 32, 32).optRotation(45).build());
        assertThrows(IllegalArgumentException.class, () -> EncoderOptions.builder(VideoCodec.MPEG4, 32, 32).optFrameRate(0).build());
        assertThrows(IllegalArgumentException.class, () -> DecodeOptions.builder().optThreads(-1).build());
        assertThrows(IllegalArgumentException.class, () -> DecodeOptions.builder().optMaxNoProgressPackets(0).build());
        assertThrows(IllegalArgumentException.class, () -> DecodeOptions.builder().optSize(-1, 3).build());
        assertThrows(IllegalArgumentException.class, () -> ClipInfo.of(5, 5));
        assertThrows(IllegalArgumentException.class, () -> new Rational(1, 0));
        assertEquals(new Rational(-3, 4), new Rational(3, -4));
        assertEquals(Rational.of(30000, 1001), Rational.of(60000, 2002));
        assertEquals(33_367L, new Rational(1001, 30000).toMicros(1));
        assertEquals(1L << 40, new Rational(1, 1).rescale(1L << 40, new Rational(1, 1)));
    }

    /** Sources are independent: one per thread, decoding concurrently, including the in-memory read callbacks. */
    @Test
    void oneSourcePerThreadDecodesConcurrently() throws Exception {
        Path f = TestVideos.writeNoisy(dir.resolve("conc.avi"), EncoderOptions.builder(VideoCodec.MPEG4, 48, 32).build(), 40);
        byte[] bytes = Files.readAllBytes(f);
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            List<Future<Integer>> results = new ArrayList<>();
            for (int w = 0; w < 3; w++) {
                int worker = w;
                results.add(pool.submit(() -> {
                    int ok = 0;
                    DecodeOptions o = DecodeOptions.builder().optThreads(worker == 2 ? 0 : 1).build();
                    for (int i = 0; i < 30; i++) {
                        try (VideoSource s = worker == 0 ? VideoSource.open(f, o) : VideoSource.open(bytes, "w" + worker, o);
                                Clip c = s.frames((i * 7) % 40, (i * 13) % 40)) {
                            int[] got = TestVideos.readIndices(c.frames());
                            if (got[0] == (i * 7) % 40 && got[1] == (i * 13) % 40) {
                                ok++;
                            }
                        }
                    }
                    return ok;
                }));
            }
            for (Future<Integer> r : results) {
                assertEquals(30, r.get());
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
