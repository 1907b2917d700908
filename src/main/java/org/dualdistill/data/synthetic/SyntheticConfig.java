package org.dualdistill.data.synthetic;

/**
 * Settings of a {@link SyntheticActionDataset}. The defaults make the project's embedded demo dataset: 8 classes x 24
 * videos of 64x64 pixels, 16-32 frames at 15 fps, MPEG-4 in AVI like HMDB51, three 70/30 splits, every distractor on;
 * it is written in a few seconds on one core. Immutable and thread-safe; build with {@link #builder()}.
 *
 * @param classes          the classes in label order (2..10 distinct; by default the first k of {@link ActionClass},
 *                         an even k keeps the pairs whole)
 * @param videosPerClass   videos per class (&gt;= 2)
 * @param width            frame width in pixels (16..1024)
 * @param height           frame height in pixels (16..1024)
 * @param minFrames        shortest video in frames (&gt;= 4)
 * @param maxFrames        longest video in frames (&gt;= minFrames, &lt;= 1000)
 * @param frameRate        frames per second written in the container
 * @param format           codec and container
 * @param quality          qscale for MPEG-4 and MJPEG (1 best .. 31), ignored for H.264
 * @param seed             master seed: equal seeds and settings give byte-identical datasets
 * @param splits           number of train/test splits written (1..3, HMDB51 has 3)
 * @param trainFraction    fraction of each class tagged 1 (train) in every split
 * @param testFraction     fraction tagged 2 (test); the rest is tagged 0 (unused)
 * @param noise            standard deviation of per-pixel Gaussian noise, in 8-bit levels (0 = none)
 * @param jitter           standard deviation of per-frame camera shake, in pixels (0 = none)
 * @param movingBackground whether textured backgrounds drift (in a random direction, independent of the class)
 * @param distractors      maximum number of small distractor objects moving in random directions (0..4)
 * @param threads          videos rendered and encoded in parallel (output does not depend on it)
 */
