package org.dualdistill.video;

/**
 * How {@link VideoEncoder} writes a video. Immutable and thread-safe; build with {@link #builder(VideoCodec, int, int)}.
 * The container follows the file extension ({@code .avi}, {@code .mp4}, {@code .mkv}, {@code .webm}, {@code .mov}).
 *
 * @param codec             the codec
 * @param width             frame width in pixels (any size &gt;= 2; odd sizes are allowed)
 * @param height            frame height in pixels
 * @param frameRate         nominal frame rate (default 25/1); sets the time base unless {@code variableFrameRate}
 * @param gopSize           frames between keyframes (default 12)
 * @param maxBFrames        B-frames between references (default 0; MPEG4 supports them, H264 via openh264 does not)
 * @param quality           codec-specific constant quality: qscale 1-31 for MPEG4 and MJPEG (lower is better, default 4),
 *                          CRF 0-63 for VP9 (default 32); ignored by H264 and FFV1
 * @param bitRate           target bits per second for H264 (0 = derived from size and frame rate); ignored by the others
 * @param rotation          clockwise degrees (0, 90, 180, 270) a player should turn the frames, stored as display-matrix side
 *                          data (MP4/MOV/MKV only); 0 writes none
 * @param variableFrameRate whether frames carry their own timestamps ({@link VideoEncoder#writeFrame(byte[], long)}) in a
 *                          millisecond time base instead of one tick per frame (not in AVI)
 * @param threads           encoder threads (default 1, which also keeps the output byte-for-byte deterministic)
 */
public record EncoderOptions(VideoCodec codec, int width, int height, Rational frameRate, int gopSize, int maxBFrames, int quality,
        long bitRate, int rotation, boolean variableFrameRate, int threads) {

    /** Validates every field. */
    public EncoderOptions {
        if (codec == null) {
            throw new IllegalArgumentException("codec must not be null");
        }
        if (width < 2 || height < 2 || width > 8192 || height > 8192) {
            throw new IllegalArgumentException("frame size must be in [2, 8192], got " + width + "x" + height);
        }
        if (frameRate == null || !frameRate.isPositive() || frameRate.num() > 65535 || frameRate.den() > 65535) {
            throw new IllegalArgumentException("frameRate must be positive with terms <= 65535, got " + frameRate);
        }
        if (gopSize < 1) {
            throw new IllegalArgumentException("gopSize must be >= 1, got " + gopSize);
        }
        if (maxBFrames < 0 || maxBFrames > 4) {
            throw new IllegalArgumentException("maxBFrames must be in [0, 4], got " + maxBFrames);
        }
        if (quality < 0 || quality > 63) {
            throw new IllegalArgumentException("quality must be in [0, 63], got " + quality);
        }
        if (bitRate < 0) {
            throw new IllegalArgumentException("bitRate must be >= 0, got " + bitRate);
        }
        if (rotation % 90 != 0 || rotation < 0 || rotation >= 360) {
            throw new IllegalArgumentException("rotation must be 0, 90, 180 or 270, got " + rotation);
        }
        if (threads < 1 || threads > 64) {
            throw new IllegalArgumentException("threads must be in [1, 64], got " + threads);
        }
    }

    /**
     * @param codec  the codec
     * @param width  frame width
     * @param height frame height
     * @return a builder with the defaults
     */
    public static Builder builder(VideoCodec codec, int width, int height) {
        return new Builder(codec, width, height);
    }

    /** Builder for {@link EncoderOptions}; not thread-safe. */
    public static final class Builder {
        private final VideoCodec codec;
        private final int width;
        private final int height;
        private Rational frameRate = new Rational(25, 1);
        private int gopSize = 12;
        private int maxBFrames;
        private int quality = -1;
        private long bitRate;
        private int rotation;
        private boolean variableFrameRate;
        private int threads = 1;

        private Builder(VideoCodec codec, int width, int height) {
            this.codec = codec;
            this.width = width;
            this.height = height;
        }

        /**
         * Sets {@code fps}.
         *
         * @param fps frames per second
         * @return this
         */
        public Builder optFrameRate(Rational fps) {
            this.frameRate = fps;
            return this;
        }

        /**
         * Sets {@code fps}.
         *
         * @param fps whole frames per second
         * @return this
         */
        public Builder optFrameRate(int fps) {
            this.frameRate = new Rational(fps, 1);
            return this;
        }

        /**
         * Sets {@code frames}.
         *
         * @param frames frames between keyframes
         * @return this
         */
        public Builder optGopSize(int frames) {
            this.gopSize = frames;
            return this;
        }

        /**
         * Sets {@code frames}.
         *
         * @param frames B-frames between references
         * @return this
         */
        public Builder optMaxBFrames(int frames) {
            this.maxBFrames = frames;
            return this;
        }

        /**
         * Sets {@code quality}.
         *
         * @param quality qscale (MPEG4, MJPEG) or CRF (VP9)
         * @return this
         */
        public Builder optQuality(int quality) {
            this.quality = quality;
            return this;
        }

        /**
         * Sets {@code bitsPerSecond}.
         *
         * @param bitsPerSecond target bit rate (H264)
         * @return this
         */
        public Builder optBitRate(long bitsPerSecond) {
            this.bitRate = bitsPerSecond;
            return this;
        }

        /**
         * Sets {@code degreesClockwise}.
         *
         * @param degreesClockwise display rotation metadata
         * @return this
         */
        public Builder optRotation(int degreesClockwise) {
            this.rotation = degreesClockwise;
            return this;
        }

        /**
         * Sets {@code vfr}.
         *
         * @param vfr whether frames carry explicit timestamps
         * @return this
         */
        public Builder optVariableFrameRate(boolean vfr) {
            this.variableFrameRate = vfr;
            return this;
        }

        /**
         * Sets {@code threads}.
         *
         * @param threads encoder threads
         * @return this
         */
        public Builder optThreads(int threads) {
            this.threads = threads;
            return this;
        }

        /**
         * Builds the value.
         *
         * @return the options
         * @throws IllegalArgumentException if a field is out of range
         */
        public EncoderOptions build() {
            int q = quality >= 0 ? quality : codec == VideoCodec.VP9 ? 32 : 4;
            return new EncoderOptions(codec, width, height, frameRate, gopSize, maxBFrames, q, bitRate, rotation, variableFrameRate,
                    threads);
        }
    }
}
