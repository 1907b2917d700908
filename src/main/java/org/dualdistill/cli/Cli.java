package org.dualdistill.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The two things every subcommand does the same way: report a user error, and write a small output file. */
final class Cli {
    private Cli() {
    }

    /**
     * @param command the subcommand name
     * @param message what went wrong (names the file and the reason)
     * @return 2, the exit code of every user error
     */
    static int fail(String command, String message) {
        System.err.println(command + ": " + message);
        return 2;
    }

    /** Writes a small output file (creating its folder) through a temporary sibling, so readers never see half. */
    static void writeFile(Path file, byte[] bytes) throws IOException {
        Path target = file.toAbsolutePath();
        Files.createDirectories(target.getParent());
        Path tmp = Files.createTempFile(target.getParent(), "." + target.getFileName(), ".tmp");
        try {
            Files.write(tmp, bytes);
            org.dualdistill.internal.AtomicFiles.replace(tmp, target);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
