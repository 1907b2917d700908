package org.dualdistill.internal.ffmpeg;

import static org.bytedeco.ffmpeg.global.avutil.av_log_set_level;
import static org.bytedeco.ffmpeg.global.avutil.av_strerror;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

import org.bytedeco.ffmpeg.global.avutil;
import org.bytedeco.javacpp.Loader;

/**
 * Process-wide FFmpeg set-up and the few constants and helpers every owner in this package shares.
 *
 * <p>Loading: like {@code TorchRuntime}, {@link #init()} extracts the whole native folder of the FFmpeg presets into
 * the JavaCPP cache before the first FFmpeg class initializes, so that {@code libavformat.so.62} never meets a half
 * filled cache (the system has Debian's own, older libav* with other sonames; they must stay out of the picture).
 *
 * <p>Logging: FFmpeg's logger is a process global that prints to stderr. Decoding errors reach callers through
 * return codes, counters and {@code VideoDecodeException}s, so by default only messages at {@code error} level
 * or above are printed. {@code -Ddualdistill.ffmpeg.log=quiet|panic|fatal|error|warning|info|verbose|debug} changes
 * that once at start-up; {@link #setLogLevel(int)} changes it at run time (tests that fuzz corrupt files use it to
 * keep the console readable).
 *
 * <p>Macros that the presets do not export (they are C macros in FFmpeg's headers) are re-declared here with their
 * Linux values and a note of the header they come from.
 */
public final class Ffmpeg {
    /** {@code AVERROR(EAGAIN)} on Linux (libavutil/error.h; EAGAIN = 11). */
    public static final int AVERROR_EAGAIN = -11;
    /** {@code AVERROR(ENOMEM)} on Linux. */
    public static final int AVERROR_ENOMEM = -12;
    /** {@code AVERROR(EINVAL)} on Linux. */
    public static final int AVERROR_EINVAL = -22;
    /** {@code AV_FRAME_FLAG_CORRUPT} (libavutil/frame.h): the decoder flagged the frame as corrupt. */
    public static final int AV_FRAME_FLAG_CORRUPT = 1;
    /** {@code FF_THREAD_FRAME} (libavcodec/avcodec.h). */
    public static final int FF_THREAD_FRAME = 1;
    /** {@code FF_THREAD_SLICE} (libavcodec/avcodec.h). */
    public static final int FF_THREAD_SLICE = 2;

    private static volatile boolean done;

    private Ffmpeg() {
    }

    /** Warms the JavaCPP cache for the FFmpeg presets and applies the log level. Idempotent and thread-safe. */
    public static void init() {
        if (done) {
            return;
        }
        synchronized (Ffmpeg.class) {
            if (done) {
                return;
            }
            try {
                Class<?> presets = Class.forName("org.bytedeco.ffmpeg.presets.avutil", false, Ffmpeg.class.getClassLoader());
                Loader.cacheResource(presets, "/org/bytedeco/ffmpeg/" + Loader.getPlatform() + "/");
            } catch (ClassNotFoundException | IOException | RuntimeException e) {
                // not fatal: the presets' own loader still runs and reports its own errors
                System.getLogger("org.dualdistill").log(System.Logger.Level.DEBUG, "FFmpeg cache warm-up skipped: " + e);
            }
            av_log_set_level(parseLevel(System.getProperty("dualdistill.ffmpeg.log", "error")));
            done = true;
        }
    }

    /**
     * Sets FFmpeg's process-wide log level.
     *
     * @param level one of {@code avutil.AV_LOG_*}
     * @return the previous level
     */
    public static int setLogLevel(int level) {
        init();
        int old = avutil.av_log_get_level();
        av_log_set_level(level);
        return old;
    }

    static int parseLevel(String name) {
        return switch (name.trim().toLowerCase(Locale.ROOT)) {
            case "quiet" -> avutil.AV_LOG_QUIET;
            case "panic" -> avutil.AV_LOG_PANIC;
            case "fatal" -> avutil.AV_LOG_FATAL;
            case "warning" -> avutil.AV_LOG_WARNING;
            case "info" -> avutil.AV_LOG_INFO;
            case "verbose" -> avutil.AV_LOG_VERBOSE;
            case "debug" -> avutil.AV_LOG_DEBUG;
            default -> avutil.AV_LOG_ERROR;
        };
    }

    /**
     * FFmpeg's description of an error code ({@code av_strerror}); never throws.
     *
     * @param rc a negative FFmpeg return code
     * @return e.g. {@code "Invalid data found when processing input"}
     */
    public static String errorText(int rc) {
        init();
        byte[] buf = new byte[256];
        if (av_strerror(rc, buf, buf.length) < 0) {
            return "unknown error " + rc;
        }
        int n = 0;
        while (n < buf.length && buf[n] != 0) {
            n++;
        }
        return new String(buf, 0, n, StandardCharsets.UTF_8);
    }
}
