package org.dualdistill.internal.ffmpeg;

import static org.bytedeco.ffmpeg.global.avutil.av_frame_alloc;
import static org.bytedeco.ffmpeg.global.avutil.av_frame_free;

import org.bytedeco.ffmpeg.avutil.AVFrame;

/** Owns one reusable {@code AVFrame} ({@code av_frame_alloc} / {@code av_frame_free}, which also unrefs). Not thread-safe. */
final class Frame implements AutoCloseable {
    private AVFrame frame;

    Frame() {
        frame = av_frame_alloc();
        if (frame == null || frame.isNull()) {
            throw new OutOfMemoryError("av_frame_alloc() returned NULL");
        }
    }

    /** @return the frame (borrowed) */
    AVFrame get() {
        if (frame == null) {
            throw new IllegalStateException("Frame is closed");
        }
        return frame;
    }

    @Override
    public void close() {
        AVFrame f = frame;
        frame = null;
        if (f != null && !f.isNull()) {
            av_frame_free(f);
        }
    }
}
