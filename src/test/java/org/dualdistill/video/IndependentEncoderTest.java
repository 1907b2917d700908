package org.dualdistill.video;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.bytedeco.javacpp.Loader;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Files written by an independent encoder: Debian's ffmpeg CLI (with libx264 and libxvid, which the bundled LGPL
 * FFmpeg lacks) encodes the same index frames, fed as raw RGB on stdin. This covers what real datasets contain and our
 * encoder cannot write: x264 High profile with B-pyramids, Xvid with B-frames in AVI, and a raw Annex-B H.264 stream
 * without any timestamps (decoded by counting frames). Skipped where /usr/bin/ffmpeg or the encoder is missing.
 */
class IndependentEncoderTest {
    private static final int W = 64;
    private static final int H = 48;
    private static final int FRAMES = 50;

    @TempDir
    static Path dir;

    private static Path encodeWithCli(String name, String... codecArgs) throws IOException, InterruptedException {
        Path ffmpeg = Path.of("/usr/bin/ffmpeg");
        assumeTrue(Files.isExecutable(ffmpeg), "no /usr/bin/ffmpeg");
        Path out = dir.resolve(name);
        List<String> cmd = new ArrayList<>(List.of(ffmpeg.toString(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s",
                W + "x" + H, "-r", "25", "-i", "-"));
        cmd.addAll(List.of(codecArgs));
        cmd.add(out.toString());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try (OutputStream in = p.getOutputStream()) {
            for (int i = 0; i < FRAMES; i++) {
                in.write(TestVideos.indexFrame(i, W, H));
            }
        } catch (IOException e) {
            // the encoder may have exited early (unknown encoder): its output says why
        }
        String log = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
        }
        assumeTrue(p.exitValue() == 0 && Files.exists(out), "CLI could not encode " + name + ": " + log);
        return out;
    }

    /** @return the index shown by every frame as decoded by the bundled FFmpeg's command-line tool */
    private static int[] referenceDecode(Path f) throws IOException, InterruptedException {
        String bin = Loader.load(org.bytedeco.ffmpeg.ffmpeg.class);
        Process p = new ProcessBuilder(bin, "-v", "error", "-i", f.toString(), "-f", "rawvideo", "-pix_fmt", "rgb24", "-").start();
        byte[] raw = p.getInputStream().readAllBytes();
        p.waitFor(60, TimeUnit.SECONDS);
        int size = W * H * 3;
        int[] out = new int[raw.length / size];
        for (int i = 0; i < out.length; i++) {
            out[i] = TestVideos.readIndex(Arrays.copyOfRange(raw, i * size, (i + 1) * size), W, H);
        }
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"x264_bpyramid.mp4", "x264_bpyramid.mkv", "xvid_bframes.avi", "annexb.h264"})
    void decodesFramesExactly(String name) throws Exception {
        Path f = switch (name) {
            case "x264_bpyramid.mp4", "x264_bpyramid.mkv", "annexb.h264" -> encodeWithCli(name, "-c:v", "libx264", "-preset", "veryfast",
                    "-bf", "3", "-b_strategy", "0", "-x264-params", "b-pyramid=normal:keyint=10:min-keyint=10:scenecut=0", "-pix_fmt",
                    "yuv420p");
            case "xvid_bframes.avi" -> encodeWithCli(name, "-c:v", "libxvid", "-bf", "2", "-g", "12", "-q:v", "4");
            default -> throw new IllegalArgumentException(name);
        };
        // the truth is what the bundled FFmpeg's own CLI decodes (FFmpeg 8 drops two frames of Xvid's packed B-frames
        // that older versions kept; we must agree with the library we link, frame for frame)
        int[] reference = referenceDecode(f);
        if (!name.startsWith("xvid")) {
            int[] all = new int[FRAMES];
            Arrays.setAll(all, i -> i);
            assertArrayEquals(all, reference, "reference decode of " + name);
        }
        int n = reference.length;
        try (VideoSource s = VideoSource.open(f)) {
            assertEquals(n, s.frameCount(), name + " " + s.info());
            long[] all = new long[n];
            Arrays.setAll(all, i -> i);
            try (Clip c = s.frames(all)) {
                assertArrayEquals(reference, TestVideos.readIndices(c.frames()), name);
            }
            long[][] requests = {{n - 1}, {0}, {23, 24, 25}, {37, 11, 11, 40}, {9, 10}, {n - 2, 2}, {12}, {13}, {14}, {30, 31, 32, 33}};
            for (long[] r : requests) {
                try (Clip c = s.frames(r)) {
                    assertArrayEquals(Arrays.stream(r).mapToInt(v -> reference[(int) v]).toArray(), TestVideos.readIndices(c.frames()),
                            name + " " + Arrays.toString(r));
                    assertEquals(0, c.stats().missingFrames(), name + " " + c.stats());
                }
            }
            assertEquals(0, s.stats().corruptFrames(), name + " " + s.stats());
        }
    }
}
