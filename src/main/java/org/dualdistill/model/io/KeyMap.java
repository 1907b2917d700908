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
     * Whether a tensor may be reshaped on load (same element count, another shape), for zoos that store a tensor
     * with another but equivalent shape (torchvision's {@code pos_encoding.class_token} [C] is our
     * {@code cls_token} [1, 1, C]).
     *
     * @param modelKey a model name
     * @return true to allow a reshape; false by default
     */
    default boolean reshapes(String modelKey) {
        return false;
    }
}
