package org.dualdistill.model.io;

/**
 * How a file's tensor names become a model's names. Implementations are pure functions of the name (thread-safe).
 */
@FunctionalInterface
public interface KeyMap {
    /** The identity: the file uses the model's names. */
    KeyMap IDENTITY = k -> k;

    /**
     * @param fileKey a tensor name in the file
     * @return the model's name for it, or null when it has no counterpart (reported as unexpected)
     */
    String toModel(String fileKey);

    /**
     * The shape a file tensor has under the model's scheme, for zoos that store a tensor with another but equivalent
     * shape (torchvision's {@code pos_encoding.class_token} [C] is our {@code cls_token} [1, 1, C]). The element
     * count must not change.
     *
     * @param modelKey  the model name (from {@link #toModel})
     * @param fileShape the shape in the file
     * @return the model's shape for it; the file shape by default
     */
    default long[] modelShape(String modelKey, long[] fileShape) {
        return fileShape;
    }
}
