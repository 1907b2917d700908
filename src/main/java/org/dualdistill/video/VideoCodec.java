package org.dualdistill.video;

import static org.bytedeco.ffmpeg.global.avcodec.avcodec_find_decoder;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_find_encoder_by_name;

import org.bytedeco.ffmpeg.avcodec.AVCodec;
import org.bytedeco.ffmpeg.global.avcodec;
import org.bytedeco.ffmpeg.global.avutil;
import org.bytedeco.javacpp.PointerScope;
import org.dualdistill.internal.ffmpeg.Ffmpeg;

/**
 * The video codecs {@link VideoEncoder} can write, with the encoder of the bundled (LGPL) FFmpeg that writes them.
 * Decoding uses FFmpeg's native decoders and reads many more codecs than these.
 */
@SuppressWarnings("try") // a PointerScope is opened for what it collects, not referenced
public enum VideoCodec {
    /** MPEG-4 Part 2 (FFmpeg's native {@code mpeg4}; in AVI tagged {@code XVID}, like HMDB51). Quality: qscale 1-31. */
    MPEG4("mpeg4", avcodec.AV_CODEC_ID_MPEG4, avutil.AV_PIX_FMT_YUV420P),
    /** H.264 through Cisco's {@code libopenh264} (the LGPL build has no libx264). Constrained baseline: no B-frames. */
    H264("libopenh264", avcodec.AV_CODEC_ID_H264, avutil.AV_PIX_FMT_YUV420P),
    /** Motion JPEG (native {@code mjpeg}, full-range 4:2:0). Every frame is a keyframe. Quality: qscale 1-31. */
    MJPEG("mjpeg", avcodec.AV_CODEC_ID_MJPEG, avutil.AV_PIX_FMT_YUVJ420P),
    /** VP9 through {@code libvpx-vp9} (realtime speed). Quality: CRF 0-63. */
    VP9("libvpx-vp9", avcodec.AV_CODEC_ID_VP9, avutil.AV_PIX_FMT_YUV420P),
    /** FFV1, lossless (native {@code ffv1}, 4:4:4): exact pixels, for tests. */
    FFV1("ffv1", avcodec.AV_CODEC_ID_FFV1, avutil.AV_PIX_FMT_YUV444P);

    private final String encoderName;
    private final int codecId;
    private final int pixelFormat;

    VideoCodec(String encoderName, int codecId, int pixelFormat) {
        this.encoderName = encoderName;
        this.codecId = codecId;
        this.pixelFormat = pixelFormat;
    }

    /** @return the FFmpeg encoder name, e.g. {@code "libopenh264"} */
    public String encoderName() {
        return encoderName;
    }

    /** @return FFmpeg's {@code AVCodecID} */
    public int codecId() {
        return codecId;
    }

    /** @return the {@code AVPixelFormat} the encoder is fed */
    public int pixelFormat() {
        return pixelFormat;
    }

    /** @return whether the bundled FFmpeg has this encoder */
    public boolean canEncode() {
        Ffmpeg.init();
        try (PointerScope scope = new PointerScope()) {
            AVCodec c = avcodec_find_encoder_by_name(encoderName);
            return c != null && !c.isNull();
        }
    }

    /** @return whether the bundled FFmpeg can decode this codec */
    public boolean canDecode() {
        Ffmpeg.init();
        try (PointerScope scope = new PointerScope()) {
            AVCodec c = avcodec_find_decoder(codecId);
            return c != null && !c.isNull();
        }
    }
}
