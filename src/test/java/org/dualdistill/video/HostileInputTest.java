package org.dualdistill.video;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import org.bytedeco.ffmpeg.global.avutil;
import org.dualdistill.internal.ffmpeg.Ffmpeg;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A valid video followed by a gigabyte of zeros (a sparse file: no gigabyte is written). Demuxers that search the junk
 * for the next chunk used to read all of it, on open and again whenever decoding reached the end (10 s per open).
 * {@link DecodeOptions#maxBytesWithoutPacket()} bounds the bytes read between packets: the file opens with exactly its
 * valid frames, the bytes read stay near the bound, and the stop is counted as a read error (or, under FAIL, is an
 * exception naming the file and the option). {@link DecodeOptions#openTimeoutMs()} is the wall-clock backstop.
 * Asserts on frames, exceptions and {@link VideoSource#bytesRead()}, never on time.
 */
class HostileInputTest {
    private static final long JUNK = 1L << 30;
    private static final int FRAMES = 60;

    @TempDir
    static Path dir;

    private static int oldLevel;

    @BeforeAll
    static void quiet() {
        oldLevel = Ffmpeg.setLogLevel(avutil.AV_LOG_QUIET);
    }

    @AfterAll
    static void restoreLog() {
        Ffmpeg.setLogLevel(oldLevel);
    }

    private static Path valid(String name) throws IOException {
        Path f = dir.resolve(name);
        if (!Files.exists(f)) {
            VideoCodec codec = name.endsWith(".mp4") ? VideoCodec.H264 : VideoCodec.MPEG4;
            TestVideos.writeNoisy(f, EncoderOptions.builder(codec, 160, 120).optGopSize(12).build(), FRAMES);
        }
        return f;
    }

    /** @return a copy of {@code valid} followed by {@link #JUNK} zero bytes, as a sparse file */
    private static Path withJunk(Path valid) throws IOException {
        Path f = dir.resolve("junk_" + valid.getFileName());
        if (!Files.exists(f)) {
            Files.copy(valid, f);
            try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
                raf.setLength(Files.size(valid) + JUNK);
            }
        }
        return f;
    }

    private static long[] all(long n) {
        long[] idx = new long[(int) n];
        Arrays.setAll(idx, i -> i);
        return idx;
    }

    @ParameterizedTest
    @ValueSource(strings = {"v.avi", "v.mp4", "v.mkv"})
    void opensWithTheValidFramesAndReadsBoundedBytes(String name) throws Exception {
        Path good = valid(name);
        Path bad = withJunk(good);
        int[] expected;
        try (VideoSource s = VideoSource.open(good); Clip c = s.frames(all(s.frameCount()))) {
            expected = TestVideos.readIndices(c.frames());
        }
        long bound = DecodeOptions.defaults().maxBytesWithoutPacket();
        long size = Files.size(good);
        try (VideoSource s = VideoSource.open(bad)) {
            assertEquals(expected.length, s.frameCount(), name + " " + s.info());
            assertTrue(s.bytesRead() < 2 * (size + bound), name + ": opening read " + s.bytesRead() + " bytes");
            // decoding to the end meets the junk again, and stops again at the bound
            try (Clip c = s.frames(all(s.frameCount()))) {
                assertArrayEquals(expected, TestVideos.readIndices(c.frames()), name);
                assertEquals(0, c.stats().missingFrames(), c.stats().toString());
            }
            try (Clip c = s.frames(s.frameCount() - 1, 0)) {
                assertArrayEquals(new int[] {expected[expected.length - 1], expected[0]}, TestVideos.readIndices(c.frames()), name);
            }
            assertTrue(s.bytesRead() < 6 * (size + bound), name + ": read " + s.bytesRead() + " bytes of a " + (size + JUNK)
                    + "-byte file");
        }
        // a tight bound: the same frames, a few megabytes read
        DecodeOptions tight = DecodeOptions.builder().optMaxBytesWithoutPacket(1 << 20).build();
        try (VideoSource s = VideoSource.open(bad, tight); Clip c = s.frames(all(s.frameCount()))) {
            assertArrayEquals(expected, TestVideos.readIndices(c.frames()), name + " tight");
            assertTrue(s.bytesRead() < 8 * (size + (1 << 20)), name + ": tight bound read " + s.bytesRead() + " bytes");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"v.avi", "v.mkv"})
    void failPolicyNamesTheFileAndTheBound(String name) throws Exception {
        Path bad = withJunk(valid(name));
        DecodeOptions fail = DecodeOptions.builder().optOnCorruptFrame(CorruptFramePolicy.FAIL).build();
        VideoDecodeException e = assertThrows(VideoDecodeException.class, () -> {
            try (VideoSource s = VideoSource.open(bad, fail)) {
                s.frames(all(s.frameCount())).close();
            }
        });
        assertEquals(bad.toString(), e.source());
        assertTrue(e.getMessage().contains(bad.toString()) && e.getMessage().contains("maxBytesWithoutPacket"), e.getMessage());
    }

    @org.junit.jupiter.api.Test
    void boundsAreValidatedAndKeptByToBuilder() {
        DecodeOptions o = DecodeOptions.builder().optProbeSizeBytes(1 << 20).optMaxAnalyzeDurationUs(0).optMaxBytesWithoutPacket(1 << 22)
                .optOpenTimeoutMs(0).build();
        assertEquals(o, o.toBuilder().build());
        assertEquals(1 << 22, o.maxBytesWithoutPacket());
        assertThrows(IllegalArgumentException.class, () -> DecodeOptions.builder().optMaxBytesWithoutPacket(100).build());
        assertThrows(IllegalArgumentException.class, () -> DecodeOptions.builder().optProbeSizeBytes(0).build());
        assertThrows(IllegalArgumentException.class, () -> DecodeOptions.builder().optOpenTimeoutMs(-1).build());
        assertThrows(IllegalArgumentException.class, () -> DecodeOptions.builder().optMaxAnalyzeDurationUs(-1).build());
    }

    @ParameterizedTest
    @ValueSource(strings = {"v.avi"})
    void openDeadlineIsABackstop(String name) throws Exception {
        // no byte bound to speak of (1 TiB), and a deadline of 1 ms that reading a gigabyte cannot meet
        Path bad = withJunk(valid(name));
        DecodeOptions o = DecodeOptions.builder().optMaxBytesWithoutPacket(1L << 40).optOpenTimeoutMs(1).build();
        VideoDecodeException e = assertThrows(VideoDecodeException.class, () -> VideoSource.open(bad, o).close());
        assertEquals(bad.toString(), e.source());
        assertTrue(e.getMessage().contains("openTimeoutMs"), e.getMessage());
    }
}
