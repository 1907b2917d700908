package org.dualdistill.recipe;

/**
 * A run that cannot start or continue for a reason the user can fix: a missing or mismatched file, a bad config value,
 * a device that is not there. The message is one line naming the file, key or device and the reason.
 */
public final class RecipeException extends Exception {
    private static final long serialVersionUID = 1L;

    /** @param message what went wrong, naming the file and the reason */
    public RecipeException(String message) {
        super(message);
    }

    /** @param message what went wrong @param cause the underlying error */
    public RecipeException(String message, Throwable cause) {
        super(message, cause);
    }
}
