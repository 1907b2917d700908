package org.dualdistill.train;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.dualdistill.internal.AtomicFiles;

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

    /**
     * Prepares a metrics file for a run resumed after {@code step} completed steps: keeps the history up to that step
     * and drops what the interrupted run logged after it (which the resumed run logs again). Lines are kept in order
     * up to the first one whose {@code "step"} exceeds {@code step}; that line and everything after it go, and so does
     * a line that is not a JSON object (a line cut short by a crash). Rewritten through a temporary file and an atomic
     * rename; a missing file is left missing.
     *
     * @param file the JSONL file
     * @param step the resumed checkpoint's completed steps
     * @return the number of lines dropped
     * @throws IOException when the file cannot be read or rewritten
     */
    public static int keepUpToStep(Path file, long step) throws IOException {
        if (!Files.exists(file)) {
            return 0;
        }
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        List<String> kept = new ArrayList<>(lines.size());
        for (String line : lines) {
            JsonNode n;
            try {
                n = JSON.readTree(line);
            } catch (JsonProcessingException e) {
                break; // cut short by a crash: nothing after it is trustworthy
            }
            if (n == null || !n.isObject() || n.path("step").asLong(Long.MIN_VALUE) > step) {
                break;
            }
            kept.add(line);
        }
        int dropped = lines.size() - kept.size();
        if (dropped > 0) {
            Path target = file.toAbsolutePath();
            Path tmp = Files.createTempFile(target.getParent(), "." + target.getFileName(), ".tmp");
            try {
                Files.write(tmp, kept, StandardCharsets.UTF_8);
                AtomicFiles.replace(tmp, target);
            } finally {
                Files.deleteIfExists(tmp);
            }
        }
        return dropped;
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
