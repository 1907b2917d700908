package org.dualdistill.train;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;

import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Appends one JSON object per line (JSONL) to a file, flushed after each line so a crash loses at most the line
 * being written. Thread-safe; {@link #close()} is idempotent.
 */
public final class MetricsLog implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final Path file;
    private BufferedWriter out; // guarded by this

    /**
     * @param file the JSONL file (created with its parent folders; appended to when it exists)
     * @throws IOException when it cannot be opened
     */
    public MetricsLog(Path file) throws IOException {
        this.file = file;
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        this.out = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    /** @return the file */
    public Path file() {
        return file;
    }

    /**
     * @param record field -> value (numbers, strings, booleans, arrays, nested maps)
     */
    public synchronized void write(Map<String, ?> record) {
        if (out == null) {
            throw new IllegalStateException("MetricsLog is closed");
        }
        try {
            out.write(JSON.writeValueAsString(record));
            out.write('\n');
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot write metrics", e);
        }
    }

    @Override
    public synchronized void close() {
        if (out != null) {
            try {
                out.close();
            } catch (IOException e) {
                throw new UncheckedIOException(file + ": cannot close metrics", e);
            } finally {
                out = null;
            }
        }
    }
}
