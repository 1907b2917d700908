package org.dualdistill.video;

/**
 * How a {@link VideoSource} decodes. Immutable and thread-safe; build with {@link #builder()} or take
 * {@link #defaults()}.
 *
 * @param threads              decoder threads per source ({@code AVCodecContext.thread_count}); 1 (default) keeps all
 *                             work on the calling thread, which is what data loaders with one source per worker want;
 *                             0 lets FFmpeg pick one per core
 * @param onCorruptFrame       what to do with damaged frames (default {@link CorruptFramePolicy#SKIP}); always counted
 * @param maxNoProgressPackets how many video packets may be fed to the decoder in a row without a frame coming out
 *                             before the decode is abandoned with a {@link VideoDecodeException} (default 512); bounds the
 *                             work spent on streams that never decode
 * @param width                output width in pixels; 0 (default) keeps the source's display width, or follows the aspect
 *                             ratio when only {@code height} is given
 * @param height               output height in pixels; 0 (default) as for {@code width}
 * @param interpolation        the resize filter (default {@link Interpolation#BILINEAR})
 * @param applyRotation        whether frames are turned upright according to the display-matrix side data (default true,
 *                             as ffmpeg's {@code autorotate}); the output size then refers to the upright frame
 * @param strictErrorDetection whether the decoder should report, rather than conceal, bitstream errors it can detect
 *                             ({@code err_recognition = crccheck+bitstream+buffer+explode}); default false, since real
 *                             datasets have many harmless glitches that FFmpeg repairs
 * @param probeSizeBytes       how many bytes of packets FFmpeg may read to work out the streams while opening
 *                             ({@code AVFormatContext.probesize}); default 5,000,000, FFmpeg's own; at least 32
 * @param maxAnalyzeDurationUs how much stream time FFmpeg may read to work out the streams
 *                             ({@code max_analyze_duration}, microseconds); default 5,000,000, FFmpeg's own; 0 lets FFmpeg
 *                             pick
 * @param maxBytesWithoutPacket how many bytes may be read from the input after the last packet (or, while opening, from
 *                             the start) before the next packet comes; default 32 MiB (room for one uncompressed 4K frame). A demuxer that searches junk (a
 *                             valid file followed by a gigabyte of zeros) is interrupted there: the frames before the junk
 *                             are the video, and the interruption is counted as a read error (under
 *                             {@link CorruptFramePolicy#FAIL}, or while opening, it is a {@link VideoDecodeException}
 *                             naming this option). Deterministic: it counts bytes, not time
 * @param openTimeoutMs        wall-clock bound on probing and indexing the packets while opening, milliseconds; default
 *                             60,000, 0 = none (the one decode pass some streams need at open is not included).
 *                             A backstop against inputs no byte bound catches; exceeding it is a
 *                             {@link VideoDecodeException} naming this option
 */
