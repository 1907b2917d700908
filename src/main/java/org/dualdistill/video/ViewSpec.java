package org.dualdistill.video;

import java.util.Arrays;

/**
 * What one model takes as input: {@code float32 [3, frames, height, width]} normalized with {@code mean}/{@code std}.
 * A {@link MultiViewSampler} makes one such view per model from the same window and region: e.g. the X3D-S student
 * {@code ViewSpec.of("student", 13, 160)} and the teachers {@code ViewSpec.of("x3d_m", 16, 224)},
 * {@code ViewSpec.of("mvit", 16, 224)}. Immutable and thread-safe (the arrays are copied in and out).
 *
 * @param name   the view's name (unique within a sampler), e.g. the model's
 * @param frames T, 1..1024
 * @param height H in pixels, 1..4096
 * @param width  W in pixels, 1..4096
 * @param mean   per-channel mean (RGB) subtracted after scaling pixels to {@code [0, 1]}
 * @param std    per-channel standard deviation (RGB), all &gt; 0
 */
public record ViewSpec(String name, int frames, int height, int width, float[] mean, float[] std) {
    /** pytorchvideo's and PySlowFast's Kinetics normalization for X3D and MViT: mean 0.45, std 0.225 per channel. */
    private static final float[] KINETICS_MEAN = {0.45f, 0.45f, 0.45f};
    private static final float[] KINETICS_STD = {0.225f, 0.225f, 0.225f};

    /** Validates and copies. */
    public ViewSpec {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("view name must not be blank");
        }
        if (frames < 1 || frames > 1024 || height < 1 || height > 4096 || width < 1 || width > 4096) {
            throw new IllegalArgumentException("view " + name + ": need 1 <= frames <= 1024 and 1 <= height, width <= 4096, got " + frames
                    + "x" + height + "x" + width);
        }
        if (mean == null || std == null || mean.length != 3 || std.length != 3) {
            throw new IllegalArgumentException("view " + name + ": mean and std must have 3 values (RGB)");
        }
        for (float s : std) {
            if (!(s > 0) || !Float.isFinite(s)) {
                throw new IllegalArgumentException("view " + name + ": std values must be finite and > 0, got " + Arrays.toString(std));
            }
        }
        for (float m : mean) {
            if (!Float.isFinite(m)) {
                throw new IllegalArgumentException("view " + name + ": mean values must be finite, got " + Arrays.toString(mean));
            }
        }
        mean = mean.clone();
        std = std.clone();
    }

    /**
     * A square view with the Kinetics normalization (mean 0.45, std 0.225).
     *
     * @param name   the view's name
     * @param frames T
     * @param size   H = W
     * @return the view
     */
    public static ViewSpec of(String name, int frames, int size) {
        return new ViewSpec(name, frames, size, size, KINETICS_MEAN, KINETICS_STD);
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

    @Override
    public boolean equals(Object o) {
        return o instanceof ViewSpec v && v.name.equals(name) && v.frames == frames && v.height == height && v.width == width
                && Arrays.equals(v.mean, mean) && Arrays.equals(v.std, std);
    }

    @Override
    public int hashCode() {
        return ((name.hashCode() * 31 + frames) * 31 + height) * 31 + width;
    }

    @Override
    public String toString() {
        return "ViewSpec[" + name + " " + frames + "x" + height + "x" + width + ", mean " + Arrays.toString(mean) + ", std "
                + Arrays.toString(std) + "]";
    }
}
