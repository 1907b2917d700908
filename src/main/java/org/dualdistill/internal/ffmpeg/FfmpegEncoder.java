package org.dualdistill.internal.ffmpeg;

import static org.bytedeco.ffmpeg.global.avcodec.AV_CODEC_FLAG_GLOBAL_HEADER;
import static org.bytedeco.ffmpeg.global.avcodec.AV_CODEC_FLAG_QSCALE;
import static org.bytedeco.ffmpeg.global.avcodec.AV_PKT_DATA_DISPLAYMATRIX;
import static org.bytedeco.ffmpeg.global.avutil.FF_QP2LAMBDA;
import static org.bytedeco.ffmpeg.global.avcodec.av_packet_rescale_ts;
import static org.bytedeco.ffmpeg.global.avcodec.av_packet_side_data_new;
import static org.bytedeco.ffmpeg.global.avcodec.av_packet_unref;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_alloc_context3;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_find_encoder_by_name;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_open2;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_parameters_from_context;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_receive_packet;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_send_frame;
import static org.bytedeco.ffmpeg.global.avformat.AVFMT_GLOBALHEADER;
import static org.bytedeco.ffmpeg.global.avformat.AVFMT_NOFILE;
import static org.bytedeco.ffmpeg.global.avformat.AVIO_FLAG_WRITE;
import static org.bytedeco.ffmpeg.global.avformat.av_interleaved_write_frame;
import static org.bytedeco.ffmpeg.global.avformat.av_write_trailer;
import static org.bytedeco.ffmpeg.global.avformat.avformat_alloc_output_context2;
import static org.bytedeco.ffmpeg.global.avformat.avformat_free_context;
import static org.bytedeco.ffmpeg.global.avformat.avformat_new_stream;
import static org.bytedeco.ffmpeg.global.avformat.avformat_write_header;
import static org.bytedeco.ffmpeg.global.avformat.avio_closep;
import static org.bytedeco.ffmpeg.global.avformat.avio_open;
import static org.bytedeco.ffmpeg.global.avutil.AVERROR_EOF;
import static org.bytedeco.ffmpeg.global.avutil.AV_PIX_FMT_RGB24;
import static org.bytedeco.ffmpeg.global.avutil.av_display_rotation_set;
import static org.bytedeco.ffmpeg.global.avutil.av_frame_get_buffer;
import static org.bytedeco.ffmpeg.global.avutil.av_frame_make_writable;
import static org.bytedeco.ffmpeg.global.avutil.av_image_fill_arrays;
import static org.bytedeco.ffmpeg.global.avutil.av_make_q;
import static org.bytedeco.ffmpeg.global.avutil.av_opt_set;
import static org.bytedeco.ffmpeg.global.avutil.av_opt_set_int;
import static org.bytedeco.ffmpeg.global.swscale.sws_scale;

import java.nio.file.Path;
import java.util.Locale;

import org.bytedeco.ffmpeg.avcodec.AVCodec;
import org.bytedeco.ffmpeg.avcodec.AVCodecContext;
import org.bytedeco.ffmpeg.avcodec.AVPacket;
import org.bytedeco.ffmpeg.avcodec.AVPacketSideData;
import org.bytedeco.ffmpeg.avformat.AVFormatContext;
import org.bytedeco.ffmpeg.avformat.AVIOContext;
import org.bytedeco.ffmpeg.avformat.AVOutputFormat;
import org.bytedeco.ffmpeg.avformat.AVStream;
import org.bytedeco.ffmpeg.avutil.AVFrame;
import org.bytedeco.ffmpeg.global.avutil;
import org.bytedeco.ffmpeg.global.swscale;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.javacpp.PointerScope;
import org.dualdistill.video.EncoderOptions;
import org.dualdistill.video.Rational;
import org.dualdistill.video.VideoCodec;
import org.dualdistill.video.VideoEncodeException;

