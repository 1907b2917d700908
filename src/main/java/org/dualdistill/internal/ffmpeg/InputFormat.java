package org.dualdistill.internal.ffmpeg;

import static org.bytedeco.ffmpeg.global.avformat.avformat_alloc_context;
import static org.bytedeco.ffmpeg.global.avformat.avformat_close_input;
import static org.bytedeco.ffmpeg.global.avformat.avformat_find_stream_info;
import static org.bytedeco.ffmpeg.global.avformat.avformat_open_input;

import org.bytedeco.ffmpeg.avformat.AVFormatContext;
import org.bytedeco.ffmpeg.avformat.AVIOContext;
import org.bytedeco.ffmpeg.avformat.AVInputFormat;
import org.bytedeco.ffmpeg.avutil.AVDictionary;
import org.bytedeco.ffmpeg.global.avutil;
import org.bytedeco.javacpp.PointerPointer;
import org.dualdistill.video.VideoDecodeException;

/**
 * Owns an opened demuxer ({@code AVFormatContext} from {@code avformat_open_input}). {@code close()} calls
 * {@code avformat_close_input}, which leaves a custom {@code pb} to its own owner ({@link MemoryInput}).
 * Not thread-safe; one decoding thread at a time.
 */
final class InputFormat implements AutoCloseable {
    private AVFormatContext ctx;

    private InputFormat(AVFormatContext ctx) {
        this.ctx = ctx;
    }

    /**
     * Opens and probes an input.
     *
     * @param url    the URL handed to FFmpeg ({@code file:} + absolute path), ignored by custom I/O
     * @param io     custom I/O to read through, or null to let FFmpeg open {@code url}
     * @param source the name used in error messages
     * @param budget bounds the reads (installed as the interrupt callback); borrowed, must outlive the context
     * @param probeSize      {@code AVFormatContext.probesize}, bytes
     * @param maxAnalyzeUs   {@code max_analyze_duration}, microseconds, 0 = FFmpeg's choice
     * @return the opened context; caller must close it
     */
    static InputFormat open(String url, AVIOContext io, String source, ReadBudget budget, long probeSize, long maxAnalyzeUs)
            throws VideoDecodeException {
        AVFormatContext fmt = avformat_alloc_context();
        if (fmt == null || fmt.isNull()) {
            throw new VideoDecodeException(source, "avformat_alloc_context", Ffmpeg.AVERROR_ENOMEM, null);
        }
        if (io != null) {
            fmt.pb(io);
        }
        fmt.probesize(probeSize);
        if (maxAnalyzeUs > 0) {
            fmt.max_analyze_duration(maxAnalyzeUs);
        }
        budget.install(fmt);
        // on failure FFmpeg frees the context and writes NULL back into fmt
        int rc = avformat_open_input(fmt, io != null ? "" : url, (AVInputFormat) null, (AVDictionary) null);
        if (rc < 0) {
            budget.detach();
            throw new VideoDecodeException(source, "avformat_open_input", rc, budget.takeTripped());
        }
        InputFormat in = new InputFormat(fmt);
        rc = avformat_find_stream_info(fmt, (PointerPointer<?>) null);
        String why = budget.takeTripped();
        if (rc < 0 || budget.timedOut()) {
            budget.detach(); // before the context is freed
            in.close();
            throw new VideoDecodeException(source, "avformat_find_stream_info", rc < 0 ? rc : avutil.AVERROR_EXIT, why);
        }
        return in;
    }

    /** @return the context (borrowed) */
    AVFormatContext context() {
        if (ctx == null) {
            throw new IllegalStateException("InputFormat is closed");
        }
        return ctx;
    }

    @Override
    public void close() {
        AVFormatContext c = ctx;
        ctx = null;
        if (c != null && !c.isNull()) {
            avformat_close_input(c);
        }
    }
}
