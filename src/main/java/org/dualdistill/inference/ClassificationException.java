package org.dualdistill.inference;

/**
 * A request that could not be classified: the input is missing, unreadable or not a video, has the wrong shape or
 * non-finite values, or inference failed. The message starts with the input's name (a path, the name given with
 * bytes, or a clip's name) and says why; {@link #getCause()} holds the underlying error (for example a
 * {@link org.dualdistill.video.VideoDecodeException}). A failed request never affects later ones.
 */
public final class ClassificationException extends Exception {
    private static final long serialVersionUID = 1L;

    private final String input;

    /**
     * @param input  the input's name
     * @param reason what went wrong
     * @param cause  the underlying error, or null
     */
    public ClassificationException(String input, String reason, Throwable cause) {
        super(input + ": " + reason, cause);
        this.input = input;
    }

    /** @return the input's name */
    public String input() {
        return input;
    }
}