/**
 * Writes RGB24 frames as a video file: swscale to the encoder's pixel format, {@code avcodec_send_frame} /
 * {@code avcodec_receive_packet}, {@code av_interleaved_write_frame}, and on {@link #finish()} the encoder flush and
 * the container trailer.
 *
 * <p>Owners, acquired in this order and freed in reverse by {@link #close()}: the output {@code AVFormatContext}
 * ({@code avformat_free_context}), its {@code AVIOContext} ({@code avio_closep}), the encoder {@link CodecContext},
 * the {@link Frame} and {@link Packet} work objects, the {@link Scaler}, and the retained RGB staging buffer and
 * JavaCPP arrays. Each public method runs in its own {@link PointerScope}. Not thread-safe.
 */
@SuppressWarnings("try") // a PointerScope is opened for what it collects, not referenced
public final class FfmpegEncoder implements AutoCloseable {
    static {
        Ffmpeg.init();
    }

    private final String target;
    private final EncoderOptions options;
    private AVFormatContext oc;
    private boolean ioOpen;
    private CodecContext codec;
    private AVStream stream;
    private Frame frame;
    private Packet packet;
    private Scaler scaler;
    private BytePointer rgb;
    private PointerPointer<BytePointer> srcData;
    private IntPointer srcLinesize;
    private Rational timeBase;
    private long framesWritten;
    private long lastPts = Long.MIN_VALUE;
    private boolean finished;

    private FfmpegEncoder(String target, EncoderOptions options) {
        this.target = target;
        this.options = options;
    }

    /**
     * Creates the file and writes the container header.
     *
     * @param path    output file; its extension picks the container
     * @param options codec and stream settings
     * @return the encoder; caller must {@link #finish()} and close it
     * @throws VideoEncodeException if the container or encoder is unavailable or rejects the settings
     */
    public static FfmpegEncoder open(Path path, EncoderOptions options) throws VideoEncodeException {
        FfmpegEncoder e = new FfmpegEncoder(path.toString(), options);
        try (PointerScope scope = new PointerScope()) {
            e.setUp(path.toAbsolutePath().toString());
            return e;
        } catch (VideoEncodeException | RuntimeException | Error ex) {
            e.close();
            throw ex;
        }
    }

