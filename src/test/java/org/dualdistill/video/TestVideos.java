package org.dualdistill.video;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;

/**
 * Test fixtures written at run time by {@link VideoEncoder} (no binary media in the repository), modelled on
 * pytorchvideo's {@code temp_encoded_video}: every frame shows its own index as a 4 x 4 barcode of large black and
 * white cells (16 bits), which survives lossy compression and resizing, so a decoded frame proves which source frame
 * it came from.
 */
@SuppressWarnings("try") // a PointerScope is opened for what it collects, not referenced
final class TestVideos {
    static final int GRID = 4;

    private TestVideos() {
    }

    /** @return an RGB24 frame whose barcode encodes {@code index} */
    static byte[] indexFrame(int index, int w, int h) {
        byte[] rgb = new byte[w * h * 3];
        for (int y = 0; y < h; y++) {
            int r = Math.min(GRID - 1, y * GRID / h);
            for (int x = 0; x < w; x++) {
                int c = Math.min(GRID - 1, x * GRID / w);
                int bit = (index >> (r * GRID + c)) & 1;
                byte v = (byte) (bit == 1 ? 235 : 16);
                int o = (y * w + x) * 3;
                rgb[o] = v;
                rgb[o + 1] = v;
                rgb[o + 2] = v;
            }
        }
        return rgb;
    }

    /** @return {@link #indexFrame} plus deterministic pixel noise (+-24), which makes packets big like real video */
    static byte[] noisyIndexFrame(int index, int w, int h) {
        byte[] rgb = indexFrame(index, w, h);
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(index * 7919L + w);
        for (int i = 0; i < rgb.length; i++) {
            rgb[i] = (byte) Math.max(0, Math.min(255, (rgb[i] & 0xff) + rnd.nextInt(-24, 25)));
        }
        return rgb;
    }

    /** Writes {@code frames} noisy index frames; returns {@code file}. */
    static Path writeNoisy(Path file, EncoderOptions options, int frames) throws IOException {
        try (VideoEncoder enc = VideoEncoder.open(file, options)) {
            for (int i = 0; i < frames; i++) {
                enc.writeFrame(noisyIndexFrame(i, options.width(), options.height()));
            }
        }
        return file;
    }

    /** @return the index read back from the barcode of an RGB24 image */
    static int readIndex(byte[] rgb, int w, int h) {
        int value = 0;
        for (int r = 0; r < GRID; r++) {
            for (int c = 0; c < GRID; c++) {
                // average the centre half of the cell
                int y0 = (r * h) / GRID + h / (GRID * 4);
                int y1 = ((r + 1) * h) / GRID - h / (GRID * 4);
                int x0 = (c * w) / GRID + w / (GRID * 4);
                int x1 = ((c + 1) * w) / GRID - w / (GRID * 4);
                long sum = 0;
                int n = 0;
                for (int y = y0; y < Math.max(y1, y0 + 1); y++) {
                    for (int x = x0; x < Math.max(x1, x0 + 1); x++) {
                        sum += rgb[(y * w + x) * 3 + 1] & 0xff;
                        n++;
                    }
                }
                if (sum / n > 128) {
                    value |= 1 << (r * GRID + c);
                }
            }
        }
        return value;
    }

    /** @return the indices shown by each frame of a {@code uint8 [T, H, W, 3]} tensor */
    static int[] readIndices(Tensor frames) {
        try (PointerScope scope = new PointerScope()) {
            int t = (int) frames.size(0);
            int h = (int) frames.size(1);
            int w = (int) frames.size(2);
            byte[] all = bytes(frames);
            int[] out = new int[t];
            byte[] one = new byte[h * w * 3];
            for (int i = 0; i < t; i++) {
                System.arraycopy(all, i * one.length, one, 0, one.length);
                out[i] = readIndex(one, w, h);
            }
            return out;
        }
    }

    /** @return a copy of a contiguous uint8 CPU tensor's bytes */
    static byte[] bytes(Tensor t) {
        try (PointerScope scope = new PointerScope()) {
            Tensor c = t.contiguous();
            byte[] out = new byte[Math.toIntExact(c.numel())];
            new BytePointer(c.data_ptr()).capacity(out.length).get(out);
            return out;
        }
    }

    /** Writes {@code frames} index frames with the given options; returns {@code file}. */
    static Path write(Path file, EncoderOptions options, int frames) throws IOException {
        try (VideoEncoder enc = VideoEncoder.open(file, options)) {
            for (int i = 0; i < frames; i++) {
                enc.writeFrame(indexFrame(i, options.width(), options.height()));
            }
        }
        return file;
    }

    /** Writes index frames at explicit times (microseconds). */
    static Path writeTimed(Path file, EncoderOptions options, long[] timesUs) throws IOException {
        try (VideoEncoder enc = VideoEncoder.open(file, options)) {
            for (int i = 0; i < timesUs.length; i++) {
                enc.writeFrame(indexFrame(i, options.width(), options.height()), timesUs[i]);
            }
        }
        return file;
    }

    /** @return a temp-encoded MPEG4/AVI of {@code frames} index frames (pytorchvideo's temp_encoded_video) */
    static Path temp(Path dir, int frames, int fps, int h, int w) throws IOException {
        return write(dir.resolve("temp_" + frames + "_" + fps + "_" + w + "x" + h + ".avi"),
                EncoderOptions.builder(VideoCodec.MPEG4, w, h).optFrameRate(fps).build(), frames);
    }

    /** @return Debian's ffprobe if installed (an independent cross-check, never used by the library) */
    static Path ffprobe() {
        Path p = Path.of("/usr/bin/ffprobe");
        return Files.isExecutable(p) ? p : null;
    }

    /** Runs ffprobe with the given arguments and returns its stdout, trimmed. */
    static String ffprobe(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(ffprobe().toString());
        cmd.add("-v");
        cmd.add("error");
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("ffprobe timed out");
        }
        return new String(out).trim();
    }
}
