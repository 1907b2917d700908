package org.dualdistill.video;

import java.io.IOException;

import org.dualdistill.internal.ffmpeg.Ffmpeg;

/**
 * A video could not be opened, probed or decoded: missing, empty, truncated, corrupt or non-video input, or a decode
 * that made no progress.
 *
 * <p>The message always names the FFmpeg function that failed, its return code, FFmpeg's text for that code
 * ({@code av_strerror}) and the source (a file path, or the name given to an in-memory video), for example
 * {@code avformat_open_input() returned -2 (No such file or directory) for "/data/hmdb51/run/x.avi"}. The same
 * facts are available as fields. It is a checked {@link IOException}, as bad input is an expected condition of
 * real datasets (the JavaCV {@code FFmpegFrameGrabber.Exception} precedent); programmer errors (bad arguments,
 * use after close) are unchecked.
 *
 * <p>Immutable and thread-safe.
 */
public class VideoDecodeException extends IOException {
    private static final long serialVersionUID = 1L;

    /** The file path or in-memory name. */
    private final String source;
    /** The FFmpeg function that failed. */
    private final String function;
    /** Its return code. */
    private final int returnCode;

    /**
     * Creates an exception for a failed FFmpeg call.
     *
     * @param source     the file path or in-memory name
     * @param function   the FFmpeg function that failed, without parentheses
     * @param returnCode its (negative) return code
     * @param detail     extra context appended to the message, or null
     */
    public VideoDecodeException(String source, String function, int returnCode, String detail) {
        this(source, function, returnCode, detail, null);
    }

    /**
     * Creates an exception for a failed FFmpeg call with a cause.
     *
     * @param source     the file path or in-memory name
     * @param function   the FFmpeg function that failed, without parentheses
     * @param returnCode its (negative) return code
     * @param detail     extra context appended to the message, or null
     * @param cause      the underlying exception, or null
     */
    public VideoDecodeException(String source, String function, int returnCode, String detail, Throwable cause) {
        super(format(source, function, returnCode, detail), cause);
        this.source = source;
        this.function = function;
        this.returnCode = returnCode;
    }

    static String format(String source, String function, int returnCode, String detail) {
        StringBuilder sb = new StringBuilder();
        sb.append(function).append("() returned ").append(returnCode).append(" (").append(Ffmpeg.errorText(returnCode))
                .append(") for \"").append(source).append('"');
        if (detail != null && !detail.isEmpty()) {
            sb.append(": ").append(detail);
        }
        return sb.toString();
    }

    /** @return the file path or in-memory name of the video */
    public String source() {
        return source;
    }

    /** @return the FFmpeg function that failed, e.g. {@code "avformat_open_input"} */
    public String function() {
        return function;
    }

    /** @return the FFmpeg return code (negative, an {@code AVERROR}) */
    public int returnCode() {
        return returnCode;
    }

    /** @return FFmpeg's description of {@link #returnCode()} */
    public String errorText() {
        return Ffmpeg.errorText(returnCode);
    }
}
