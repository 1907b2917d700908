package org.dualdistill.video;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

import org.bytedeco.ffmpeg.global.avutil;
import org.dualdistill.internal.ffmpeg.Ffmpeg;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad input: every failure is a {@link VideoDecodeException} naming the source, the FFmpeg function and its error
 * text; damaged frames are counted or fail the clip as the policy says; nothing crashes or hangs.
 */
class VideoDecodeErrorsTest {
    @TempDir
    static Path dir;

    private static byte[] avi;
    private static byte[] mp4;
    private static byte[] webm;
    private static int oldLevel;

    @BeforeAll
    static void fixtures() throws IOException {
        // noisy frames: packets of a few KB, so that damage lands in the payload, not only in the headers
        avi = Files.readAllBytes(TestVideos.writeNoisy(dir.resolve("f.avi"), EncoderOptions.builder(VideoCodec.MPEG4, 64, 48).build(), 40));
        mp4 = Files.readAllBytes(TestVideos.writeNoisy(dir.resolve("f.mp4"), EncoderOptions.builder(VideoCodec.H264, 64, 48).build(), 40));
        webm = Files.readAllBytes(TestVideos.writeNoisy(dir.resolve("f.webm"), EncoderOptions.builder(VideoCodec.VP9, 64, 48).build(), 40));
        oldLevel = Ffmpeg.setLogLevel(avutil.AV_LOG_QUIET); // the fuzzing below makes FFmpeg complain a lot
    }

    @AfterAll
    static void restoreLog() {
        Ffmpeg.setLogLevel(oldLevel);
    }

    private static void assertNames(VideoDecodeException e, String source, String function) {
        assertEquals(source, e.source());
        assertEquals(function, e.function());
        assertTrue(e.returnCode() < 0, "negative rc: " + e.returnCode());
        assertTrue(e.getMessage().contains(source), e.getMessage());
        assertTrue(e.getMessage().contains(function + "()"), e.getMessage());
        assertTrue(e.getMessage().contains(e.errorText()), e.getMessage());
        assertTrue(!e.errorText().isBlank(), "error text");
    }

    @Test
    void missingFile() {
        Path p = dir.resolve("does-not-exist.avi");
        VideoDecodeException e = assertThrows(VideoDecodeException.class, () -> VideoSource.open(p));
        assertNames(e, p.toString(), "avformat_open_input");
        assertTrue(e.getMessage().contains("No such file or directory"), e.getMessage());
    }

    @Test
    void emptyFile() throws IOException {
        Path p = Files.createFile(dir.resolve("empty.avi"));
        VideoDecodeException e = assertThrows(VideoDecodeException.class, () -> VideoSource.open(p));
        assertNames(e, p.toString(), "avformat_open_input");
        VideoDecodeException b = assertThrows(VideoDecodeException.class,
                () -> VideoSource.open(new byte[0], "empty-bytes", DecodeOptions.defaults()));
        assertEquals("empty-bytes", b.source());
    }

    @Test
    void textFile() throws IOException {
        Path p = Files.writeString(dir.resolve("notes.avi"), "this is not a video, just some words\n".repeat(50));
        VideoDecodeException e = assertThrows(VideoDecodeException.class, () -> VideoSource.open(p));
        assertEquals(p.toString(), e.source());
        assertTrue(e.getMessage().contains(p.toString()));
    }

    @Test
    void audioOnlyFile() throws IOException {
        // a valid one-second WAV: decodable media, but no video stream
        int rate = 8000;
        ByteBuffer b = ByteBuffer.allocate(44 + rate * 2).order(ByteOrder.LITTLE_ENDIAN);
        b.put("RIFF".getBytes(StandardCharsets.US_ASCII)).putInt(36 + rate * 2).put("WAVE".getBytes(StandardCharsets.US_ASCII));
        b.put("fmt ".getBytes(StandardCharsets.US_ASCII)).putInt(16).putShort((short) 1).putShort((short) 1).putInt(rate)
                .putInt(rate * 2).putShort((short) 2).putShort((short) 16);
        b.put("data".getBytes(StandardCharsets.US_ASCII)).putInt(rate * 2);
        for (int i = 0; i < rate; i++) {
            b.putShort((short) (Math.sin(i * 0.1) * 8000));
        }
        Path p = Files.write(dir.resolve("tone.wav"), b.array());
        VideoDecodeException e = assertThrows(VideoDecodeException.class, () -> VideoSource.open(p));
        assertNames(e, p.toString(), "av_find_best_stream");
        assertTrue(e.getMessage().contains("no video stream"), e.getMessage());
    }

