package org.dualdistill.export;

import java.io.IOException;
import java.nio.file.Path;

/**
 * An exported student that cannot be read back: a file is missing, the card is not valid JSON or has an unknown
 * format version or a missing field, the weights fail their SHA-256 check, or they do not fit the architecture.
 * The message names the file and the reason.
 */
public final class ExportException extends IOException {
    private static final long serialVersionUID = 1L;

    private final transient Path file;

    /**
     * @param file   the offending file
     * @param reason what failed
     * @param cause  the underlying error or null
     */
    public ExportException(Path file, String reason, Throwable cause) {
        super(file + ": " + reason, cause);
        this.file = file;
    }

    /** @return the offending file */
    public Path file() {
        return file;
    }
}
