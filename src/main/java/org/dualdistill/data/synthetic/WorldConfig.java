package org.dualdistill.data.synthetic;

import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Settings of a {@link SyntheticWorld}. The defaults are the design of docs/benchmark-world.md: 32x32 pixels, 16-20
 * frames at 15 fps, MPEG-4 in AVI; a source of 14 classes x (144 train + 16 test) videos and a target of 8 classes
 * (4 local, 4 relation) x (40 train + 10 validation + 30 test) videos. Immutable and thread-safe; build with
 * {@link #builder()}.
 *
 * @param width                   frame width in pixels (24..512)
 * @param height                  frame height in pixels (24..512)
 * @param minFrames               shortest video in frames (&gt;= 8)
 * @param maxFrames               longest video (&gt;= minFrames, &lt;= 500)
 * @param frameRate               frames per second written in the container
 * @param quality                 MPEG-4 qscale (1 best .. 31)
 * @param seed                    master seed: equal seeds and settings give byte-identical worlds
 * @param noise                   per-pixel Gaussian noise, in 8-bit levels
 * @param jitter                  per-frame camera shake (standard deviation, clipped at 3 sigma), in pixels (0..0.5)
 * @param sourceClasses           the source's classes in label order (distinct, &gt;= 2)
 * @param sourceTrain             source videos per class tagged 1 (train)
 * @param sourceTest              source videos per class tagged 2 (test)
 * @param targetClasses           the target's classes in label order (distinct, &gt;= 2)
 * @param targetTrain             target videos per class tagged 1 (train)
 * @param targetValidation        target videos per class tagged 0 (validation)
 * @param targetTest              target videos per class tagged 2 (test)
 * @param threads                 videos rendered and encoded in parallel (the output does not depend on it)
 */
public record WorldConfig(int width, int height, int minFrames, int maxFrames, int frameRate, int quality, long seed, double noise,
        double jitter, List<WorldClass> sourceClasses, int sourceTrain, int sourceTest, List<WorldClass> targetClasses, int targetTrain,
        int targetValidation, int targetTest, int threads) {

    /** The target's classes of the design: 4 local, then 4 relation. */
    public static final List<WorldClass> TARGET_CLASSES = List.of(WorldClass.MOVE_LEFT, WorldClass.MOVE_RIGHT, WorldClass.ROTATE_CW,
            WorldClass.ROTATE_CCW, WorldClass.IN_PHASE, WorldClass.ANTI_PHASE, WorldClass.LEFT_LEADS, WorldClass.RIGHT_LEADS);
    /** The source's classes of the design: the target's 8 and 6 others (every {@link WorldClass}). */
    public static final List<WorldClass> SOURCE_CLASSES = List.of(WorldClass.values());

    /** Validates every field. */
    public WorldConfig {
        check(width >= 24 && height >= 24 && width <= 512 && height <= 512, "size must be in [24, 512], got " + width + "x" + height);
        check(minFrames >= 8 && maxFrames >= minFrames && maxFrames <= 500, "frames must satisfy 8 <= min <= max <= 500, got "
                + minFrames + ".." + maxFrames);
        check(frameRate >= 1 && frameRate <= 240, "frameRate must be in [1, 240], got " + frameRate);
        check(quality >= 1 && quality <= 31, "quality must be in [1, 31], got " + quality);
        check(noise >= 0 && noise <= 64, "noise must be in [0, 64], got " + noise);
        check(jitter >= 0 && jitter <= 0.5, "jitter must be in [0, 0.5] (shakes are clipped at 3 sigma, and more than 1.5 pixels "
                + "could carry a relation object across the midline), got " + jitter);
        sourceClasses = classes(sourceClasses, "sourceClasses");
        targetClasses = classes(targetClasses, "targetClasses");
        check(sourceTrain >= 1 && sourceTest >= 0 && sourceTrain + sourceTest <= 100_000, "source needs train >= 1, test >= 0, got "
                + sourceTrain + ", " + sourceTest);
        check(targetTrain >= 1 && targetValidation >= 0 && targetTest >= 1 && targetTrain + targetValidation + targetTest <= 100_000,
                "target needs train >= 1, validation >= 0, test >= 1, got " + targetTrain + ", " + targetValidation + ", " + targetTest);
        check(threads >= 1 && threads <= 256, "threads must be in [1, 256], got " + threads);
    }

    private static List<WorldClass> classes(List<WorldClass> c, String what) {
        check(c != null && c.stream().allMatch(java.util.Objects::nonNull), what + " must not be null");
        List<WorldClass> copy = List.copyOf(c);
        check(copy.size() >= 2, what + " needs at least 2 classes, got " + copy.size());
        check(Set.copyOf(copy).size() == copy.size(), what + " must be distinct, got " + copy);
        return copy;
    }

    private static void check(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }

    /** @return the design's defaults */
    public static WorldConfig defaults() {
        return builder().build();
    }

    /** @return a builder with the design's defaults */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * @param domain a stage
     * @return that stage's classes in label order
     */
    public List<WorldClass> classes(WorldDomain domain) {
        return domain == WorldDomain.SOURCE ? sourceClasses : targetClasses;
    }

    /**
     * @param domain a stage
     * @return videos per class of that stage
     */
    public int videosPerClass(WorldDomain domain) {
        return domain == WorldDomain.SOURCE ? sourceTrain + sourceTest : targetTrain + targetValidation + targetTest;
    }

    /**
     * @return one line that names every setting that changes the files (not {@link #threads()}); equal stamps mean
     *         equal worlds, so a caller can skip regeneration when {@code world.json} holds the same stamp
     */
    public String stamp() {
        return String.format(Locale.ROOT, "world v1 %dx%d frames=%d-%d fps=%d q=%d seed=%d noise=%s jitter=%s source=%s x(%d+%d) target=%s x(%d+%d+%d)",
                width, height, minFrames, maxFrames, frameRate, quality, seed, noise, jitter, names(sourceClasses), sourceTrain, sourceTest,
                names(targetClasses), targetTrain, targetValidation, targetTest);
    }

    private static String names(List<WorldClass> c) {
        return String.join(",", c.stream().map(WorldClass::folderName).toList());
    }

    /** Builder for {@link WorldConfig}; {@code opt*} methods set optional fields. Not thread-safe. */
    public static final class Builder {
        private int width = 32;
        private int height = 32;
        private int minFrames = 16;
        private int maxFrames = 20;
        private int frameRate = 15;
        private int quality = 3;
        private long seed;
        private double noise = 2;
        private double jitter = 0.3;
        private List<WorldClass> sourceClasses = SOURCE_CLASSES;
        private int sourceTrain = 144;
        private int sourceTest = 16;
        private List<WorldClass> targetClasses = TARGET_CLASSES;
        private int targetTrain = 40;
        private int targetValidation = 10;
        private int targetTest = 30;
        private int threads = 1;

        private Builder() {
        }

        /** @param width pixels @param height pixels @return this */
        public Builder optSize(int width, int height) {
            this.width = width;
            this.height = height;
            return this;
        }

        /** @param min shortest video in frames @param max longest @return this */
        public Builder optFrames(int min, int max) {
            this.minFrames = min;
            this.maxFrames = max;
            return this;
        }

        /** @param fps frames per second @return this */
        public Builder optFrameRate(int fps) {
            this.frameRate = fps;
            return this;
        }

        /** @param qscale MPEG-4 qscale 1..31 @return this */
        public Builder optQuality(int qscale) {
            this.quality = qscale;
            return this;
        }

        /** @param seed master seed @return this */
        public Builder optSeed(long seed) {
            this.seed = seed;
            return this;
        }

        /** @param sigma pixel noise in 8-bit levels @return this */
        public Builder optNoise(double sigma) {
            this.noise = sigma;
            return this;
        }

        /** @param sigma camera shake in pixels @return this */
        public Builder optJitter(double sigma) {
            this.jitter = sigma;
            return this;
        }

        /** @param classes the source's classes in label order @param train per class @param test per class @return this */
        public Builder optSource(List<WorldClass> classes, int train, int test) {
            this.sourceClasses = classes;
            this.sourceTrain = train;
            this.sourceTest = test;
            return this;
        }

        /**
         * @param classes    the target's classes in label order
         * @param train      per class, tag 1
         * @param validation per class, tag 0
         * @param test       per class, tag 2
         * @return this
         */
        public Builder optTarget(List<WorldClass> classes, int train, int validation, int test) {
            this.targetClasses = classes;
            this.targetTrain = train;
            this.targetValidation = validation;
            this.targetTest = test;
            return this;
        }

        /** @param threads videos made in parallel @return this */
        public Builder optThreads(int threads) {
            this.threads = threads;
            return this;
        }

        /**
         * @return the configuration
         * @throws IllegalArgumentException if a field is out of range
         */
        public WorldConfig build() {
            return new WorldConfig(width, height, minFrames, maxFrames, frameRate, quality, seed, noise, jitter, sourceClasses, sourceTrain,
                    sourceTest, targetClasses, targetTrain, targetValidation, targetTest, threads);
        }
    }
}
