package org.dualdistill.model;

import java.util.List;

/**
 * The input a model is trained and tested on: its canonical view (PySlowFast's {@code DATA.*} keys).
 *
 * <p>Training: a window of {@code frames x frameStride} source frames, the short side scaled to a random size in
 * [{@code trainShortSideMin}, {@code trainShortSideMax}] ({@code TRAIN_JITTER_SCALES}), a random square
 * {@code crop} ({@code TRAIN_CROP_SIZE}). Testing: evenly spaced windows, short side scaled to {@code testShortSide}
 * ({@code TEST_CROP_SIZE}), centre or three crops of {@code crop}. Pixels are normalized per channel with
 * {@code (x / 255 - mean) / std}.
 *
 * <p>In a distillation batch every model sees the same window and region (the student's): a teacher's view takes its
 * own {@code frames} evenly over the student's window and resizes the region to its own {@code crop}, so only the
 * student's stride and jitter drive the sampling; a teacher's own stride and jitter are what {@code train-teacher}
 * uses. Immutable and thread-safe.
 *
 * @param frames            T, frames per clip (>= 1)
 * @param frameStride       source frames between samples (>= 1)
 * @param crop              square crop side in pixels (>= 1)
 * @param trainShortSideMin smallest training short side (>= crop)
 * @param trainShortSideMax largest training short side (>= trainShortSideMin)
 * @param testShortSide     test-time short side (>= crop)
 * @param mean              per-channel mean, 3 values
 * @param std               per-channel standard deviation, 3 positive values
 */
public record ModelView(int frames, int frameStride, int crop, int trainShortSideMin, int trainShortSideMax,
                        int testShortSide, List<Double> mean, List<Double> std) {
    /** Kinetics normalization, as PySlowFast's defaults. */
    public static final List<Double> KINETICS_MEAN = List.of(0.45, 0.45, 0.45);
    /** Kinetics standard deviation, as PySlowFast's defaults. */
    public static final List<Double> KINETICS_STD = List.of(0.225, 0.225, 0.225);

    /** Validates every field (messages name it). */
    public ModelView {
        check(frames >= 1, "frames must be >= 1, got " + frames);
        check(frameStride >= 1, "frameStride must be >= 1, got " + frameStride);
        check(crop >= 1, "crop must be >= 1, got " + crop);
        check(trainShortSideMin >= crop, "trainShortSideMin must be >= crop (" + crop + "), got " + trainShortSideMin);
        check(trainShortSideMax >= trainShortSideMin, "trainShortSideMax must be >= trainShortSideMin ("
                + trainShortSideMin + "), got " + trainShortSideMax);
        check(testShortSide >= crop, "testShortSide must be >= crop (" + crop + "), got " + testShortSide);
        check(mean != null && mean.size() == 3, "mean must have 3 values, got " + mean);
        check(std != null && std.size() == 3 && std.stream().allMatch(s -> s != null && s > 0),
                "std must have 3 positive values, got " + std);
        mean = List.copyOf(mean);
        std = List.copyOf(std);
    }

    /**
     * @return a view with Kinetics normalization
     */
    public static ModelView of(int frames, int frameStride, int crop, int trainShortSideMin, int trainShortSideMax,
                               int testShortSide) {
        return new ModelView(frames, frameStride, crop, trainShortSideMin, trainShortSideMax, testShortSide,
                KINETICS_MEAN, KINETICS_STD);
    }

    /** @return the mean as floats (for {@link org.dualdistill.video.ViewSpec}) */
    public float[] meanArray() {
        return floats(mean);
    }

    /** @return the std as floats */
    public float[] stdArray() {
        return floats(std);
    }

    /** @return {@code "13x6 crop 160, train short side 182-228, test 182"} */
    public String summary() {
        return frames + "x" + frameStride + " crop " + crop + ", train short side " + trainShortSideMin + "-"
                + trainShortSideMax + ", test " + testShortSide;
    }

    private static float[] floats(List<Double> v) {
        float[] out = new float[v.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = v.get(i).floatValue();
        }
        return out;
    }

    private static void check(boolean ok, String what) {
        if (!ok) {
            throw new IllegalArgumentException("view: " + what);
        }
    }
}
