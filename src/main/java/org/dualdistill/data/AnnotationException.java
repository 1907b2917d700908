package org.dualdistill.data;

import java.io.IOException;
import java.nio.file.Path;

/**
 * An annotation file that cannot be used: malformed line, unknown class, missing column, missing split file, or
 * (when asked) a missing video. The message starts with {@code file:line:} so that editors and terminals link to the
 * place. Checked, like the other input errors of this library ({@link org.dualdistill.video.VideoDecodeException}).
 */
public class AnnotationException extends IOException {
    private static final long serialVersionUID = 1L;

    private final transient Path file;
    private final long line;

    /**
     * @param file   the annotation file (or folder)
     * @param line   the 1-based line, or 0 for the file as a whole
     * @param detail what is wrong and what was expected
     */
    public AnnotationException(Path file, long line, String detail) {
        super(file + (line > 0 ? ":" + line : "") + ": " + detail);
        this.file = file;
        this.line = line;
    }

    /** @return the annotation file */
    public Path file() {
        return file;
    }

    /** @return the 1-based line, 0 for the file as a whole */
    public long line() {
        return line;
    }
}