    private void setUp(String file) throws VideoEncodeException {
        VideoCodec vc = options.codec();
        AVFormatContext fmt = new AVFormatContext(null);
        int rc = avformat_alloc_output_context2(fmt, (AVOutputFormat) null, (String) null, file);
        if (rc < 0 || fmt.isNull()) {
            throw new VideoEncodeException(target, "avformat_alloc_output_context2", rc < 0 ? rc : Ffmpeg.AVERROR_EINVAL,
                    "no container for this file extension");
        }
        oc = fmt;
        String container = fmt.oformat().name().getString();
        boolean avi = container.equals("avi");
        if (avi && (options.variableFrameRate() || options.rotation() != 0)) {
            throw new IllegalArgumentException("AVI cannot store " + (options.rotation() != 0 ? "rotation metadata" : "variable frame rate")
                    + "; use .mp4 or .mkv for " + target);
        }
        AVCodec enc = avcodec_find_encoder_by_name(vc.encoderName());
        if (enc == null || enc.isNull()) {
            throw new VideoEncodeException(target, "avcodec_find_encoder_by_name", avutil.AVERROR_ENCODER_NOT_FOUND(),
                    "the bundled FFmpeg has no encoder " + vc.encoderName());
        }
        stream = avformat_new_stream(fmt, null);
        if (stream == null || stream.isNull()) {
            throw new VideoEncodeException(target, "avformat_new_stream", Ffmpeg.AVERROR_ENOMEM, null);
        }
        AVCodecContext ctx = avcodec_alloc_context3(enc);
        if (ctx == null || ctx.isNull()) {
            throw new VideoEncodeException(target, "avcodec_alloc_context3", Ffmpeg.AVERROR_ENOMEM, null);
        }
        codec = new CodecContext(ctx);
        Rational fps = options.frameRate();
        timeBase = options.variableFrameRate() ? new Rational(1, 1000) : new Rational(fps.den(), fps.num());
        ctx.width(options.width());
        ctx.height(options.height());
        ctx.pix_fmt(vc.pixelFormat());
        ctx.time_base(av_make_q((int) timeBase.num(), (int) timeBase.den()));
        ctx.framerate(av_make_q((int) fps.num(), (int) fps.den()));
        ctx.gop_size(options.gopSize());
        ctx.max_b_frames(vc == VideoCodec.MPEG4 ? options.maxBFrames() : 0);
        ctx.thread_count(options.threads());
        switch (vc) {
            case MPEG4, MJPEG -> {
                ctx.flags(ctx.flags() | AV_CODEC_FLAG_QSCALE);
                ctx.global_quality(Math.max(1, Math.min(31, options.quality())) * FF_QP2LAMBDA);
                if (vc == VideoCodec.MJPEG) {
                    ctx.color_range(avutil.AVCOL_RANGE_JPEG);
                }
                if (vc == VideoCodec.MPEG4 && avi) {
                    ctx.codec_tag(fourcc("XVID")); // what HMDB51's AVIs carry
                }
            }
            case H264 -> {
                long br = options.bitRate() > 0 ? options.bitRate()
                        : Math.max(200_000L, (long) (options.width() * (double) options.height() * fps.doubleValue() * 0.5));
                ctx.bit_rate(br);
                av_opt_set_int(ctx.priv_data(), "allow_skip_frames", 0, 0); // never drop frames to meet the rate
            }
            case VP9 -> {
                ctx.bit_rate(0);
                av_opt_set_int(ctx.priv_data(), "crf", options.quality(), 0);
                av_opt_set(ctx.priv_data(), "deadline", "realtime", 0);
                av_opt_set_int(ctx.priv_data(), "cpu-used", 8, 0);
                av_opt_set_int(ctx.priv_data(), "lag-in-frames", 0, 0);
            }
            case FFV1 -> {
                // lossless: nothing to tune
            }
        }
        if ((fmt.oformat().flags() & AVFMT_GLOBALHEADER) != 0) {
            ctx.flags(ctx.flags() | AV_CODEC_FLAG_GLOBAL_HEADER);
        }
        rc = avcodec_open2(ctx, enc, (PointerPointer<?>) null);
        if (rc < 0) {
            throw new VideoEncodeException(target, "avcodec_open2", rc, "encoder " + vc.encoderName() + " " + options.width() + "x"
                    + options.height());
        }
        rc = avcodec_parameters_from_context(stream.codecpar(), ctx);
        if (rc < 0) {
            throw new VideoEncodeException(target, "avcodec_parameters_from_context", rc, null);
        }
        stream.time_base(ctx.time_base());
        stream.avg_frame_rate(ctx.framerate());
        if (options.rotation() != 0) {
            addRotation(options.rotation());
        }
        if ((fmt.oformat().flags() & AVFMT_NOFILE) == 0) {
            PointerPointer<AVIOContext> pb = new PointerPointer<>(1);
            rc = avio_open(pb, new BytePointer("file:" + file), AVIO_FLAG_WRITE);
            if (rc < 0) {
                throw new VideoEncodeException(target, "avio_open", rc, null);
            }
            fmt.pb(new AVIOContext(pb.get(0)));
            ioOpen = true;
        }
        rc = avformat_write_header(fmt, (PointerPointer<?>) null);
        if (rc < 0) {
            throw new VideoEncodeException(target, "avformat_write_header", rc, "container " + container);
        }
        frame = new Frame();
        AVFrame f = frame.get();
        f.format(vc.pixelFormat());
        f.width(options.width());
        f.height(options.height());
        if (vc == VideoCodec.MJPEG) {
            f.color_range(avutil.AVCOL_RANGE_JPEG);
        }
        rc = av_frame_get_buffer(f, 0);
        if (rc < 0) {
            throw new VideoEncodeException(target, "av_frame_get_buffer", rc, null);
        }
        packet = new Packet();
        scaler = new Scaler();
        rgb = new BytePointer((long) options.width() * options.height() * 3);
        rgb.retainReference();
        srcData = new PointerPointer<>(4);
        srcData.retainReference();
        srcLinesize = new IntPointer(4);
        srcLinesize.retainReference();
        rc = av_image_fill_arrays(srcData, srcLinesize, rgb, AV_PIX_FMT_RGB24, options.width(), options.height(), 1);
        if (rc < 0) {
            throw new VideoEncodeException(target, "av_image_fill_arrays", rc, null);
        }
        boolean fullRange = vc == VideoCodec.MJPEG;
        if (!scaler.configure(options.width(), options.height(), AV_PIX_FMT_RGB24, true, avutil.AVCOL_SPC_UNSPECIFIED, options.width(),
                options.height(), vc.pixelFormat(), fullRange, avutil.AVCOL_SPC_UNSPECIFIED, swscale.SWS_BICUBIC)) {
            throw new VideoEncodeException(target, "sws_getCachedContext", Ffmpeg.AVERROR_EINVAL, "rgb24 to encoder format");
        }
    }

