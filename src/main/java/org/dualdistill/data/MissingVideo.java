package org.dualdistill.data;

import java.nio.file.Path;

/**
 * An annotated video whose file does not exist: left out of the dataset, counted and reported. Immutable.
 *
 * @param path           where the file was expected
 * @param annotationFile the annotation file that lists it
 * @param line           the 1-based line that lists it (0 when it has no single line, as for folder datasets)
 */
public record MissingVideo(Path path, Path annotationFile, long line) {
    @Override
    public String toString() {
        return path + " (" + annotationFile + (line > 0 ? ":" + line : "") + ")";
    }
}
