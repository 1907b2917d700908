package org.dualdistill.data;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A {@link DataLoader} gave up on its dataset: no video of an epoch could be decoded, or more than the allowed
 * fraction of its videos could not ({@link DataLoader.Builder#optMaxSkippedFraction}). The message is one line: the
 * dataset, the count, the first few files with their reasons, and the file holding the full list when the loader
 * writes one ({@link DataLoader.Builder#optSkipList}). Immutable.
 */
public final class UnusableDataException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    private final transient Map<Path, String> skipped;
    private final int videos;

    /**
     * @param message the one-line message
     * @param skipped every unusable file with the first reason it failed, in the order met
     * @param videos  the videos the loader is responsible for per epoch
     */
    UnusableDataException(String message, Map<Path, String> skipped, int videos) {
        super(message);
        this.skipped = Map.copyOf(skipped);
        this.videos = videos;
    }

    /** @return every unusable file and the first reason it failed */
    public Map<Path, String> skipped() {
        return skipped;
    }

    /** @return the videos per epoch the loader had to read (the denominator of the fraction) */
    public int videos() {
        return videos;
    }

    /** @return the unusable files, in no particular order */
    public List<Path> files() {
        return List.copyOf(skipped.keySet());
    }
}