    private static int fourcc(String s) {
        return s.charAt(0) | s.charAt(1) << 8 | s.charAt(2) << 16 | s.charAt(3) << 24;
    }

    /** Adds display-matrix side data (read by the MP4/MOV and Matroska muxers) for a clockwise display rotation. */
    private void addRotation(int clockwise) throws VideoEncodeException {
        var par = stream.codecpar();
        PointerPointer<AVPacketSideData> list = new PointerPointer<>(1);
        AVPacketSideData current = par.coded_side_data();
        list.put(0, current == null ? new Pointer() : current);
        IntPointer count = new IntPointer(1).put(par.nb_coded_side_data());
        AVPacketSideData sd = av_packet_side_data_new(list, count, AV_PKT_DATA_DISPLAYMATRIX, 9 * 4, 0);
        if (sd == null || sd.isNull()) {
            throw new VideoEncodeException(target, "av_packet_side_data_new", Ffmpeg.AVERROR_ENOMEM, "display matrix");
        }
        par.coded_side_data(new AVPacketSideData(list.get(0)));
        par.nb_coded_side_data(count.get());
        // av_display_rotation_get() of the result is -clockwise, which readers (ffmpeg's autorotate, ours) turn back
        // into a clockwise turn by `clockwise` degrees
        av_display_rotation_set(new IntPointer(sd.data()), clockwise);
    }

    /** @return frames passed to {@link #write(byte[], long)} so far */
    public long framesWritten() {
        return framesWritten;
    }

    /** @return the encoder time base: timestamps passed to {@link #write(byte[], long)} are in these units */
    public Rational timeBase() {
        return timeBase;
    }

