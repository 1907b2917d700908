package org.dualdistill.video;

import java.io.IOException;

/**
 * A video could not be written: the encoder or muxer is missing from the bundled FFmpeg, rejected the settings, or
 * failed while writing.
 *
 * <p>The message names the FFmpeg function, its return code, FFmpeg's error text and the output path, in the same
 * shape as {@link VideoDecodeException}. Immutable and thread-safe.
 */
public class VideoEncodeException extends IOException {
    private static final long serialVersionUID = 1L;

    /** The output path. */
    private final String target;
    /** The FFmpeg function that failed. */
    private final String function;
    /** Its return code. */
    private final int returnCode;

    /**
     * Creates an exception for a failed FFmpeg call.
     *
     * @param target     the output path
     * @param function   the FFmpeg function that failed, without parentheses
     * @param returnCode its (negative) return code
     * @param detail     extra context appended to the message, or null
     */
    public VideoEncodeException(String target, String function, int returnCode, String detail) {
        super(VideoDecodeException.format(target, function, returnCode, detail));
        this.target = target;
        this.function = function;
        this.returnCode = returnCode;
    }

    /** @return the output path */
    public String target() {
        return target;
    }

    /** @return the FFmpeg function that failed */
    public String function() {
        return function;
    }

    /** @return the FFmpeg return code (negative) */
    public int returnCode() {
        return returnCode;
    }
}
