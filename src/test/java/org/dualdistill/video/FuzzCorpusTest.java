package org.dualdistill.video;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import org.bytedeco.ffmpeg.global.avutil;
import org.dualdistill.internal.ffmpeg.Ffmpeg;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fuzz corpus as a test: seeded, deterministic mutants (truncations, byte flips, zeroed blocks, swapped chunks,
 * header-only files, appended junk) of small videos in every codec/container the bundled FFmpeg writes. Each mutant
 * must end in a result (frames, with damage counted) or a {@link VideoDecodeException} that names the file: never a
 * crash, a hang or another exception type. The default run takes every 16th mutant (27 of them); the full corpus (432)
 * is tagged {@code slow}. The per-file timeout (30 s) is only a hang guard, far above what any mutant needs.
 */
class FuzzCorpusTest {
    private static final long SEED = 20261203L;
    private static final int PER_KIND = 12;
    private static final Duration HANG_GUARD = Duration.ofSeconds(30);

    @TempDir
    static Path dir;

    private static final List<Base> BASES = new ArrayList<>();
    private static int oldLevel;
    private static final java.util.concurrent.atomic.AtomicInteger OPENED = new java.util.concurrent.atomic.AtomicInteger();
    private static final java.util.concurrent.atomic.AtomicInteger REFUSED = new java.util.concurrent.atomic.AtomicInteger();

    record Base(String name, byte[] bytes) {
    }

    record Mutant(String name, byte[] bytes, CorruptFramePolicy policy, boolean viaFile) {
    }

    enum Kind {
        TRUNCATE, FLIP, ZERO_BLOCK, SWAP_CHUNKS, HEADER_ONLY, APPEND_JUNK
    }

    @BeforeAll
    static void fixtures() throws IOException {
        oldLevel = Ffmpeg.setLogLevel(avutil.AV_LOG_QUIET);
        add("mpeg4.avi", VideoCodec.MPEG4, 0);
        add("mpeg4_bframes.avi", VideoCodec.MPEG4, 2);
        add("mpeg4_bframes.mp4", VideoCodec.MPEG4, 2);
        add("h264.mp4", VideoCodec.H264, 0);
        add("mjpeg.avi", VideoCodec.MJPEG, 0);
        add("vp9.webm", VideoCodec.VP9, 0);
    }

    private static void add(String name, VideoCodec codec, int bFrames) throws IOException {
        if (!codec.canEncode() || !codec.canDecode()) {
            return; // not in this FFmpeg build: the corpus is over what it can write
        }
        Path f = dir.resolve(name);
        TestVideos.writeNoisy(f, EncoderOptions.builder(codec, 48, 32).optGopSize(8).optMaxBFrames(bFrames).build(), 24);
        BASES.add(new Base(name, Files.readAllBytes(f)));
    }

    @AfterAll
    static void restoreLog() {
        System.out.printf("fuzz corpus: %d mutants decoded, %d refused with a VideoDecodeException%n", OPENED.get(), REFUSED.get());
        Ffmpeg.setLogLevel(oldLevel);
    }

    /** @return every mutant, in a fixed order; mutant i depends only on the seed, its base and i */
    static List<Mutant> corpus() {
        List<Mutant> out = new ArrayList<>();
        int i = 0;
        for (Base b : BASES) {
            for (Kind k : Kind.values()) {
                for (int r = 0; r < PER_KIND; r++, i++) {
                    SplittableRandom rnd = new SplittableRandom(SEED ^ (b.name().hashCode() * 31L + k.ordinal()) * 1_000_003L + r);
                    byte[] m = mutate(b.bytes(), k, rnd);
                    String name = "fuzz-" + b.name().replace('.', '_') + "-" + k.name().toLowerCase() + "-" + r
                            + b.name().substring(b.name().lastIndexOf('.'));
                    out.add(new Mutant(name, m, r % 2 == 0 ? CorruptFramePolicy.SKIP : CorruptFramePolicy.FAIL, i % 3 == 0));
                }
            }
        }
        return out;
    }

