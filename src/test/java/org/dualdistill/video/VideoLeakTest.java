package org.dualdistill.video;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Native memory stays flat over thousands of decodes: process RSS ({@link Pointer#physicalBytes()}, which counts
 * FFmpeg's and LibTorch's allocations) and JavaCPP's own accounting ({@link Pointer#totalBytes()}) after a warm-up.
 */
class VideoLeakTest {
    @TempDir
    Path dir;

    @Test
    void twoThousandClipDecodesDoNotGrowNativeMemory() throws Exception {
        Path f = TestVideos.writeNoisy(dir.resolve("leak.avi"), EncoderOptions.builder(VideoCodec.MPEG4, 96, 64).optGopSize(8).build(), 48);
        byte[] bytes = Files.readAllBytes(f);
        DecodeOptions o = DecodeOptions.builder().optSize(64, 64).build();
        Random rnd = new Random(1);
        long[] idx = new long[8];
        long baseRss = 0;
        long baseTotal = 0;
        long peakRss = 0;
        int warmup = 500;
        int iterations = 2000;
        VideoSource s = VideoSource.open(f, o);
        try {
            for (int i = 0; i < warmup + iterations; i++) {
                if (i == warmup) {
                    System.gc();
                    Pointer.trimMemory();
                    baseRss = Pointer.physicalBytes();
                    baseTotal = Pointer.totalBytes();
                }
                if (i > warmup && i % 250 == 0) {
                    // checkpoints: heap garbage collected and malloc arenas trimmed, so RSS shows what is really held
                    System.gc();
                    Pointer.trimMemory();
                    peakRss = Math.max(peakRss, Pointer.physicalBytes());
                }
                if (i % 10 == 0) {
                    // reopen now and then: the open/close path must not leak either (alternating file and bytes)
                    s.close();
                    s = i % 20 == 0 ? VideoSource.open(f, o) : VideoSource.open(bytes, "leak-bytes", o);
                }
                int start = rnd.nextInt(48 - idx.length);
                for (int k = 0; k < idx.length; k++) {
                    idx[k] = start + k;
                }
                try (Clip c = s.frames(idx)) {
                    assertEquals(start, TestVideos.readIndices(c.frames())[0]);
                    if (i % 7 == 0) {
                        Tensor x = c.toFloat(new float[] {0.45f, 0.45f, 0.45f}, new float[] {0.225f, 0.225f, 0.225f});
                        x.close();
                    }
                }
            }
        } finally {
            s.close();
        }
        System.gc();
        Pointer.trimMemory();
        long growRss = Math.max(peakRss, Pointer.physicalBytes()) - baseRss;
        long growTotal = Pointer.totalBytes() - baseTotal;
        System.out.printf("after %d clip decodes (%d opens): peak RSS %+d KiB over the post-warm-up baseline, JavaCPP totalBytes %+d B%n",
                iterations, iterations / 10, growRss / 1024, growTotal);
        // one leaked clip is 8*64*64*3 = 96 KiB, one leaked decoder several hundred KiB: 2,000 of either would be >190 MiB
        assertTrue(growRss < 48L << 20, "RSS grew by " + (growRss >> 20) + " MiB");
        assertTrue(growTotal < 1L << 20, "JavaCPP totalBytes grew by " + growTotal + " bytes");
    }
}
