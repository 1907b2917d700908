package org.dualdistill.internal.ffmpeg;

import static org.bytedeco.ffmpeg.global.avcodec.AVDISCARD_ALL;
import static org.bytedeco.ffmpeg.global.avcodec.AV_PKT_DATA_DISPLAYMATRIX;
import static org.bytedeco.ffmpeg.global.avcodec.AV_PKT_FLAG_DISCARD;
import static org.bytedeco.ffmpeg.global.avcodec.AV_PKT_FLAG_KEY;
import static org.bytedeco.ffmpeg.global.avcodec.av_packet_side_data_get;
import static org.bytedeco.ffmpeg.global.avcodec.av_packet_unref;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_alloc_context3;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_find_decoder;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_flush_buffers;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_get_name;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_open2;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_parameters_to_context;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_receive_frame;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_send_packet;
import static org.bytedeco.ffmpeg.global.avformat.AVSEEK_FLAG_BACKWARD;
import static org.bytedeco.ffmpeg.global.avformat.AVSEEK_FLAG_BYTE;
import static org.bytedeco.ffmpeg.global.avformat.av_find_best_stream;
import static org.bytedeco.ffmpeg.global.avformat.av_guess_frame_rate;
import static org.bytedeco.ffmpeg.global.avformat.av_read_frame;
import static org.bytedeco.ffmpeg.global.avformat.av_seek_frame;
import static org.bytedeco.ffmpeg.global.avformat.avformat_seek_file;
import static org.bytedeco.ffmpeg.global.avutil.AVERROR_DECODER_NOT_FOUND;
import static org.bytedeco.ffmpeg.global.avutil.AVERROR_EOF;
import static org.bytedeco.ffmpeg.global.avutil.AVERROR_INVALIDDATA;
import static org.bytedeco.ffmpeg.global.avutil.AVMEDIA_TYPE_VIDEO;
import static org.bytedeco.ffmpeg.global.avutil.AV_NOPTS_VALUE;
import static org.bytedeco.ffmpeg.global.avutil.AV_PIX_FMT_RGB24;
import static org.bytedeco.ffmpeg.global.avutil.av_display_rotation_get;
import static org.bytedeco.ffmpeg.global.avutil.av_frame_move_ref;
import static org.bytedeco.ffmpeg.global.avutil.av_frame_unref;
import static org.bytedeco.ffmpeg.global.avutil.av_get_pix_fmt_name;
import static org.bytedeco.ffmpeg.global.swscale.sws_scale;

import java.nio.file.Path;
import java.util.Arrays;

import org.bytedeco.ffmpeg.avcodec.AVCodec;
import org.bytedeco.ffmpeg.avcodec.AVCodecContext;
import org.bytedeco.ffmpeg.avcodec.AVCodecParameters;
import org.bytedeco.ffmpeg.avcodec.AVPacket;
import org.bytedeco.ffmpeg.avcodec.AVPacketSideData;
import org.bytedeco.ffmpeg.avformat.AVFormatContext;
import org.bytedeco.ffmpeg.avformat.AVStream;
import org.bytedeco.ffmpeg.avutil.AVFrame;
import org.bytedeco.ffmpeg.avutil.AVRational;
import org.bytedeco.ffmpeg.global.avcodec;
import org.bytedeco.ffmpeg.global.avutil;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.javacpp.PointerScope;
import org.dualdistill.video.CorruptFramePolicy;
import org.dualdistill.video.DecodeOptions;
import org.dualdistill.video.DecodeStats;
import org.dualdistill.video.Rational;
import org.dualdistill.video.VideoDecodeException;
import org.dualdistill.video.VideoInfo;

/**
 * Frame-accurate decoding of one video stream into caller-provided RGB24 memory, on FFmpeg's send/receive API.
 *
 * <p>Owners, acquired in this order and freed in reverse: {@link MemoryInput} (only for in-memory videos),
 * {@link InputFormat}, {@link CodecContext}, two {@link Packet}/{@link Frame} work objects, {@link Scaler}, and the
 * small retained JavaCPP arrays handed to {@code sws_scale}. Every public method runs in
 * its own {@link PointerScope}; the long-lived natives come from {@code av_*_alloc} functions (no JavaCPP
 * deallocator) or are retained explicitly, so no scope ever frees them.
 *
 * <p>Opening scans all packets of the stream once (demuxing only) into a {@link PacketIndex}: that gives the exact
 * frame count and each frame's timestamp and keyframe, which is what makes random access exact. Streams whose packets
 * carry only decode-order timestamps (MPEG-4 with B-frames in AVI, packed or not) are indexed by decoding them once
 * instead ({@code decodeScan}), and so are B-frame streams whose packets' pts increase in decode order (pts = dts,
 * a broken muxer): those get a counted index where frame i is the i-th frame out of the decoder, as
 * {@code ffmpeg -fps_mode passthrough} numbers them. A request for frames
 * seeks to the last keyframe at or before the first wanted frame (unless decoding on from the current position is
 * cheaper), decodes forward, and converts only the wanted frames. If a seek lands after the wanted frame (a broken
 * index), it retries from an earlier keyframe and then from the start. A wanted frame that never comes out of the
 * decoder is filled with the frame a player would show at its time, and counted.
 *
 * <p>Bounded work: each decode call stops with a {@link VideoDecodeException} after
 * {@link DecodeOptions#maxNoProgressPackets()} consecutive packets without a frame, and the scan stops at the first
 * read error; file input is finite, so every call terminates.
 *
 * <p>Not thread-safe: use one decoder per thread (FFmpeg's own decoder threads are internal to a call).
 */
