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
 */
public record DecodeOptions(int threads, CorruptFramePolicy onCorruptFrame, int maxNoProgressPackets, int width, int height,
        Interpolation interpolation, boolean applyRotation, boolean strictErrorDetection) {

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
    }

    /** @return the default options (1 thread, SKIP, 512 packets, source size, bilinear, rotation applied) */
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

        private Builder() {
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
                    strictErrorDetection);
        }
    }
}
