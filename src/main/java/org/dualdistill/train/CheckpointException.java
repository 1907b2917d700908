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

    /**
     * @param file   the offending file (or the checkpoint folder)
     * @param reason what failed
     * @param cause  the underlying error or null
     */
    public CheckpointException(Path file, String reason, Throwable cause) {
        super(file + ": " + reason, cause);
        this.file = file;
    }

    /** @return the offending file */
    public Path file() {
        return file;
    }
}