@SuppressWarnings("try") // a PointerScope is opened for what it collects, not referenced
public final class FfmpegDecoder implements AutoCloseable {
    private static final int MAX_SEEK_RETRIES = 2;
    /** Frames a decoder may output after a seek before the keyframe sought to (leading frames of an open GOP). */
    private static final int MAX_SYNC_FRAMES = 64;
    /** Bound on the index scan: more packets than a day of 500 fps video means a demuxer going round in circles. */
    private static final long MAX_SCAN_PACKETS = 50_000_000L;
    /** {@code AV_FRAME_FLAG_KEY} (libavutil/frame.h). */
    private static final int AV_FRAME_FLAG_KEY = 1 << 1;
    /** {@code AV_DISPOSITION_ATTACHED_PIC} (libavformat/avformat.h). */
    private static final int ATTACHED_PIC_DISPOSITION = 0x0400;

    static {
        Ffmpeg.init();
    }

    private final String source;
    private final DecodeOptions options;
    private ReadBudget budget;
    private MemoryInput memory;
    private InputFormat input;
    private CodecContext codec;
    private Packet packet;
    private Frame frame;
    private Frame held;
    private Scaler scaler;
    private PointerPointer<BytePointer> dstData;
    private IntPointer dstLinesize;
    /** av_malloc'ed conversion buffer (aligned rows, padded), owned by this decoder; see convert(). */
    private BytePointer scratch;
    private long scratchBytes;

    private int streamIndex;
    private Rational timeBase;
    private PacketIndex index;
    private VideoInfo info;
    private int rotation;

    // decoder position: what has been consumed since the last seek
    private boolean inputEof;
    private boolean drained;
    private int seekedKey;          // keyframe index of the last seek, while nothing has been decoded since; else -2
    private long lastTs = PacketIndex.NO_TS;
    private boolean heldValid;
    private long sequentialPos;     // ordinal of the next frame out of the decoder, in counted mode
    private int syncKey = -1;       // counted mode: keyframe sought to whose output is awaited; else -1
    private boolean keySeekBroken;  // counted mode: a keyframe was not found again after a seek; count from the start
    private int noProgress;
    private String lastFunction = "avcodec_receive_frame";
    private int lastError = AVERROR_INVALIDDATA;

    private long[] totals = new long[7];
    /** step used for frames the decoder returns without any timestamp (the last ones of a flush, in some AVIs) */
    private long fallbackStep = 1;

    private FfmpegDecoder(String source, DecodeOptions options) {
        this.source = source;
        this.options = options;
    }

    /**
     * Opens a video file.
     *
     * @param path    the file
     * @param options decode options
     * @return the decoder; caller must close it
     * @throws VideoDecodeException if the file cannot be opened, has no decodable video stream, or has no frames
     */
    public static FfmpegDecoder open(Path path, DecodeOptions options) throws VideoDecodeException {
        String source = path.toString();
        FfmpegDecoder d = new FfmpegDecoder(source, options);
        try (PointerScope scope = new PointerScope()) {
            d.startBudget();
            d.input = InputFormat.open("file:" + path.toAbsolutePath(), null, source, d.budget, options.probeSizeBytes(),
                    options.maxAnalyzeDurationUs());
            d.setUp();
            d.budget.endDeadline();
            return d;
        } catch (VideoDecodeException | RuntimeException | Error e) {
            d.close();
            throw e;
        }
    }

    /**
     * Opens a video held in memory.
     *
     * @param data    the whole file (borrowed: must stay unchanged until the decoder is closed)
     * @param name    name used in messages and {@link VideoInfo#source()}
     * @param options decode options
     * @return the decoder; caller must close it
     * @throws VideoDecodeException as for {@link #open(Path, DecodeOptions)}
     */
    public static FfmpegDecoder open(byte[] data, String name, DecodeOptions options) throws VideoDecodeException {
        FfmpegDecoder d = new FfmpegDecoder(name, options);
        try (PointerScope scope = new PointerScope()) {
            d.startBudget();
            d.memory = MemoryInput.open(data, name, d.budget);
            d.input = InputFormat.open("", d.memory.context(), name, d.budget, options.probeSizeBytes(), options.maxAnalyzeDurationUs());
            d.setUp();
            d.budget.endDeadline();
            return d;
        } catch (VideoDecodeException | RuntimeException | Error e) {
            d.close();
            throw e;
        }
    }

    private void startBudget() {
        budget = ReadBudget.open(options.maxBytesWithoutPacket());
        budget.startDeadline(options.openTimeoutMs());
    }

    /**
     * @return bytes read from the input since it was opened (probing, indexing, decoding, seeks included): what a
     *         hostile file costs in I/O
     */
    public long bytesRead() {
        return budget == null ? 0 : budget.bytesRead();
    }

    /**
     * After a failed {@code av_read_frame}: the reason when the read budget stopped it (else null). A passed open
     * deadline always fails; a byte bound ends the stream there, or fails under {@link CorruptFramePolicy#FAIL}.
     */
    private String budgetStop(int rc, String while_) throws VideoDecodeException {
        String why = budget.takeTripped();
        if (why != null && (budget.timedOut() || options.onCorruptFrame() == CorruptFramePolicy.FAIL)) {
            throw new VideoDecodeException(source, "av_read_frame", rc < 0 && rc != AVERROR_EOF ? rc : avutil.AVERROR_EXIT,
                    why + " " + while_);
        }
        return why;
    }

