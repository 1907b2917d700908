package org.dualdistill.export;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

import org.dualdistill.model.x3d.X3d;

/**
 * What a deployed student needs besides its weights: the architecture to rebuild it exactly, the class names in
 * label order, the input geometry and normalization it was trained with (so inference preprocesses the way the
 * test-time views of training did), free-form metrics, provenance (creation time, dualdistill version) and the
 * SHA-256 of the weights file. {@link StudentExport} writes it as {@code model.json} next to
 * {@code model.safetensors}.
 *
 * <p>Immutable and thread-safe (arrays and collections are copied in and out). Build with
 * {@link #builder(X3d.Config, List)}.
 *
 * @param formatVersion      the card format ({@link #FORMAT_VERSION} when written by this version)
 * @param architecture       the student's X3D configuration
 * @param classNames         one name per output class, in label order
 * @param input              clip length, frame stride, crop and short-side resize
 * @param mean               per-channel (RGB) mean subtracted after scaling pixels to {@code [0, 1]}
 * @param std                per-channel standard deviation, all &gt; 0
 * @param metrics            name -> value, e.g. {@code top1}; may be empty
 * @param created            when the card was made
 * @param dualdistillVersion the library version that made it
 * @param weightsSha256      lower-case hex SHA-256 of {@code model.safetensors}; null until written
 */
