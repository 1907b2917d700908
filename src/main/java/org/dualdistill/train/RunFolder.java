package org.dualdistill.train;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The layout of one training run's output folder, and the checks around it that a command line needs:
 * <pre>
 *   metrics.jsonl           one JSON record per step and per epoch ({@link MetricsLog})
 *   checkpoints/epoch-NNNN  end-of-epoch checkpoints; checkpoints/step-NNNNNNNN mid-epoch ones ({@link Checkpoint})
 *   unusable-videos.tsv     every video the loader could not read, {@code path<TAB>reason}
 *                           ({@link org.dualdistill.data.DataLoader.Builder#optSkipList})
 * </pre>
 * {@link #resumeCheckpoint} picks the checkpoint to resume from, falling back past damaged ones;
 * {@link #prepareMetrics} keeps the metrics history of a resumed run. Immutable and thread-safe (the file system
 * operations are not atomic with respect to another process writing the same folder).
 */
public final class RunFolder {
    /** The metrics file's name. */
    public static final String METRICS = "metrics.jsonl";
    /** The checkpoint folder's name. */
    public static final String CHECKPOINTS = "checkpoints";
    /** The list of unusable videos. */
    public static final String UNUSABLE_VIDEOS = "unusable-videos.tsv";

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path dir;

    private RunFolder(Path dir) {
        this.dir = dir;
    }

    /**
     * Opens a run folder, creating it (and its parents) when missing.
     *
     * @param dir the folder
     * @return the run folder
     * @throws IOException one line naming the path when it exists but is not a folder, or cannot be created
     */
    public static RunFolder create(Path dir) throws IOException {
        if (Files.exists(dir) && !Files.isDirectory(dir)) {
            throw new IOException(dir.toAbsolutePath() + ": exists and is not a folder (the run's output must be a "
                    + "folder; choose another path)");
        }
        try {
            Files.createDirectories(dir);
        } catch (FileSystemException e) {
            String why = e.getReason() != null ? e.getReason() : e.getClass().getSimpleName();
            throw new IOException(dir.toAbsolutePath() + ": cannot create the run folder ("
                    + (e.getFile() != null && !e.getFile().equals(dir.toString()) ? e.getFile() + ": " : "") + why + ")", e);
        }
        return new RunFolder(dir);
    }

    /** @return the folder */
    public Path dir() {
        return dir;
    }

    /** @return {@code dir/metrics.jsonl} */
    public Path metrics() {
        return dir.resolve(METRICS);
    }

    /** @return {@code dir/checkpoints} */
    public Path checkpoints() {
        return dir.resolve(CHECKPOINTS);
    }

    /** @return {@code dir/unusable-videos.tsv} */
    public Path unusableVideos() {
        return dir.resolve(UNUSABLE_VIDEOS);
    }

    /**
     * Readies the metrics file before the trainer opens it: a fresh run starts it empty; a run resumed from
     * {@code resumed} keeps the history up to that checkpoint's step ({@link MetricsLog#keepUpToStep}).
     *
     * @param resumed the checkpoint the run resumes from (verified here), or null for a fresh run
     * @return lines dropped
     * @throws IOException when the checkpoint is damaged or the file cannot be rewritten
     */
    public int prepareMetrics(Path resumed) throws IOException {
        if (resumed == null) {
            Files.deleteIfExists(metrics());
            return 0;
        }
        return MetricsLog.keepUpToStep(metrics(), Checkpoint.state(resumed).step());
    }

    /**
     * The checkpoint to resume from. A checkpoint folder (one with {@code manifest.json}) is taken as given. A folder
     * of checkpoints ({@code epoch-NNNN}, {@code step-NNNNNNNN}), or a run folder holding {@code checkpoints/}, gives
     * its newest intact checkpoint, newest by the step in {@code state.json}: each candidate is checked against its
     * manifest ({@link Checkpoint#verify}), and a damaged one is reported through {@code warnings} (one line naming it
     * and the reason) and passed over for the next older one.
     *
     * @param path     a checkpoint, a folder of checkpoints, or a run folder
     * @param warnings receives one line per damaged checkpoint passed over
     * @return an intact checkpoint folder (or {@code path} itself when it is a checkpoint)
     * @throws IOException one line naming the folder when it holds no intact checkpoint
     */
    public static Path resumeCheckpoint(Path path, Consumer<String> warnings) throws IOException {
        if (Files.isRegularFile(path.resolve(Checkpoint.MANIFEST))) {
            return path;
        }
        Path root = Files.isDirectory(path.resolve(CHECKPOINTS)) ? path.resolve(CHECKPOINTS) : path;
        if (!Files.isDirectory(root)) {
            throw new IOException("no checkpoint in " + path.toAbsolutePath() + ": not a folder");
        }
        List<Path> candidates;
        try (Stream<Path> s = Files.list(root)) {
            candidates = new ArrayList<>(s.filter(Files::isDirectory).filter(p -> {
                String n = p.getFileName().toString();
                return n.matches("epoch-\\d{4,}") || n.matches("step-\\d{8,}");
            }).toList());
        }
        // newest first: the step state.json records; an unreadable state.json sorts first (it is checked, reported)
        candidates.sort(Comparator.comparingLong(RunFolder::savedStep).reversed()
                .thenComparing(Comparator.<Path>naturalOrder().reversed()));
        List<String> damaged = new ArrayList<>();
        for (Path c : candidates) {
            try {
                Checkpoint.verify(c);
                if (!damaged.isEmpty()) {
                    warnings.accept("resuming from " + c.toAbsolutePath() + ", the newest intact checkpoint");
                }
                return c;
            } catch (IOException e) {
                damaged.add(c.getFileName().toString());
                warnings.accept("checkpoint " + c.toAbsolutePath() + " is damaged, passed over: "
                        + Checkpoint.firstLine(e));
            }
        }
        throw new IOException("no intact checkpoint in " + root.toAbsolutePath() + (damaged.isEmpty()
                ? " (expected manifest.json, or epoch-NNNN / step-NNNNNNNN folders)" : " (damaged: " + damaged + ")"));
    }

    private static long savedStep(Path checkpoint) {
        try {
            JsonNode n = JSON.readTree(Files.readAllBytes(checkpoint.resolve("state.json")));
            return n != null && n.path("step").isIntegralNumber() ? n.get("step").asLong() : Long.MAX_VALUE;
        } catch (IOException | RuntimeException e) {
            return Long.MAX_VALUE;
        }
    }

    @Override
    public String toString() {
        return "RunFolder[" + dir + "]";
    }
}
