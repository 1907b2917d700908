package org.dualdistill.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.function.Executable;

/** Helpers of the annotation-parser tests: hand-written files and empty stand-in videos. */
final class AnnotationFiles {
    private AnnotationFiles() {
    }

    /** Writes a text file (creating folders) and returns it. */
    static Path write(Path file, String... lines) throws IOException {
        Files.createDirectories(file.getParent());
        Files.writeString(file, String.join("\n", lines) + "\n", StandardCharsets.UTF_8);
        return file;
    }

    /** Creates empty files (the parsers only check existence). */
    static void touch(Path root, String... relative) throws IOException {
        for (String r : relative) {
            Path p = root.resolve(r);
            Files.createDirectories(p.getParent());
            Files.write(p, new byte[0]);
        }
    }

    /** Asserts that loading fails with an AnnotationException at file:line whose message contains {@code text}. */
    static AnnotationException assertError(Path file, long line, String text, Executable load) {
        AnnotationException e = assertThrows(AnnotationException.class, load);
        assertEquals(file, e.file(), e.getMessage());
        assertEquals(line, e.line(), e.getMessage());
        assertTrue(e.getMessage().startsWith(file + (line > 0 ? ":" + line + ": " : ": ")), e.getMessage());
        assertTrue(e.getMessage().contains(text), "'" + e.getMessage() + "' should contain '" + text + "'");
        return e;
    }
}