public record ModelCard(int formatVersion, X3d.Config architecture, List<String> classNames, Input input, float[] mean,
                        float[] std, Map<String, Double> metrics, Instant created, String dualdistillVersion,
                        String weightsSha256) {

    /** The card format this version writes and reads. */
    public static final int FORMAT_VERSION = 1;

    /** pytorchvideo's and PySlowFast's Kinetics normalization, which the training views use by default. */
    private static final float[] KINETICS_MEAN = {0.45f, 0.45f, 0.45f};
    private static final float[] KINETICS_STD = {0.225f, 0.225f, 0.225f};

    /**
     * The input geometry of the test-time views (see {@code ClipSampler.uniform} and {@code VideoTransform}).
     *
     * @param clipLength  T, frames per clip
     * @param frameStride frames between two sampled frames, at the video's own rate
     * @param crop        H = W of the model input, pixels
     * @param shortSide   the short side frames are scaled to before the crop (0 = crop from the unscaled frame)
     */
    public record Input(int clipLength, int frameStride, int crop, int shortSide) {
        /** Validates. */
        public Input {
            if (clipLength < 1 || frameStride < 1 || crop < 32 || shortSide < 0 || (shortSide > 0 && shortSide < crop)) {
                throw new IllegalArgumentException("input geometry needs clipLength >= 1, frameStride >= 1, crop >= 32 and"
                        + " shortSide 0 or >= crop, got " + clipLength + "x" + frameStride + ", crop " + crop + ", short side " + shortSide);
            }
        }
    }

    /** Validates and copies. */
    public ModelCard {
        Objects.requireNonNull(architecture, "architecture");
        Objects.requireNonNull(input, "input");
        Objects.requireNonNull(created, "created");
        Objects.requireNonNull(dualdistillVersion, "dualdistillVersion");
        if (classNames == null || classNames.size() != architecture.numClasses()) {
            throw new IllegalArgumentException("need one class name per output (" + architecture.numClasses() + "), got "
                    + (classNames == null ? "none" : classNames.size()));
        }
        for (String n : classNames) {
            if (n == null || n.isBlank()) {
                throw new IllegalArgumentException("class names must not be blank: " + classNames);
            }
        }
        classNames = List.copyOf(classNames);
        if (mean == null || std == null || mean.length != 3 || std.length != 3) {
            throw new IllegalArgumentException("mean and std must have 3 values (RGB)");
        }
        for (int c = 0; c < 3; c++) {
            if (!Float.isFinite(mean[c]) || !(std[c] > 0) || !Float.isFinite(std[c])) {
                throw new IllegalArgumentException("mean must be finite and std finite and > 0, got " + Arrays.toString(mean)
                        + ", " + Arrays.toString(std));
            }
        }
        mean = mean.clone();
        std = std.clone();
        metrics = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(metrics == null ? Map.of() : metrics));
        if (weightsSha256 != null && !weightsSha256.matches("[0-9a-f]{64}")) {
            throw new IllegalArgumentException("weightsSha256 must be 64 lower-case hex digits, got " + weightsSha256);
        }
    }

    /**
     * @param architecture the student's configuration ({@link X3d#config()})
     * @param classNames   one name per class, in label order
     * @return a builder with the input geometry of the architecture (stride 1, short side = crop), the Kinetics
     *         normalization, no metrics and the current time
     */
    public static Builder builder(X3d.Config architecture, List<String> classNames) {
        return new Builder(architecture, classNames);
    }

    /** @return a copy of the mean */
    @Override
    public float[] mean() {
        return mean.clone();
    }

    /** @return a copy of the standard deviation */
    @Override
    public float[] std() {
        return std.clone();
    }

    /** @return the number of classes */
    public int numClasses() {
        return classNames.size();
    }

    /**
     * @param sha256 the weights' hex SHA-256
     * @return this card with that checksum
     */
    public ModelCard withWeightsSha256(String sha256) {
        return new ModelCard(formatVersion, architecture, classNames, input, mean, std, metrics, created, dualdistillVersion, sha256);
    }

    /**
     * @param a one configuration
     * @param b another
     * @return whether both build the same network (X3d.Config's record equality compares its head array by identity)
     */
    public static boolean sameArchitecture(X3d.Config a, X3d.Config b) {
        return a.numClasses() == b.numClasses() && a.widthFactor() == b.widthFactor() && a.depthFactor() == b.depthFactor()
                && a.bottleneckFactor() == b.bottleneckFactor() && a.seRatio() == b.seRatio() && a.stemDimIn() == b.stemDimIn()
                && a.headDimOut() == b.headDimOut() && a.dropout() == b.dropout() && a.clipLength() == b.clipLength()
                && a.crop() == b.crop() && Arrays.equals(a.heads(), b.heads());
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ModelCard c && c.formatVersion == formatVersion && sameArchitecture(c.architecture, architecture)
                && c.classNames.equals(classNames) && c.input.equals(input) && Arrays.equals(c.mean, mean)
                && Arrays.equals(c.std, std) && c.metrics.equals(metrics) && c.created.equals(created)
                && c.dualdistillVersion.equals(dualdistillVersion) && Objects.equals(c.weightsSha256, weightsSha256);
    }

    @Override
    public int hashCode() {
        return Objects.hash(formatVersion, classNames, input, metrics, created, dualdistillVersion, weightsSha256);
    }

    @Override
    public String toString() {
        return "ModelCard[v" + formatVersion + ", " + architecture + ", classes " + classNames + ", " + input + ", mean "
                + Arrays.toString(mean) + ", std " + Arrays.toString(std) + ", metrics " + metrics + ", created " + created
                + ", dualdistill " + dualdistillVersion + ", sha256 " + weightsSha256 + "]";
    }

    /** @return the version of this library: the jar manifest's Implementation-Version, else the source tree's */
    public static String libraryVersion() {
        String v = ModelCard.class.getPackage().getImplementationVersion();
        return v != null ? v : "0.1.0-SNAPSHOT";
    }

    /** Builder for {@link ModelCard}; {@code opt*} methods set optional fields, {@code add*} accumulates. Not thread-safe. */
    public static final class Builder {
        private final X3d.Config architecture;
        private final List<String> classNames;
        private Input input;
        private float[] mean = KINETICS_MEAN;
        private float[] std = KINETICS_STD;
        private final Map<String, Double> metrics = new LinkedHashMap<>();
        private Instant created = Instant.now();

        private Builder(X3d.Config architecture, List<String> classNames) {
            this.architecture = Objects.requireNonNull(architecture, "architecture");
            this.classNames = classNames == null ? null : new ArrayList<>(classNames);
            this.input = new Input(architecture.clipLength(), 1, architecture.crop(), architecture.crop());
        }

        /**
         * @param clipLength  T
         * @param frameStride frame step
         * @param crop        H = W
         * @param shortSide   short side before the crop (0 = none)
         * @return this
         */
        public Builder optInput(int clipLength, int frameStride, int crop, int shortSide) {
            this.input = new Input(clipLength, frameStride, crop, shortSide);
            return this;
        }

        /**
         * @param mean per-channel mean
         * @param std  per-channel standard deviation
         * @return this
         */
        public Builder optNormalization(float[] mean, float[] std) {
            this.mean = mean;
            this.std = std;
            return this;
        }

        /**
         * @param name  metric name, e.g. {@code top1}
         * @param value its value
         * @return this
         */
        public Builder addMetric(String name, double value) {
            metrics.put(Objects.requireNonNull(name, "name"), value);
            return this;
        }

        /**
         * @param when the creation time (default: when the builder was made)
         * @return this
         */
        public Builder optCreated(Instant when) {
            this.created = Objects.requireNonNull(when, "created");
            return this;
        }

        /**
         * @return the card (no checksum yet: {@link StudentExport#write} fills it in)
         * @throws IllegalArgumentException when a field is invalid
         */
        public ModelCard build() {
            return new ModelCard(FORMAT_VERSION, architecture, classNames, input, mean, std, metrics, created, libraryVersion(), null);
        }
    }
}
