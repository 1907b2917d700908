package org.dualdistill.inference;

/**
 * An already decoded clip in plain Java: RGB pixel values scaled to {@code [0, 1]}, laid out {@code [3, T, H, W]}
 * (channel-major, then frame, row, column), at the model's input geometry ({@code T = card.input().clipLength()},
 * {@code H = W = card.input().crop()}). The classifier normalizes it with the card's mean and standard deviation,
 * as the training views were. Shape and values are checked when it is classified (a mismatch or a NaN is a
 * {@link ClassificationException} naming the clip), not here.
 *
 * <p>The array is borrowed: it is read before {@code classify}/{@code submit} returns and may be reused afterwards.
 *
 * @param name   a name for messages, e.g. a camera and frame range
 * @param data   {@code 3 * frames * height * width} values
 * @param frames T
 * @param height H
 * @param width  W
 */
public record ClipInput(String name, float[] data, int frames, int height, int width) {
    /** Requires a name. */
    public ClipInput {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("a clip needs a name (used in error messages)");
        }
    }
}
