package org.dualdistill.internal.ffmpeg;

import static org.bytedeco.ffmpeg.global.avcodec.av_packet_alloc;
import static org.bytedeco.ffmpeg.global.avcodec.av_packet_free;

import org.bytedeco.ffmpeg.avcodec.AVPacket;

/** Owns one reusable {@code AVPacket} ({@code av_packet_alloc} / {@code av_packet_free}). Not thread-safe. */
final class Packet implements AutoCloseable {
    private AVPacket pkt;

    Packet() {
        pkt = av_packet_alloc();
        if (pkt == null || pkt.isNull()) {
            throw new OutOfMemoryError("av_packet_alloc() returned NULL");
        }
    }

    /** @return the packet (borrowed) */
    AVPacket get() {
        if (pkt == null) {
            throw new IllegalStateException("Packet is closed");
        }
        return pkt;
    }

    @Override
    public void close() {
        AVPacket p = pkt;
        pkt = null;
        if (p != null && !p.isNull()) {
            av_packet_free(p);
        }
    }
}
