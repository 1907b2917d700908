package org.dualdistill.internal.ffmpeg;

import static org.bytedeco.ffmpeg.global.avcodec.avcodec_free_context;

import org.bytedeco.ffmpeg.avcodec.AVCodecContext;

/**
 * Owns one {@code AVCodecContext} (decoder or encoder); {@code close()} calls {@code avcodec_free_context}.
 * Opening is done by {@link FfmpegDecoder} and {@link FfmpegEncoder}, which know the settings. Not thread-safe.
 */
final class CodecContext implements AutoCloseable {
    private AVCodecContext ctx;

    /** @param ctx a context from {@code avcodec_alloc_context3}; ownership moves here */
    CodecContext(AVCodecContext ctx) {
        this.ctx = ctx;
    }

    /** @return the context (borrowed) */
    AVCodecContext get() {
        if (ctx == null) {
            throw new IllegalStateException("CodecContext is closed");
        }
        return ctx;
    }

    @Override
    public void close() {
        AVCodecContext c = ctx;
        ctx = null;
        if (c != null && !c.isNull()) {
            avcodec_free_context(c);
        }
    }
}