public record SyntheticConfig(java.util.List<ActionClass> classes, int videosPerClass, int width, int height, int minFrames, int maxFrames, int frameRate,
        Format format, int quality, long seed, int splits, double trainFraction, double testFraction, double noise, double jitter,
        boolean movingBackground, int distractors, int threads) {

    /** Codec and container of the written videos. */
    public enum Format {
        /** MPEG-4 Part 2 (XVID tag) in AVI, as HMDB51. */
        MPEG4_AVI(".avi"),
        /** H.264 (openh264) in MP4. */
        H264_MP4(".mp4"),
        /** Motion JPEG in AVI. */
        MJPEG_AVI(".avi");

        private final String extension;

        Format(String extension) {
            this.extension = extension;
        }

        /**
         * Builds the value.
         *
         * @return the file extension, with the dot
         */
        public String extension() {
            return extension;
        }
    }

    /** Validates every field. */
    public SyntheticConfig {
        check(classes != null && classes.stream().allMatch(java.util.Objects::nonNull), "classes must not be null");
        classes = java.util.List.copyOf(classes);
        check(classes.size() >= 2 && classes.size() <= ActionClass.values().length, "numClasses must be in [2, "
                + ActionClass.values().length + "], got " + classes.size());
        check(java.util.Set.copyOf(classes).size() == classes.size(), "classes must be distinct, got " + classes);
        check(videosPerClass >= 2 && videosPerClass <= 100_000, "videosPerClass must be in [2, 100000], got " + videosPerClass);
        check(width >= 16 && height >= 16 && width <= 1024 && height <= 1024, "size must be in [16, 1024], got " + width + "x" + height);
        check(minFrames >= 4 && maxFrames >= minFrames && maxFrames <= 1000, "frames must satisfy 4 <= min <= max <= 1000, got "
                + minFrames + ".." + maxFrames);
        check(frameRate >= 1 && frameRate <= 240, "frameRate must be in [1, 240], got " + frameRate);
        check(format != null, "format must not be null");
        check(quality >= 1 && quality <= 31, "quality must be in [1, 31], got " + quality);
        check(splits >= 1 && splits <= 3, "splits must be in [1, 3], got " + splits);
        check(trainFraction > 0 && testFraction > 0 && trainFraction + testFraction <= 1.0 + 1e-9,
                "need 0 < trainFraction, 0 < testFraction, sum <= 1; got " + trainFraction + ", " + testFraction);
        check(noise >= 0 && noise <= 64, "noise must be in [0, 64], got " + noise);
        check(jitter >= 0 && jitter <= 16, "jitter must be in [0, 16], got " + jitter);
        check(distractors >= 0 && distractors <= 4, "distractors must be in [0, 4], got " + distractors);
        check(threads >= 1 && threads <= 256, "threads must be in [1, 256], got " + threads);
    }

    private static void check(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }

    /**
     * Builds the value.
     *
     * @return the defaults (the embedded demo dataset)
     */
    public static SyntheticConfig defaults() {
        return builder().build();
    }

    /**
     * Builds the value.
     *
     * @return a builder with the defaults
     */
    public static Builder builder() {
        return new Builder();
    }

    /** @return the number of classes */
    public int numClasses() {
        return classes.size();
    }

    /**
     * @param c a class of this dataset
     * @return its label (position in {@link #classes()})
     * @throws IllegalArgumentException if the dataset does not have it
     */
    public int labelOf(ActionClass c) {
        int i = classes.indexOf(c);
        if (i < 0) {
            throw new IllegalArgumentException(c + " is not one of the classes " + classes);
        }
        return i;
    }

    /** Builder for {@link SyntheticConfig}; {@code opt*} methods set optional fields. Not thread-safe. */
    public static final class Builder {
        private java.util.List<ActionClass> classes = first(8);
        private int videosPerClass = 24;
        private int width = 64;
        private int height = 64;
        private int minFrames = 16;
        private int maxFrames = 32;
        private int frameRate = 15;
        private Format format = Format.MPEG4_AVI;
        private int quality = 3;
        private long seed;
        private int splits = 3;
        private double trainFraction = 0.7;
        private double testFraction = 0.3;
        private double noise = 6;
        private double jitter = 0.7;
        private boolean movingBackground = true;
        private int distractors = 2;
        private int threads = 1;

        private Builder() {
        }

        /**
         * Sets {@code n}.
         *
         * @param n classes
         * @return this
         */
        public Builder optNumClasses(int n) {
            if (n < 2 || n > ActionClass.values().length) {
                throw new IllegalArgumentException("numClasses must be in [2, " + ActionClass.values().length + "], got " + n);
            }
            this.classes = first(n);
            return this;
        }

        /**
         * Chooses the classes and their label order, e.g. the four translations for an easier dataset.
         *
         * @param selection distinct classes (2..10)
         * @return this
         */
        public Builder optClasses(ActionClass... selection) {
            this.classes = java.util.List.of(selection);
            return this;
        }

        private static java.util.List<ActionClass> first(int n) {
            return java.util.List.of(ActionClass.values()).subList(0, n);
        }

        /**
         * Sets {@code n}.
         *
         * @param n videos per class
         * @return this
         */
        public Builder optVideosPerClass(int n) {
            this.videosPerClass = n;
            return this;
        }

        /**
         * Sets {@code width}.
         *
         * @param width pixels
         * @param height pixels
         * @return this
         */
        public Builder optSize(int width, int height) {
            this.width = width;
            this.height = height;
            return this;
        }

        /**
         * Sets {@code min}.
         *
         * @param min shortest video
         * @param max longest video
         * @return this
         */
        public Builder optFrames(int min, int max) {
            this.minFrames = min;
            this.maxFrames = max;
            return this;
        }

        /**
         * Sets {@code fps}.
         *
         * @param fps frames per second
         * @return this
         */
        public Builder optFrameRate(int fps) {
            this.frameRate = fps;
            return this;
        }

        /**
         * Sets {@code format}.
         *
         * @param format codec and container
         * @return this
         */
        public Builder optFormat(Format format) {
            this.format = format;
            return this;
        }

        /**
         * Sets {@code qscale}.
         *
         * @param qscale 1..31
         * @return this
         */
        public Builder optQuality(int qscale) {
            this.quality = qscale;
            return this;
        }

        /**
         * Sets {@code seed}.
         *
         * @param seed master seed
         * @return this
         */
        public Builder optSeed(long seed) {
            this.seed = seed;
            return this;
        }

        /**
         * Sets {@code splits}.
         *
         * @param splits 1..3
         * @return this
         */
        public Builder optSplits(int splits) {
            this.splits = splits;
            return this;
        }

        /**
         * Sets {@code train}.
         *
         * @param train fraction tagged 1
         * @param test fraction tagged 2
         * @return this
         */
        public Builder optFractions(double train, double test) {
            this.trainFraction = train;
            this.testFraction = test;
            return this;
        }

        /**
         * Sets {@code sigma}.
         *
         * @param sigma pixel noise in 8-bit levels
         * @return this
         */
        public Builder optNoise(double sigma) {
            this.noise = sigma;
            return this;
        }

        /**
         * Sets {@code sigma}.
         *
         * @param sigma camera shake in pixels
         * @return this
         */
        public Builder optJitter(double sigma) {
            this.jitter = sigma;
            return this;
        }

        /**
         * Sets {@code moving}.
         *
         * @param moving whether backgrounds drift
         * @return this
         */
        public Builder optMovingBackground(boolean moving) {
            this.movingBackground = moving;
            return this;
        }

        /**
         * Sets {@code max}.
         *
         * @param max distractor objects per video
         * @return this
         */
        public Builder optDistractors(int max) {
            this.distractors = max;
            return this;
        }

        /**
         * Sets {@code threads}.
         *
         * @param threads videos made in parallel
         * @return this
         */
        public Builder optThreads(int threads) {
            this.threads = threads;
            return this;
        }

        /**
         * Builds the value.
         *
         * @return the configuration
         * @throws IllegalArgumentException if a field is out of range
         */
        public SyntheticConfig build() {
            return new SyntheticConfig(classes, videosPerClass, width, height, minFrames, maxFrames, frameRate, format, quality, seed,
                    splits, trainFraction, testFraction, noise, jitter, movingBackground, distractors, threads);
        }
    }
}