public record DecodeOptions(int threads, CorruptFramePolicy onCorruptFrame, int maxNoProgressPackets, int width, int height,
        Interpolation interpolation, boolean applyRotation, boolean strictErrorDetection, long probeSizeBytes,
        long maxAnalyzeDurationUs, long maxBytesWithoutPacket, long openTimeoutMs) {

    private static final DecodeOptions DEFAULTS = builder().build();

    /** Validates every field. */
    public DecodeOptions {
        if (threads < 0 || threads > 64) {
            throw new IllegalArgumentException("threads must be in [0, 64] (0 = auto), got " + threads);
        }
        if (onCorruptFrame == null) {
            throw new IllegalArgumentException("onCorruptFrame must not be null");
        }
        if (maxNoProgressPackets < 1) {
            throw new IllegalArgumentException("maxNoProgressPackets must be >= 1, got " + maxNoProgressPackets);
        }
        if (width < 0 || height < 0 || width > 16384 || height > 16384) {
            throw new IllegalArgumentException("output size must be in [0, 16384] (0 = source), got " + width + "x" + height);
        }
        if (interpolation == null) {
            throw new IllegalArgumentException("interpolation must not be null");
        }
        if (probeSizeBytes < 32) {
            throw new IllegalArgumentException("probeSizeBytes must be >= 32, got " + probeSizeBytes);
        }
        if (maxAnalyzeDurationUs < 0) {
            throw new IllegalArgumentException("maxAnalyzeDurationUs must be >= 0, got " + maxAnalyzeDurationUs);
        }
        if (maxBytesWithoutPacket < 65536) {
            throw new IllegalArgumentException("maxBytesWithoutPacket must be >= 65536, got " + maxBytesWithoutPacket);
        }
        if (openTimeoutMs < 0) {
            throw new IllegalArgumentException("openTimeoutMs must be >= 0 (0 = none), got " + openTimeoutMs);
        }
    }

    /**
     * @return the default options (1 thread, SKIP, 512 packets, source size, bilinear, rotation applied, FFmpeg's probe
     *         size and analyze duration, 32 MiB without a packet, 60 s to open)
     */
    public static DecodeOptions defaults() {
        return DEFAULTS;
    }

    /** @return a builder initialized with the defaults */
    public static Builder builder() {
        return new Builder();
    }

    /** @return a builder initialized with these options */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.threads = threads;
        b.onCorruptFrame = onCorruptFrame;
        b.maxNoProgressPackets = maxNoProgressPackets;
        b.width = width;
        b.height = height;
        b.interpolation = interpolation;
        b.applyRotation = applyRotation;
        b.strictErrorDetection = strictErrorDetection;
        b.probeSizeBytes = probeSizeBytes;
        b.maxAnalyzeDurationUs = maxAnalyzeDurationUs;
        b.maxBytesWithoutPacket = maxBytesWithoutPacket;
        b.openTimeoutMs = openTimeoutMs;
        return b;
    }

    /** Builder for {@link DecodeOptions}; {@code opt*} methods set optional fields. Not thread-safe. */
    public static final class Builder {
        private int threads = 1;
        private CorruptFramePolicy onCorruptFrame = CorruptFramePolicy.SKIP;
        private int maxNoProgressPackets = 512;
        private int width;
        private int height;
        private Interpolation interpolation = Interpolation.BILINEAR;
        private boolean applyRotation = true;
        private boolean strictErrorDetection;
        private long probeSizeBytes = 5_000_000L;
        private long maxAnalyzeDurationUs = 5_000_000L;
        private long maxBytesWithoutPacket = 32L << 20;
        private long openTimeoutMs = 60_000L;

        private Builder() {
        }

        /**
         * @param bytes bytes of packets FFmpeg may read to work out the streams
         * @return this
         */
        public Builder optProbeSizeBytes(long bytes) {
            this.probeSizeBytes = bytes;
            return this;
        }

        /**
         * @param us stream time FFmpeg may read to work out the streams, 0 = FFmpeg's choice
         * @return this
         */
        public Builder optMaxAnalyzeDurationUs(long us) {
            this.maxAnalyzeDurationUs = us;
            return this;
        }

        /**
         * @param bytes bytes that may be read without a packet coming out before the read is interrupted
         * @return this
         */
        public Builder optMaxBytesWithoutPacket(long bytes) {
            this.maxBytesWithoutPacket = bytes;
            return this;
        }

        /**
         * @param ms wall-clock bound on opening, 0 = none
         * @return this
         */
        public Builder optOpenTimeoutMs(long ms) {
            this.openTimeoutMs = ms;
            return this;
        }

        /**
         * @param threads decoder threads, 0 = auto
         * @return this
         */
        public Builder optThreads(int threads) {
            this.threads = threads;
            return this;
        }

        /**
         * @param policy what to do with damaged frames
         * @return this
         */
        public Builder optOnCorruptFrame(CorruptFramePolicy policy) {
            this.onCorruptFrame = policy;
            return this;
        }

        /**
         * @param packets packets without output before giving up
         * @return this
         */
        public Builder optMaxNoProgressPackets(int packets) {
            this.maxNoProgressPackets = packets;
            return this;
        }

        /**
         * Sets the output size (of the upright frame when rotation is applied).
         *
         * @param width  pixels, 0 = from the source / aspect ratio
         * @param height pixels, 0 = from the source / aspect ratio
         * @return this
         */
        public Builder optSize(int width, int height) {
            this.width = width;
            this.height = height;
            return this;
        }

        /**
         * @param interpolation the resize filter
         * @return this
         */
        public Builder optInterpolation(Interpolation interpolation) {
            this.interpolation = interpolation;
            return this;
        }

        /**
         * @param apply whether to turn frames upright from the display matrix
         * @return this
         */
        public Builder optApplyRotation(boolean apply) {
            this.applyRotation = apply;
            return this;
        }

        /**
         * @param strict whether the decoder reports instead of conceals detectable bitstream errors
         * @return this
         */
        public Builder optStrictErrorDetection(boolean strict) {
            this.strictErrorDetection = strict;
            return this;
        }

        /**
         * @return the options
         * @throws IllegalArgumentException if a field is out of range
         */
        public DecodeOptions build() {
            return new DecodeOptions(threads, onCorruptFrame, maxNoProgressPackets, width, height, interpolation, applyRotation,
                    strictErrorDetection, probeSizeBytes, maxAnalyzeDurationUs, maxBytesWithoutPacket, openTimeoutMs);
        }
    }
}
