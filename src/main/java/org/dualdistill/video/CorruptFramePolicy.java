package org.dualdistill.video;

/**
 * What a decode does when FFmpeg reports a damaged frame: {@code avcodec_send_packet} or
 * {@code avcodec_receive_frame} fails with a decoding error, or a frame comes back flagged corrupt
 * ({@code AV_FRAME_FLAG_CORRUPT}) or with {@code decode_error_flags} set (the decoder concealed errors).
 *
 * <p>Either way the event is counted in {@link DecodeStats}; it is never ignored silently.
 */
public enum CorruptFramePolicy {
    /**
     * Drop the damaged frame and go on. A requested frame that is thereby missing is filled with the frame that a
     * player would show at its time (the last good frame before it, or else the first good one after it) and
     * counted in {@link DecodeStats#missingFrames()}. The clip fails only if no frame at all could be decoded.
     */
    SKIP,
    /** Throw a {@link VideoDecodeException} at the first damaged frame, naming the FFmpeg function and error. */
    FAIL
}