    @Test
    void mp4TruncatedBeforeItsIndex() throws IOException {
        // the mp4 muxer writes the moov box at the end: cut it off and the file cannot be opened
        Path p = Files.write(dir.resolve("cut.mp4"), Arrays.copyOf(mp4, mp4.length * 3 / 4));
        VideoDecodeException e = assertThrows(VideoDecodeException.class, () -> VideoSource.open(p));
        assertEquals(p.toString(), e.source());
        assertTrue(e.function().startsWith("av"), e.getMessage());
    }

    @Test
    void truncatedAviKeepsTheFramesItHas() throws Exception {
        Path p = Files.write(dir.resolve("cut.avi"), Arrays.copyOf(avi, avi.length * 2 / 3));
        try (VideoSource s = VideoSource.open(p)) {
            assertTrue(s.frameCount() > 5 && s.frameCount() < 40, "frames " + s.frameCount());
            long last = s.frameCount() - 1;
            try (Clip c = s.frames(0, last - 1, last)) {
                int[] got = TestVideos.readIndices(c.frames());
                assertEquals(0, got[0]);
                assertEquals((int) last - 1, got[1]);
                // the last packet is cut short: either it still decodes, or its frame is filled and counted
                assertTrue(got[2] == last || c.stats().missingFrames() + c.stats().corruptFrames() > 0, c.stats().toString());
            }
        }
    }

    @Test
    void streamThatNeverDecodesIsBounded() throws Exception {
        byte[] bad = zeroMdatPayload(mp4);
        DecodeOptions bounded = DecodeOptions.builder().optMaxNoProgressPackets(5).build();
        try (VideoSource s = VideoSource.open(bad, "zeroed.mp4", bounded)) {
            VideoDecodeException e = assertThrows(VideoDecodeException.class, () -> s.frames(10));
            assertEquals("zeroed.mp4", e.source());
            assertTrue(e.getMessage().contains("maxNoProgressPackets"), e.getMessage());
        }
        try (VideoSource s = VideoSource.open(bad, "zeroed.mp4", DecodeOptions.defaults())) {
            VideoDecodeException e = assertThrows(VideoDecodeException.class, () -> s.frames(10));
            assertTrue(e.getMessage().contains("no frame could be decoded"), e.getMessage());
            assertTrue(s.stats().corruptFrames() > 0 || s.stats().packetsRead() > 0, s.stats().toString());
        }
    }

    /** Zeroes the sample data of an mp4 (the payload of its mdat box), keeping every box intact. */
    private static byte[] zeroMdatPayload(byte[] file) {
        byte[] out = file.clone();
        int pos = 0;
        while (pos + 8 <= out.length) {
            long size = ByteBuffer.wrap(out, pos, 4).getInt() & 0xffffffffL;
            String type = new String(out, pos + 4, 4, StandardCharsets.US_ASCII);
            if (size < 8) {
                break;
            }
            if (type.equals("mdat")) {
                Arrays.fill(out, pos + 8, (int) Math.min(out.length, pos + size), (byte) 0);
                return out;
            }
            pos += (int) size;
        }
        fail("no mdat box");
        return out;
    }

    @Test
    void corruptFramesFailTheClipUnderFail() throws Exception {
        // a few damaged bytes in the middle third: mpeg4 conceals the errors and flags the frames
        byte[] bad = avi.clone();
        Random rnd = new Random(3);
        for (int i = bad.length / 3; i < bad.length * 2 / 3; i += 997) {
            bad[i] = (byte) rnd.nextInt();
        }
        DecodeStats skipped;
        try (VideoSource s = VideoSource.open(bad, "damaged.avi", DecodeOptions.defaults())) {
            long[] all = new long[(int) s.frameCount()];
            Arrays.setAll(all, i -> i);
            try (Clip c = s.frames(all)) {
                skipped = c.stats();
                assertEquals(all.length, c.numFrames());
            }
        }
        assertTrue(skipped.corruptFrames() + skipped.readErrors() > 0, "damage must be counted: " + skipped);
        DecodeOptions fail = DecodeOptions.builder().optOnCorruptFrame(CorruptFramePolicy.FAIL).build();
        VideoDecodeException e = assertThrows(VideoDecodeException.class, () -> {
            try (VideoSource s = VideoSource.open(bad, "damaged.avi", fail)) {
                long[] all = new long[(int) s.frameCount()];
                Arrays.setAll(all, i -> i);
                s.frames(all).close();
            }
        });
        assertEquals("damaged.avi", e.source());
        assertNotNull(e.function());
    }