    /**
     * Encodes one frame.
     *
     * @param rgbFrame {@code width * height * 3} bytes, RGB24, rows top to bottom (borrowed)
     * @param pts      presentation timestamp in {@link #timeBase()} units, strictly greater than the previous one
     * @throws VideoEncodeException if FFmpeg rejects the frame or the write fails
     */
    public void write(byte[] rgbFrame, long pts) throws VideoEncodeException {
        if (oc == null || finished) {
            throw new IllegalStateException("FfmpegEncoder is " + (oc == null ? "closed" : "finished"));
        }
        long need = (long) options.width() * options.height() * 3;
        if (rgbFrame == null || rgbFrame.length != need) {
            throw new IllegalArgumentException("frame must have width*height*3 = " + need + " bytes, got "
                    + (rgbFrame == null ? "null" : rgbFrame.length));
        }
        if (pts <= lastPts) {
            throw new IllegalArgumentException("timestamps must increase strictly: " + pts + " after " + lastPts + " (time base "
                    + timeBase + ") in " + target);
        }
        try (PointerScope scope = new PointerScope()) {
            rgb.position(0).put(rgbFrame, 0, rgbFrame.length);
            AVFrame f = frame.get();
            int rc = av_frame_make_writable(f);
            if (rc < 0) {
                throw new VideoEncodeException(target, "av_frame_make_writable", rc, null);
            }
            rc = sws_scale(scaler.get(), srcData, srcLinesize, 0, options.height(), f.data(), f.linesize());
            if (rc <= 0) {
                throw new VideoEncodeException(target, "sws_scale", rc < 0 ? rc : Ffmpeg.AVERROR_EINVAL, null);
            }
            f.pts(pts);
            rc = avcodec_send_frame(codec.get(), f);
            if (rc < 0) {
                throw new VideoEncodeException(target, "avcodec_send_frame", rc, "frame " + framesWritten);
            }
            lastPts = pts;
            framesWritten++;
            drain();
        }
    }

    private void drain() throws VideoEncodeException {
        AVCodecContext ctx = codec.get();
        AVPacket pkt = packet.get();
        while (true) {
            int rc = avcodec_receive_packet(ctx, pkt);
            if (rc == Ffmpeg.AVERROR_EAGAIN || rc == AVERROR_EOF) {
                return;
            }
            if (rc < 0) {
                throw new VideoEncodeException(target, "avcodec_receive_packet", rc, null);
            }
            av_packet_rescale_ts(pkt, ctx.time_base(), stream.time_base());
            pkt.stream_index(stream.index());
            rc = av_interleaved_write_frame(oc, pkt); // takes the packet's reference
            if (rc < 0) {
                av_packet_unref(pkt);
                throw new VideoEncodeException(target, "av_interleaved_write_frame", rc, null);
            }
        }
    }

    /**
     * Flushes the encoder and writes the container trailer. Idempotent.
     *
     * @throws VideoEncodeException if flushing or the trailer fails
     */
    public void finish() throws VideoEncodeException {
        if (oc == null) {
            throw new IllegalStateException("FfmpegEncoder is closed");
        }
        if (finished) {
            return;
        }
        finished = true;
        try (PointerScope scope = new PointerScope()) {
            int rc = avcodec_send_frame(codec.get(), null);
            if (rc < 0 && rc != AVERROR_EOF) {
                throw new VideoEncodeException(target, "avcodec_send_frame", rc, "flush");
            }
            drain();
            rc = av_write_trailer(oc);
            if (rc < 0) {
                throw new VideoEncodeException(target, "av_write_trailer", rc, null);
            }
        }
    }

    /** Frees every native resource in reverse order of acquisition (without writing a trailer). Idempotent. */
    @Override
    public void close() {
        if (srcLinesize != null) {
            srcLinesize.releaseReference();
            srcLinesize = null;
        }
        if (srcData != null) {
            srcData.releaseReference();
            srcData = null;
        }
        if (rgb != null) {
            rgb.releaseReference();
            rgb = null;
        }
        if (scaler != null) {
            scaler.close();
            scaler = null;
        }
        if (packet != null) {
            packet.close();
            packet = null;
        }
        if (frame != null) {
            frame.close();
            frame = null;
        }
        if (codec != null) {
            codec.close();
            codec = null;
        }
        if (oc != null) {
            if (ioOpen) {
                AVIOContext pb = oc.pb();
                avio_closep(pb);
                oc.pb(null);
                ioOpen = false;
            }
            avformat_free_context(oc);
            oc = null;
        }
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "FfmpegEncoder[%s, %s %dx%d]", target, options.codec(), options.width(), options.height());
    }
}
