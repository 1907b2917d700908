package org.dualdistill.internal;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/** The last step of every crash-safe write: a finished temporary file replaces its target in one rename. */
public final class AtomicFiles {
    private AtomicFiles() {
    }

    /**
     * Moves {@code tmp} over {@code target} atomically where the file system can (a reader sees the old or the new
     * file, never a half-written one), else with a plain replacing move.
     *
     * @throws IOException when the move fails
     */
    public static void replace(Path tmp, Path target) throws IOException {
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
