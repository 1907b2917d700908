package org.dualdistill.video;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Random;

import org.bytedeco.javacpp.Loader;
import org.dualdistill.data.synthetic.ActionClass;
import org.dualdistill.data.synthetic.SyntheticActionDataset;
import org.dualdistill.data.synthetic.SyntheticConfig;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Measures decode throughput on an HMDB51-like file (320x240 MPEG-4 in AVI, textured moving content), resized to
 * 160x160 RGB on one thread, next to the bundled FFmpeg's own command-line tool doing the same work. Slow: run with
 * {@code -Pall-tests -Dtest=DecodeThroughputTest}.
 */
@Tag("slow")
class DecodeThroughputTest {
    @TempDir
    Path dir;

    @Test
    void mpeg4Avi320x240To160x160SingleThread() throws Exception {
        int frames = 300;
        SyntheticConfig look = SyntheticConfig.builder().optSize(320, 240).optNoise(2).build();
        Path f = dir.resolve("hmdb_like.avi");
        try (VideoEncoder enc = VideoEncoder.open(f, EncoderOptions.builder(VideoCodec.MPEG4, 320, 240).optFrameRate(30).optGopSize(12)
                .optQuality(5).build())) {
            // ten 30-frame actions back to back
            for (int k = 0; k < frames / 30; k++) {
                List<byte[]> part = SyntheticActionDataset.renderFrames(ActionClass.values()[k % 8], k, 30, look);
                for (byte[] rgb : part) {
                    enc.writeFrame(rgb);
                }
            }
        }
        System.out.printf(Locale.ROOT, "file: %d frames, %.0f kbit/s%n", frames, Files.size(f) * 8.0 / (frames / 30.0) / 1000);
        DecodeOptions o = DecodeOptions.builder().optSize(160, 160).optThreads(1).build();
        long[] all = new long[frames];
        for (int i = 0; i < frames; i++) {
            all[i] = i;
        }
        double best = 0;
        try (VideoSource s = VideoSource.open(f, o)) {
            for (int rep = 0; rep < 5; rep++) {
                long t0 = System.nanoTime();
                try (Clip c = s.frames(all)) {
                    assertTrue(c.numFrames() == frames);
                }
                best = Math.max(best, frames / ((System.nanoTime() - t0) / 1e9));
            }
        }
        System.out.printf(Locale.ROOT, "sequential decode+resize: %.0f frames/s (best of 5)%n", best);

        // training-style access: open, one random 16-frame clip (stride 2), close
        Random rnd = new Random(0);
        int clips = 200;
        long t0 = System.nanoTime();
        long decoded = 0;
        for (int i = 0; i < clips; i++) {
            try (VideoSource s = VideoSource.open(f, o)) {
                int start = rnd.nextInt(frames - 32);
                long[] idx = new long[16];
                for (int k = 0; k < 16; k++) {
                    idx[k] = start + 2L * k;
                }
                try (Clip c = s.frames(idx)) {
                    decoded += c.stats().framesDecoded();
                }
            }
        }
        double sec = (System.nanoTime() - t0) / 1e9;
        System.out.printf(Locale.ROOT, "open + random 16-frame clip + close: %.1f ms per clip (%.0f decoded frames/s incl. open)%n",
                sec * 1000 / clips, decoded / sec);

        String bin = Loader.load(org.bytedeco.ffmpeg.ffmpeg.class);
        double cli = 0;
        for (int rep = 0; rep < 3; rep++) {
            long c0 = System.nanoTime();
            Process p = new ProcessBuilder(bin, "-v", "error", "-threads", "1", "-i", f.toString(), "-vf", "scale=160:160:flags=bilinear",
                    "-pix_fmt", "rgb24", "-f", "rawvideo", "-y", "/dev/null").inheritIO().start();
            p.waitFor();
            cli = Math.max(cli, frames / ((System.nanoTime() - c0) / 1e9));
        }
        System.out.printf(Locale.ROOT, "bundled ffmpeg CLI, same work (incl. process start): %.0f frames/s%n", cli);
    }
}