    /**
     * Truncates and corrupts the files at many offsets. Every case must end (a 30 s hang guard, no timing) in either a clean
     * {@link VideoDecodeException} or a clip (with its damage counted under SKIP, or none under FAIL).
     */
    @Test
    void fuzzTruncationAndCorruption() throws Exception {
        Random rnd = new Random(20251127);
        int exceptions = 0;
        int clips = 0;
        java.util.Map<String, Integer> functions = new java.util.TreeMap<>();
        long counted = 0;
        long t0 = System.nanoTime();
        for (byte[] original : new byte[][] {avi, mp4, webm}) {
            for (int round = 0; round < 100; round++) {
                byte[] bad;
                if (round % 3 == 0) {
                    bad = Arrays.copyOf(original, rnd.nextInt(original.length));
                } else {
                    bad = original.clone();
                    int hits = 1 + rnd.nextInt(round % 3 == 1 ? 4 : 64);
                    for (int k = 0; k < hits; k++) {
                        int at = rnd.nextInt(bad.length);
                        int len = 1 + rnd.nextInt(16);
                        for (int i = at; i < Math.min(bad.length, at + len); i++) {
                            bad[i] = (byte) rnd.nextInt();
                        }
                    }
                }
                CorruptFramePolicy policy = round % 2 == 0 ? CorruptFramePolicy.SKIP : CorruptFramePolicy.FAIL;
                DecodeOptions o = DecodeOptions.builder().optOnCorruptFrame(policy).optSize(32, 24).build();
                int r = round;
                int[] outcome = assertTimeoutPreemptively(java.time.Duration.ofSeconds(30), () -> fuzzOne(bad, r, o, policy),
                        "fuzz case " + round + " hangs");
                clips += outcome[0];
                exceptions += outcome[1];
                counted += outcome[2];
                if (outcome[3] != 0) {
                    functions.merge(FUNCTIONS.get(), 1, Integer::sum);
                }
            }
        }
        long totalMs = (System.nanoTime() - t0) / 1_000_000;
        System.out.printf("fuzz: %d clips, %d exceptions %s, %d damaged/missing frames counted, %d ms%n", clips, exceptions, functions,
                counted, totalMs);
        assertTrue(exceptions > 0 && clips > 0, "both outcomes occur");
        assertTrue(counted > 0, "damage is counted");
    }

    private static final java.util.concurrent.atomic.AtomicReference<String> FUNCTIONS = new java.util.concurrent.atomic.AtomicReference<>();

    /** @return {clips, exceptions, counted damage, whether an exception named a function (then in FUNCTIONS)} */
    private static int[] fuzzOne(byte[] bad, int round, DecodeOptions o, CorruptFramePolicy policy) throws Exception {
        try (VideoSource s = VideoSource.open(bad, "fuzz-" + round, o)) {
            int n = (int) Math.min(s.frameCount(), 64);
            long[] idx = new long[n];
            Arrays.setAll(idx, i -> i);
            try (Clip all = s.frames(idx); Clip some = s.frames(n - 1, 0, n / 2)) {
                DecodeStats st = all.stats().plus(some.stats());
                if (policy == CorruptFramePolicy.FAIL) {
                    assertEquals(0, st.corruptFrames(), "FAIL must not return damaged frames: " + st);
                    assertEquals(0, st.readErrors(), "FAIL must not skip read errors: " + st);
                }
                return new int[] {1, 0, (int) (st.corruptFrames() + st.readErrors() + st.missingFrames()), 0};
            }
        } catch (VideoDecodeException e) {
            FUNCTIONS.set(e.function());
            assertEquals("fuzz-" + round, e.source());
            assertTrue(e.getMessage().contains("fuzz-" + round) && e.getMessage().contains("()"), e.getMessage());
            return new int[] {0, 1, 0, 1};
        }
    }
}