    private void setUp() throws VideoDecodeException {
        AVFormatContext fmt = input.context();
        int rc = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, (PointerPointer<?>) null, 0);
        if (rc < 0) {
            throw new VideoDecodeException(source, "av_find_best_stream", rc, "no video stream");
        }
        streamIndex = rc;
        for (int i = 0; i < fmt.nb_streams(); i++) {
            if (i != streamIndex) {
                fmt.streams(i).discard(AVDISCARD_ALL); // the demuxer then skips audio and data packets
            }
        }
        AVStream st = fmt.streams(streamIndex);
        if ((st.disposition() & ATTACHED_PIC_DISPOSITION) != 0) {
            throw new VideoDecodeException(source, "av_find_best_stream", avutil.AVERROR_STREAM_NOT_FOUND(),
                    "the only video stream is an attached picture (cover art)");
        }
        AVCodecParameters par = st.codecpar();
        if (par.width() <= 0 || par.height() <= 0) {
            throw new VideoDecodeException(source, "avformat_find_stream_info", AVERROR_INVALIDDATA,
                    "the video stream has no frame size (" + par.width() + "x" + par.height() + "); truncated or corrupt file?");
        }
        timeBase = new Rational(st.time_base().num(), st.time_base().den());
        if (!timeBase.isPositive()) {
            throw new VideoDecodeException(source, "avformat_find_stream_info", AVERROR_INVALIDDATA,
                    "video stream has an invalid time base " + timeBase);
        }
        openCodec(st, par);
        packet = new Packet();
        frame = new Frame();
        held = new Frame();
        scaler = new Scaler();
        dstData = new PointerPointer<>(4);
        dstData.retainReference();
        dstLinesize = new IntPointer(4);
        dstLinesize.retainReference();
        rotation = readRotation(par);
        index = scan();
        // the deadline covers probing and indexing; a decode scan (below) is bounded by the file and the byte bound
        budget.endDeadline();
        fallbackStep = index.typicalFrameDuration();
        rewind(new Counters());
        if (index.reliable() && !index.ptsComplete()) {
            index = decodeScan(index, false);
        } else if (index.reliable() && index.ptsInDecodeOrder() && reorders(par)) {
            // B-frames, yet the packets' pts increase in decode order (pts = dts): the muxer wrote decode order as
            // presentation order, so sorting packets by pts names the wrong frames; count the decoder's output instead
            index = decodeScan(index, true);
        }
        info = buildInfo(fmt, st, par);
    }

    /** @return whether the decoder may output frames in another order than it receives them (B-frames) */
    private boolean reorders(AVCodecParameters par) {
        return par.video_delay() > 0 || codec.get().has_b_frames() > 0;
    }

    private void openCodec(AVStream st, AVCodecParameters par) throws VideoDecodeException {
        if (par.codec_id() == avcodec.AV_CODEC_ID_NONE) {
            throw new VideoDecodeException(source, "avformat_find_stream_info", AVERROR_INVALIDDATA,
                    "the video stream has no codec parameters (truncated or corrupt file?)");
        }
        AVCodec dec = avcodec_find_decoder(par.codec_id());
        if (dec == null || dec.isNull()) {
            throw new VideoDecodeException(source, "avcodec_find_decoder", AVERROR_DECODER_NOT_FOUND,
                    "the bundled FFmpeg has no decoder for codec " + codecName(par.codec_id()));
        }
        AVCodecContext ctx = avcodec_alloc_context3(dec);
        if (ctx == null || ctx.isNull()) {
            throw new VideoDecodeException(source, "avcodec_alloc_context3", Ffmpeg.AVERROR_ENOMEM, null);
        }
        codec = new CodecContext(ctx);
        int rc = avcodec_parameters_to_context(ctx, par);
        if (rc < 0) {
            throw new VideoDecodeException(source, "avcodec_parameters_to_context", rc, null);
        }
        ctx.pkt_timebase(st.time_base());
        ctx.thread_count(options.threads());
        ctx.thread_type(Ffmpeg.FF_THREAD_FRAME | Ffmpeg.FF_THREAD_SLICE);
        if (options.strictErrorDetection()) {
            ctx.err_recognition(ctx.err_recognition() | avcodec.AV_EF_CRCCHECK | avcodec.AV_EF_BITSTREAM | avcodec.AV_EF_BUFFER
                    | avcodec.AV_EF_EXPLODE);
        }
        rc = avcodec_open2(ctx, dec, (PointerPointer<?>) null);
        if (rc < 0) {
            throw new VideoDecodeException(source, "avcodec_open2", rc, "decoder " + dec.name().getString());
        }
    }

    private static String codecName(int id) {
        BytePointer p = avcodec_get_name(id);
        return p == null || p.isNull() ? "#" + id : p.getString();
    }

    /** @return clockwise degrees (0/90/180/270) that turn the coded picture upright, as ffmpeg's autorotate */
    private static int readRotation(AVCodecParameters par) {
        AVPacketSideData sd = av_packet_side_data_get(par.coded_side_data(), par.nb_coded_side_data(), AV_PKT_DATA_DISPLAYMATRIX);
        if (sd == null || sd.isNull() || sd.size() < 36 || sd.data() == null || sd.data().isNull()) {
            return 0;
        }
        double ccw = av_display_rotation_get(new IntPointer(sd.data()));
        if (Double.isNaN(ccw)) {
            return 0;
        }
        long cw = Math.round(-ccw / 90.0) * 90;
        return (int) (((cw % 360) + 360) % 360);
    }

    /** Reads every packet of the stream once; builds the frame index. */
    private PacketIndex scan() throws VideoDecodeException {
        AVFormatContext fmt = input.context();
        AVPacket pkt = packet.get();
        PacketIndex.Builder b = new PacketIndex.Builder();
        long nopts = AV_NOPTS_VALUE;
        int lastRc = 0;
        long reads = 0;
        while (true) {
            if (++reads > MAX_SCAN_PACKETS) {
                throw new VideoDecodeException(source, "av_read_frame", AVERROR_INVALIDDATA, "more than " + MAX_SCAN_PACKETS
                        + " packets while indexing; the demuxer does not reach the end of the file");
            }
            int rc = av_read_frame(fmt, pkt);
            if (rc < 0) {
                lastRc = rc;
                if (budgetStop(rc, "while indexing packet " + b.size()) != null) {
                    totals[4]++;
                } else if (rc != AVERROR_EOF) {
                    totals[4]++;
                    if (options.onCorruptFrame() == CorruptFramePolicy.FAIL) {
                        throw new VideoDecodeException(source, "av_read_frame", rc, "while indexing packet " + b.size());
                    }
                }
                break;
            }
            budget.progress();
            try {
                if (pkt.stream_index() != streamIndex || pkt.size() <= 0) {
                    continue;
                }
                long pts = pkt.pts() == nopts ? PacketIndex.NO_TS : pkt.pts();
                long dts = pkt.dts() == nopts ? PacketIndex.NO_TS : pkt.dts();
                if ((pkt.flags() & AV_PKT_FLAG_DISCARD) != 0) {
                    if ((pkt.flags() & AV_PKT_FLAG_KEY) != 0) {
                        b.addDiscardedKey(pts, dts);
                    }
                    continue;
                }
                b.add(pts, dts, pkt.duration(), (pkt.flags() & AV_PKT_FLAG_KEY) != 0);
            } finally {
                av_packet_unref(pkt);
            }
        }
        if (b.size() == 0) {
            throw new VideoDecodeException(source, "av_read_frame", lastRc < 0 ? lastRc : AVERROR_INVALIDDATA,
                    "the video stream has no packets");
        }
        return b.build();
    }

    private VideoInfo buildInfo(AVFormatContext fmt, AVStream st, AVCodecParameters par) {
        AVRational guess = av_guess_frame_rate(fmt, st, null);
        Rational fps = guess == null ? Rational.UNKNOWN : new Rational(guess.num(), guess.den());
        int n = index.size();
        boolean timed = index.reliable() || index.timesKnown();
        if (!fps.isPositive() && timed && n > 1) {
            fps = Rational.of((long) (n - 1) * timeBase.den(), (index.ts(n - 1) - index.firstTs()) * timeBase.num());
        }
        if (!fps.isPositive()) {
            fps = Rational.UNKNOWN;
        }
        long durationUs;
        if (timed) {
            durationUs = timeBase.toMicros(index.endTs() - index.firstTs());
        } else if (fps.isPositive()) {
            durationUs = Rational.of(fps.den(), fps.num()).toMicros(n);
        } else {
            durationUs = fmt.duration() == AV_NOPTS_VALUE ? 0 : fmt.duration();
        }
        long bitRate = par.bit_rate() > 0 ? par.bit_rate() : Math.max(0, fmt.bit_rate());
        BytePointer pix = av_get_pix_fmt_name(codec.get().pix_fmt());
        String container = fmt.iformat() == null || fmt.iformat().isNull() ? "?" : fmt.iformat().name().getString();
        return new VideoInfo(source, container, codecName(par.codec_id()), par.width(), par.height(), rotation, fps, n, durationUs,
                timeBase, pix == null || pix.isNull() ? "none" : pix.getString(), bitRate, timed && index.variableRate(),
                timed ? index.keyframes() : 0);
    }

    /** @return the probed facts (never null) */
    public VideoInfo info() {
        return info;
    }

    /** @return the stream's frame count */
    public int frameCount() {
        return index.size();
    }

    /**
     * @param i frame index
     * @return presentation time of frame {@code i} in microseconds, relative to frame 0
     */
    public long frameTimeUs(int i) {
        if (index.reliable() || index.timesKnown()) {
            return timeBase.toMicros(index.ts(i) - index.firstTs());
        }
        Rational fps = info == null ? Rational.UNKNOWN : info.frameRate();
        return fps.isPositive() ? Rational.of(fps.den(), fps.num()).toMicros(i) : i;
    }

    /** @return counters accumulated since open */
    public DecodeStats totals() {
        return stats(totals);
    }

    private static DecodeStats stats(long[] c) {
        return new DecodeStats(c[0], c[1], c[2], c[3], c[4], c[5], c[6]);
    }

    /** Per-call counters: packets, decoded, converted, corrupt, readErrors, missing, seeks. */
    private static final class Counters {
        final long[] c = new long[7];
    }

    /**
     * Decodes the given frames into consecutive RGB24 images at {@code dst}.
     *
     * @param frames distinct frame indices in ascending order, each in {@code [0, frameCount)}
     * @param dst    start of {@code frames.length * width * height * 3} writable bytes (borrowed)
     * @param width  output width (coded orientation)
     * @param height output height (coded orientation)
     * @return the counters of this call
     * @throws VideoDecodeException on a damaged frame under {@link CorruptFramePolicy#FAIL}, when no frame at all can be
     *                              decoded, or when the decoder makes no progress
     */
    public DecodeStats decode(int[] frames, BytePointer dst, int width, int height) throws VideoDecodeException {
        if (input == null) {
            throw new IllegalStateException("FfmpegDecoder is closed");
        }
        Counters c = new Counters();
        try (PointerScope scope = new PointerScope()) {
            if (index.reliable()) {
                decodeByTimestamp(frames, dst, width, height, c);
            } else {
                decodeSequential(frames, dst, width, height, c);
            }
        } finally {
            for (int i = 0; i < totals.length; i++) {
                totals[i] += c.c[i];
            }
        }
        return stats(c.c);
    }

    private void decodeByTimestamp(int[] frames, BytePointer dst, int w, int h, Counters c) throws VideoDecodeException {
        int m = frames.length;
        long[] target = new long[m];
        for (int i = 0; i < m; i++) {
            target[i] = index.ts(frames[i]);
        }
        int key = index.keyAtOrBefore(target[0]);
        boolean continueHere = !inputEof && ((lastTs != PacketIndex.NO_TS && lastTs < target[0] && (key < 0 || index.keyTs(key) <= lastTs))
                || (lastTs == PacketIndex.NO_TS && seekedKey == Math.max(key, 0)));
        if (!continueHere) {
            seekToKey(Math.max(key, 0), c);
        }
        boolean fresh = lastTs == PacketIndex.NO_TS;
        int retries = 0;
        int j = 0;
        while (j < m) {
            if (!nextFrame(c)) {
                break;
            }
            AVFrame f = frame.get();
            long ts = frameTs(f);
            if (fresh && !heldValid && ts > target[j] && retries < MAX_SEEK_RETRIES) {
                // the seek landed after the wanted frame: go back further
                retries++;
                int k = retries == 1 ? Math.max(index.keyAtOrBefore(target[j]) - 1, 0) : 0;
                av_frame_unref(f);
                seekToKey(k, c);
                if (k == 0 && retries == 1) {
                    retries = MAX_SEEK_RETRIES;
                }
                continue;
            }
            fresh = false;
            while (j < m && target[j] < ts) {
                // the frame shown at target[j] is the last one before it; with none, the first after it
                convert(heldValid ? held.get() : f, dst, j, w, h, c);
                c.c[5]++;
                j++;
            }
            if (j < m && target[j] == ts) {
                convert(f, dst, j, w, h, c);
                j++;
            }
            keep(f, ts);
        }
        fillTail(j, m, dst, w, h, c);
    }

    /**
     * Counted mode: frame {@code i} is the {@code i}-th frame out of the decoder. Starts from the last keyframe at or
     * before the first wanted frame when the index has keys (recognising the keyframe by its pts when it comes out,
     * and counting on from its ordinal), else from the start; goes on from the current position when that is cheaper.
     */
    private void decodeSequential(int[] frames, BytePointer dst, int w, int h, Counters c) throws VideoDecodeException {
        int m = frames.length;
        int k = keySeekBroken ? 0 : index.keyAtOrBeforeOrdinal(frames[0]);
        boolean positioned = !inputEof
                && (syncKey < 0 ? sequentialPos <= frames[0] && sequentialPos >= index.keyOrdinal(k) : syncKey == k);
        if (!positioned) {
            seekToKey(k, c);
        }
        int j = 0;
        int early = 0;
        while (j < m) {
            if (!nextFrame(c)) {
                if (syncKey >= 0) {
                    restartCounting(c);
                    continue;
                }
                break;
            }
            AVFrame f = frame.get();
            if (syncKey >= 0) {
                int found = (f.flags() & AV_FRAME_FLAG_KEY) != 0 ? keyWithPts(rawPts(f), syncKey) : -1;
                if (found >= 0) {
                    sequentialPos = index.keyOrdinal(found);
                    syncKey = -1;
                } else {
                    // a leading frame of an open GOP (or an unknown keyframe): not counted
                    boolean key = (f.flags() & AV_FRAME_FLAG_KEY) != 0;
                    av_frame_unref(f);
                    if (key || ++early > MAX_SYNC_FRAMES) {
                        restartCounting(c);
                    }
                    continue;
                }
            }
            long ord = sequentialPos++;
            while (j < m && frames[j] < ord) {
                convert(heldValid ? held.get() : f, dst, j, w, h, c);
                c.c[5]++;
                j++;
            }
            if (j < m && frames[j] == ord) {
                convert(f, dst, j, w, h, c);
                j++;
            }
            keep(f, ord);
        }
        fillTail(j, m, dst, w, h, c);
    }

    /** @return the keyframe at or before {@code k} that the decoder stamps with {@code pts}, or -1 */
    private int keyWithPts(long pts, int k) {
        for (int i = k; i >= 0; i--) {
            if (pts != PacketIndex.NO_TS && index.keyFramePts(i) == pts) {
                return i;
            }
        }
        return -1;
    }

    /** Counted mode: a keyframe was not found again after a seek, so this source counts from the start from now on. */
    private void restartCounting(Counters c) throws VideoDecodeException {
        keySeekBroken = true;
        seekToKey(0, c);
    }

    /** @return the pts the decoder put on a frame (its packet's), else the best-effort timestamp */
    private static long rawPts(AVFrame f) {
        return f.pts() != AV_NOPTS_VALUE ? f.pts() : f.best_effort_timestamp();
    }

    private void fillTail(int j, int m, BytePointer dst, int w, int h, Counters c) throws VideoDecodeException {
        if (j < m && !heldValid) {
            throw new VideoDecodeException(source, lastFunction, lastError, "no frame could be decoded (" + describe(c) + ")");
        }
        for (; j < m; j++) {
            convert(held.get(), dst, j, w, h, c);
            c.c[5]++;
        }
    }

    private static String describe(Counters c) {
        return "packets " + c.c[0] + ", decoded " + c.c[1] + ", corrupt " + c.c[3] + ", read errors " + c.c[4];
    }

    private void keep(AVFrame f, long ts) {
        AVFrame h = held.get();
        av_frame_unref(h);
        av_frame_move_ref(h, f);
        heldValid = true;
        lastTs = ts;
        seekedKey = -2;
    }

    /** @return the frame's presentation timestamp in the index's terms */
    private long frameTs(AVFrame f) {
        long nopts = AV_NOPTS_VALUE;
        long ts = f.best_effort_timestamp();
        if (ts == nopts) {
            ts = f.pts();
        }
        if (ts != nopts) {
            return ts;
        }
        // no timestamp at all (the last frames of a flush in some AVIs): the next one
        return lastTs == PacketIndex.NO_TS ? index.firstTs() : lastTs + fallbackStep;
    }

    /**
     * Pulls the next good frame into {@link #frame}; false at the end of the stream. Applies the corrupt-frame
     * policy and the no-progress bound.
     */
    private boolean nextFrame(Counters c) throws VideoDecodeException {
        AVCodecContext ctx = codec.get();
        AVFrame f = frame.get();
        AVPacket pkt = packet.get();
        AVFormatContext fmt = input.context();
        while (true) {
            if (drained) {
                return false;
            }
            int rc = avcodec_receive_frame(ctx, f);
            if (rc == 0) {
                c.c[1]++;
                noProgress = 0;
                int errs = f.decode_error_flags();
                if ((f.flags() & Ffmpeg.AV_FRAME_FLAG_CORRUPT) != 0 || errs != 0) {
                    c.c[3]++;
                    lastFunction = "avcodec_receive_frame";
                    lastError = AVERROR_INVALIDDATA;
                    long ts = frameTs(f);
                    av_frame_unref(f);
                    if (options.onCorruptFrame() == CorruptFramePolicy.FAIL) {
                        throw new VideoDecodeException(source, "avcodec_receive_frame", AVERROR_INVALIDDATA,
                                "decoded frame at pts " + ts + " is corrupt (decode_error_flags=" + errs + ")");
                    }
                    continue;
                }
                return true;
            }
            if (rc == AVERROR_EOF) {
                drained = true;
                return false;
            }
            if (rc != Ffmpeg.AVERROR_EAGAIN) {
                c.c[3]++;
                lastFunction = "avcodec_receive_frame";
                lastError = rc;
                if (options.onCorruptFrame() == CorruptFramePolicy.FAIL) {
                    throw new VideoDecodeException(source, "avcodec_receive_frame", rc, null);
                }
                bumpNoProgress(rc);
                continue;
            }
            if (inputEof) {
                // EAGAIN after the flush packet should not happen; do not spin on it
                drained = true;
                return false;
            }
            rc = av_read_frame(fmt, pkt);
            String stopped = rc < 0 ? budgetStop(rc, "while decoding") : null;
            if (rc < 0) {
                if (stopped != null) {
                    c.c[4]++;
                    lastFunction = "av_read_frame";
                    lastError = avutil.AVERROR_EXIT;
                } else if (rc != AVERROR_EOF) {
                    c.c[4]++;
                    lastFunction = "av_read_frame";
                    lastError = rc;
                    if (options.onCorruptFrame() == CorruptFramePolicy.FAIL) {
                        throw new VideoDecodeException(source, "av_read_frame", rc, null);
                    }
                }
                inputEof = true;
                avcodec_send_packet(ctx, (AVPacket) null); // enter draining: buffered frames come out, then EOF
                continue;
            }
            budget.progress();
            if (pkt.stream_index() != streamIndex) {
                av_packet_unref(pkt);
                continue;
            }
            c.c[0]++;
            rc = avcodec_send_packet(ctx, pkt);
            av_packet_unref(pkt);
            if (rc < 0 && rc != Ffmpeg.AVERROR_EAGAIN && rc != AVERROR_EOF) {
                c.c[3]++;
                lastFunction = "avcodec_send_packet";
                lastError = rc;
                if (options.onCorruptFrame() == CorruptFramePolicy.FAIL) {
                    throw new VideoDecodeException(source, "avcodec_send_packet", rc, null);
                }
            }
            bumpNoProgress(rc);
        }
    }

    private void bumpNoProgress(int rc) throws VideoDecodeException {
        if (++noProgress > options.maxNoProgressPackets()) {
            noProgress = 0;
            throw new VideoDecodeException(source, lastFunction, rc < 0 && rc != Ffmpeg.AVERROR_EAGAIN ? rc : lastError,
                    "no frame decoded after " + options.maxNoProgressPackets() + " consecutive packets (DecodeOptions.maxNoProgressPackets)");
        }
    }

    private void freeScratch() {
        if (scratch != null) {
            avutil.av_free(scratch);
            scratch.releaseReference();
            scratch = null;
            scratchBytes = 0;
        }
    }

    private void convert(AVFrame f, BytePointer dst, int slot, int w, int h, Counters c) throws VideoDecodeException {
        boolean full = f.color_range() == avutil.AVCOL_RANGE_JPEG;
        if (!scaler.configure(f.width(), f.height(), f.format(), full, f.colorspace(), w, h, AV_PIX_FMT_RGB24, true, f.colorspace(),
                options.interpolation().swsFlag())) {
            BytePointer name = av_get_pix_fmt_name(f.format());
            throw new VideoDecodeException(source, "sws_getCachedContext", Ffmpeg.AVERROR_EINVAL, "cannot convert "
                    + (name == null || name.isNull() ? "format " + f.format() : name.getString()) + " " + f.width() + "x"
                    + f.height() + " to rgb24 " + w + "x" + h);
        }
        // swscale's SIMD output paths may write a few bytes past the end of a row, so it never writes into the
        // caller's tensor directly (the last row of the last frame would overrun the tensor's allocation and corrupt
        // the heap): it converts into an owned buffer with 64-byte aligned rows and padding, then rows are copied.
        long row = (long) w * 3;
        long stride = (row + 63) & ~63L;
        long need = stride * h + 256;
        if (scratch == null || scratchBytes < need) {
            freeScratch();
            scratch = new BytePointer(avutil.av_malloc(need));
            if (scratch.isNull()) {
                scratch = null;
                throw new VideoDecodeException(source, "av_malloc", Ffmpeg.AVERROR_EINVAL, "cannot allocate " + need + " bytes");
            }
            scratch.retainReference();
            scratchBytes = need;
        }
        dstData.put(0, scratch);
        dstLinesize.put(0, (int) stride);
        int rc = sws_scale(scaler.get(), f.data(), f.linesize(), 0, f.height(), dstData, dstLinesize);
        if (rc <= 0) {
            throw new VideoDecodeException(source, "sws_scale", rc < 0 ? rc : Ffmpeg.AVERROR_EINVAL, "converted no rows");
        }
        long base = dst.position() + slot * row * h;
        for (int y = 0; y < h; y++) {
            org.bytedeco.javacpp.Pointer.memcpy(new BytePointer(dst).position(base + y * row),
                    new BytePointer(scratch).position(y * stride), row);
        }
        c.c[2]++;
    }

    private void seekToKey(int k, Counters c) throws VideoDecodeException {
        seekToKey(k, c, index);
    }

    private void seekToKey(int k, Counters c, PacketIndex index) throws VideoDecodeException {
        AVFormatContext fmt = input.context();
        boolean byTs = index.reliable() || index.countedKeys();
        long ts = byTs && index.keyframes() > 0 ? index.keySeekTs(k) : index.reliable() ? index.firstTs() : 0;
        int rc = byTs ? av_seek_frame(fmt, streamIndex, ts, AVSEEK_FLAG_BACKWARD) : -1;
        if (rc < 0 && k > 0 && index.countedKeys()) {
            keySeekBroken = true;
            seekToKey(0, c, index);
            return;
        }
        if (rc < 0) {
            rc = avformat_seek_file(fmt, streamIndex, Long.MIN_VALUE, ts, ts, 0);
        }
        if (rc < 0 && k == 0) {
            // streams without an index: rewind the byte position
            rc = av_seek_frame(fmt, -1, 0, AVSEEK_FLAG_BYTE);
        }
        if (rc < 0) {
            throw new VideoDecodeException(source, "av_seek_frame", rc, "to timestamp " + ts + " of stream " + streamIndex);
        }
        budget.takeTripped();
        budget.progress();
        avcodec_flush_buffers(codec.get());
        av_frame_unref(held.get());
        av_frame_unref(frame.get());
        heldValid = false;
        inputEof = false;
        drained = false;
        lastTs = PacketIndex.NO_TS;
        seekedKey = k;
        sequentialPos = 0;
        syncKey = k > 0 && index.countedKeys() ? k : -1;
        noProgress = 0;
        c.c[6]++;
    }

    /**
     * Indexes a stream by decoding it once (no conversion), for streams whose packet timestamps do not say which frame
     * is shown when. Two kinds:
     * <ul>
     * <li>Packets carry only decode-order timestamps: MPEG-4 Part 2 with B-frames in AVI (I/P packets have no pts),
     * including Xvid/DivX "packed B-frames" where one packet holds two frames and placeholder packets hold none, as in
     * HMDB51. The decoder's output timestamps (each frame stamped with the dts of the packet being fed, one reorder
     * delay late) are consistent and increasing, and are what later decodes match against. Keyframes are paired in
     * order: I-frames never swap places, so the k-th keyframe out of the decoder came from the k-th keyframe packet.
     * <li>{@code counted}: B-frames whose packets carry pts equal to their dts (a muxer that wrote decode order as
     * presentation order; seen in real H.264 MP4s). Sorting those pts gives the right clock but names the wrong frames
     * (frame i showed frame i-2), and the decoder's best-effort timestamps follow the broken pts or the dts depending on
     * its history, so they differ after a seek. Such streams (and those of the first kind whose output timestamps are
     * not increasing) get a counted index: frame i is the i-th output frame, as {@code ffmpeg -fps_mode passthrough}
     * numbers them. Each keyframe's ordinal and pts are recorded, so random access still seeks to a keyframe and
     * recognises it when it comes out. The presentation times are the sorted packet timestamps when the counts agree.
     * </ul>
     * Costs one decode of the stream per open, only for such streams.
     */
    private PacketIndex decodeScan(PacketIndex packets, boolean counted) throws VideoDecodeException {
        Counters c = new Counters();
        try {
            long[] ts = new long[Math.max(16, packets.size() + 8)];
            long[] keys = new long[16];
            long[] keyPts = new long[16];
            int[] keyOrd = new int[16];
            int n = 0;
            int k = 0;
            boolean monotonic = true;
            lastTs = PacketIndex.NO_TS;
            while (nextFrame(c)) {
                AVFrame f = frame.get();
                long t = frameTs(f);
                if (lastTs != PacketIndex.NO_TS && t <= lastTs) {
                    monotonic = false;
                }
                if (n == ts.length) {
                    ts = Arrays.copyOf(ts, n * 2);
                }
                if ((f.flags() & AV_FRAME_FLAG_KEY) != 0) {
                    if (k == keys.length) {
                        keys = Arrays.copyOf(keys, k * 2);
                        keyPts = Arrays.copyOf(keyPts, k * 2);
                        keyOrd = Arrays.copyOf(keyOrd, k * 2);
                    }
                    keys[k] = t;
                    keyPts[k] = rawPts(f);
                    keyOrd[k] = n;
                    k++;
                }
                ts[n++] = t;
                lastTs = t;
                av_frame_unref(f);
            }
            PacketIndex decoded;
            long[] seek = packets.keySeekTimestamps();
            long[] packetKeysInFileOrder = seek.clone();
            Arrays.sort(packetKeysInFileOrder); // dts order = file order for these streams
            if (n == 0) {
                decoded = packets; // nothing decodes: let the first request report it
            } else if (counted || !monotonic) {
                decoded = countedIndex(packets, n, k, keyOrd, keyPts);
            } else {
                int m = Math.min(k, packetKeysInFileOrder.length);
                if (m == 0 || keys[0] != ts[0]) {
                    // the first frame must be reachable by a seek: fall back to seeking to the start for everything
                    decoded = PacketIndex.fromDecoded(Arrays.copyOf(ts, n), new long[] {ts[0]},
                            new long[] {packetKeysInFileOrder.length > 0 ? packetKeysInFileOrder[0] : packets.firstTs()}, ts[n - 1] + fallbackStep);
                } else {
                    decoded = PacketIndex.fromDecoded(Arrays.copyOf(ts, n), Arrays.copyOf(keys, m),
                            Arrays.copyOf(packetKeysInFileOrder, m), ts[n - 1] + fallbackStep);
                }
            }
            seekToKey(0, c, decoded);
            return decoded;
        } finally {
            for (int i = 0; i < totals.length; i++) {
                totals[i] += c.c[i];
            }
        }
    }

    /**
     * The counted index of a decode scan. Entry 0 is where the scan started (the packet index's first keyframe). A
     * keyframe out of the decoder becomes a further entry when its pts names a keyframe packet and the packets' pts
     * increase in decode order (so they are unique, and a seek to that pts leads back to it); the pts is also what
     * recognises the keyframe when it comes out after a seek, which may land on an earlier entry.
     */
    private PacketIndex countedIndex(PacketIndex packets, int n, int k, int[] keyOrd, long[] keyPts) {
        int[] ord = new int[k + 1];
        long[] seekTs = new long[k + 1];
        long[] pts = new long[k + 1];
        int m = 1;
        ord[0] = 0;
        seekTs[0] = packets.keyframes() > 0 ? packets.keySeekTs(0) : packets.firstTs();
        pts[0] = k > 0 && keyOrd[0] == 0 ? keyPts[0] : PacketIndex.NO_TS;
        if (packets.ptsInDecodeOrder()) {
            for (int i = 0; i < k; i++) {
                int j = packets.keyWithTs(keyPts[i]);
                if (j < 0 || keyOrd[i] <= ord[m - 1]) {
                    continue;
                }
                ord[m] = keyOrd[i];
                // its pts, not its dts: with pts in decode order no later keyframe has a smaller pts or dts, so a
                // backward seek lands on this one whether the demuxer's index holds dts (mp4) or pts (Matroska)
                seekTs[m] = keyPts[i];
                pts[m] = keyPts[i];
                m++;
            }
        }
        long[] times = null;
        if (n == packets.size()) {
            times = new long[n];
            for (int i = 0; i < n; i++) {
                times[i] = packets.ts(i);
            }
        }
        return PacketIndex.counted(times, packets.endTs(), Arrays.copyOf(ord, m), Arrays.copyOf(seekTs, m), Arrays.copyOf(pts, m), n);
    }

    private void rewind(Counters c) throws VideoDecodeException {
        seekToKey(0, c);
        totals[6] += c.c[6];
    }

    /** Frees every native resource, in reverse order of acquisition. Idempotent. */
    @Override
    public void close() {
        freeScratch();
        if (dstLinesize != null) {
            dstLinesize.releaseReference();
            dstLinesize = null;
        }
        if (dstData != null) {
            dstData.releaseReference();
            dstData = null;
        }
        if (scaler != null) {
            scaler.close();
            scaler = null;
        }
        if (held != null) {
            held.close();
            held = null;
        }
        if (frame != null) {
            frame.close();
            frame = null;
        }
        if (packet != null) {
            packet.close();
            packet = null;
        }
        if (codec != null) {
            codec.close();
            codec = null;
        }
        if (budget != null) {
            budget.detach(); // the callback must not look at a context being freed
        }
        if (input != null) {
            input.close();
            input = null;
        }
        if (memory != null) {
            memory.close();
            memory = null;
        }
        if (budget != null) {
            budget.close();
            budget = null;
        }
    }
}
