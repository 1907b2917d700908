package org.dualdistill.train;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A checkpoint that cannot be read back: a file is missing, truncated, fails its SHA-256 check, or does not fit the
 * objects it is loaded into. The message names the file and what failed.
 */
public final class CheckpointException extends IOException {
    private static final long serialVersionUID = 1L;

    private final transient Path file;
    private final String nonFiniteTensor;

    /**
     * @param file   the offending file (or the checkpoint folder)
     * @param reason what failed
     * @param cause  the underlying error or null
     */
    public CheckpointException(Path file, String reason, Throwable cause) {
        this(file, reason, cause, null);
    }

    private CheckpointException(Path file, String reason, Throwable cause, String nonFiniteTensor) {
        super(file + ": " + reason, cause);
        this.file = file;
        this.nonFiniteTensor = nonFiniteTensor;
    }

    /**
     * A checkpoint that was not written because the state holds NaN or infinity.
     *
     * @param dir    the checkpoint folder
     * @param tensor the first offending tensor, as {@code <role> tensor '<name>'}
     * @return the exception
     */
    static CheckpointException nonFiniteState(Path dir, String tensor) {
        return new CheckpointException(dir, "not written: " + tensor + " holds NaN or infinity (the run diverged); the "
                + "existing checkpoints are kept", null, tensor);
    }

    /** @return {@code <role> tensor '<name>'} when the checkpoint was refused for a non-finite state, else null */
    public String nonFiniteTensor() {
        return nonFiniteTensor;
    }

    /** @return the offending file */
    public Path file() {
        return file;
    }
}
