package org.dualdistill.video;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.bytedeco.javacpp.Loader;

/**
 * The command-line {@code ffmpeg} shipped inside the FFmpeg presets (the same libraries the product links), used by
 * tests as the reference decoder and to remux fixtures with broken timestamps. Tests that need it skip, with the
 * reason, where the tool cannot run (the binary needs system libraries such as {@code libpulse.so.0} that a minimal
 * machine may lack).
 */
final class BundledFfmpeg {
    private static String bin;
    private static String unusable;

    private BundledFfmpeg() {
    }

    /** @return the path of the tool; skips the calling test (with the reason) when it cannot run */
    static synchronized String require() {
        if (bin == null && unusable == null) {
            try {
                String p = Loader.load(org.bytedeco.ffmpeg.ffmpeg.class);
                File f = new File(p);
                if (!f.canExecute() && !f.setExecutable(true)) {
                    unusable = p + " is not executable";
                } else {
                    Result r = run(List.of(p, "-hide_banner", "-version"));
                    if (r.rc != 0) {
                        unusable = p + " -version exited " + r.rc + ": " + new String(r.stderr).strip();
                    } else {
                        bin = p;
                    }
                }
            } catch (IOException | RuntimeException | UnsatisfiedLinkError e) {
                unusable = "the bundled ffmpeg tool cannot be loaded: " + e;
            }
        }
        assumeTrue(bin != null, () -> "skipped: " + unusable);
        return bin;
    }

    record Result(int rc, byte[] stdout, byte[] stderr) {
    }

    /** Runs a command with a 120 s bound; stdout and stderr are read fully. */
    static Result run(List<String> cmd) throws IOException {
        File err = File.createTempFile("ffmpeg", ".log");
        try {
            Process p = new ProcessBuilder(cmd).redirectError(err).start();
            p.getOutputStream().close();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("timed out: " + cmd);
            }
            return new Result(p.exitValue(), out, java.nio.file.Files.readAllBytes(err.toPath()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        } finally {
            err.delete();
        }
    }

    /** Runs the tool with {@code -v error -y} and the arguments; fails with its log on a non-zero exit. */
    static byte[] ffmpeg(String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(require(), "-hide_banner", "-nostdin", "-v", "error", "-y"));
        cmd.addAll(Arrays.asList(args));
        Result r = run(cmd);
        if (r.rc != 0) {
            throw new IOException("ffmpeg exited " + r.rc + ": " + cmd + "\n" + new String(r.stderr));
        }
        return r.stdout;
    }

    /**
     * Every frame as {@code ffmpeg -fps_mode passthrough} outputs it (no frame dropped or repeated), as RGB24.
     *
     * @return frames x (w*h*3) bytes
     */
    static byte[][] decodeRgb(Path file, int w, int h) throws IOException {
        byte[] raw = ffmpeg("-i", file.toString(), "-map", "0:v:0", "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24",
                "-");
        int size = w * h * 3;
        if (raw.length % size != 0) {
            throw new IOException("ffmpeg wrote " + raw.length + " bytes, not a whole number of " + w + "x" + h + " frames");
        }
        byte[][] out = new byte[raw.length / size][];
        for (int i = 0; i < out.length; i++) {
            out[i] = Arrays.copyOfRange(raw, i * size, (i + 1) * size);
        }
        return out;
    }
}
