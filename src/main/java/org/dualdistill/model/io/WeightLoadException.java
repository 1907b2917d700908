package org.dualdistill.model.io;

/** Weights that do not fit a model: missing, unexpected or mis-shaped tensors. The message names the file and them. */
public final class WeightLoadException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** @param message what did not fit, naming the file */
    public WeightLoadException(String message) {
        super(message);
    }
}