    static byte[] mutate(byte[] src, Kind kind, SplittableRandom rnd) {
        int n = src.length;
        switch (kind) {
            case TRUNCATE:
                return Arrays.copyOf(src, rnd.nextInt(n));
            case HEADER_ONLY:
                return Arrays.copyOf(src, Math.min(n, 8 + rnd.nextInt(Math.min(n, 2048))));
            case FLIP: {
                byte[] m = src.clone();
                int hits = 1 + rnd.nextInt(32);
                for (int h = 0; h < hits; h++) {
                    int at = rnd.nextInt(n);
                    m[at] ^= (byte) (1 + rnd.nextInt(255));
                }
                return m;
            }
            case ZERO_BLOCK: {
                byte[] m = src.clone();
                int len = 1 + rnd.nextInt(Math.max(1, n / 8));
                int at = rnd.nextInt(n);
                Arrays.fill(m, at, Math.min(n, at + len), (byte) 0);
                return m;
            }
            case SWAP_CHUNKS: {
                byte[] m = src.clone();
                int len = 1 + rnd.nextInt(Math.max(1, n / 6));
                int a = rnd.nextInt(Math.max(1, n - len));
                int b = rnd.nextInt(Math.max(1, n - len));
                byte[] tmp = Arrays.copyOfRange(m, a, a + len);
                System.arraycopy(m, b, m, a, len);
                System.arraycopy(tmp, 0, m, b, len);
                return m;
            }
            case APPEND_JUNK: {
                int extra = 1 + rnd.nextInt(64 * 1024);
                byte[] m = Arrays.copyOf(src, n + extra);
                boolean zeros = rnd.nextBoolean();
                for (int i = n; i < m.length && !zeros; i++) {
                    m[i] = (byte) rnd.nextInt();
                }
                return m;
            }
            default:
                throw new IllegalArgumentException(kind.toString());
        }
    }

    /** Opens and decodes one mutant: every frame (up to 48), a scattered request, and one clip window. */
    private static void exercise(Mutant m) throws IOException {
        DecodeOptions o = DecodeOptions.builder().optOnCorruptFrame(m.policy()).optMaxBytesWithoutPacket(1 << 20).build();
        String source;
        VideoSource s;
        try {
            if (m.viaFile()) {
                Path f = Files.write(dir.resolve(m.name()), m.bytes());
                source = f.toString();
                s = VideoSource.open(f, o);
            } else {
                source = m.name();
                s = VideoSource.open(m.bytes(), m.name(), o);
            }
        } catch (VideoDecodeException e) {
            REFUSED.incrementAndGet();
            assertNames(e, m.viaFile() ? dir.resolve(m.name()).toString() : m.name());
            return;
        }
        try (s) {
            int n = (int) Math.min(s.frameCount(), 48);
            assertTrue(n >= 1, "an open source has frames: " + s.info());
            long[] all = new long[n];
            Arrays.setAll(all, i -> i);
            try (Clip a = s.frames(all); Clip b = s.frames(n - 1, 0, n / 2, n / 2)) {
                DecodeStats st = a.stats().plus(b.stats());
                if (m.policy() == CorruptFramePolicy.FAIL) {
                    assertEquals(0, st.corruptFrames(), "FAIL must not return damaged frames: " + st);
                }
                assertEquals(n, a.numFrames());
            }
            Timeline tl = Timeline.of(s);
            for (ClipInfo w : ClipSampler.uniform(4, 2, 2, 1).sample(tl, new SplittableRandom(1))) {
                long[] idx = tl.frameIndices(w, 4);
                try (Clip c = s.frames(idx)) {
                    assertEquals(4, c.numFrames());
                }
            }
            OPENED.incrementAndGet();
        } catch (VideoDecodeException e) {
            REFUSED.incrementAndGet();
            assertNames(e, source);
        }
    }

    private static void assertNames(VideoDecodeException e, String source) {
        assertEquals(source, e.source(), e.getMessage());
        assertTrue(e.getMessage().contains(source), e.getMessage());
        assertTrue(e.getMessage().contains("()"), "names the FFmpeg function: " + e.getMessage());
    }

    private static Stream<DynamicTest> tests(int every) {
        List<Mutant> all = corpus();
        if (all.isEmpty()) {
            fail("no base video could be written");
        }
        List<DynamicTest> out = new ArrayList<>();
        for (int i = 0; i < all.size(); i += every) {
            Mutant m = all.get(i);
            out.add(DynamicTest.dynamicTest(m.name() + " " + m.policy() + (m.viaFile() ? " file" : " bytes"),
                    () -> assertTimeoutPreemptively(HANG_GUARD, () -> exercise(m), m.name() + " hangs")));
        }
        return out.stream();
    }

    @TestFactory
    Stream<DynamicTest> sampleOfTheCorpus() {
        return tests(16);
    }

    @Tag("slow")
    @TestFactory
    Stream<DynamicTest> wholeCorpus() {
        return tests(1);
    }
}
