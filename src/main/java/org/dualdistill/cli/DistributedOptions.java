package org.dualdistill.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

import org.dualdistill.distributed.DistributedConfig;
import picocli.CommandLine.Option;

/**
 * Data-parallel options of the training commands. A run is distributed when {@code WORLD_SIZE} is in the environment
 * (set by {@code dualdistill launch} or another torchrun-style launcher) or {@code --world-size} is given; each flag
 * overrides its environment variable ({@link DistributedConfig} lists them).
 */
final class DistributedOptions {
    @Option(names = "--rank", description = "this rank (default: $RANK)")
    Integer rank;
    @Option(names = "--world-size", description = "ranks in the job; turns data-parallel training on (default: $WORLD_SIZE)")
    Integer worldSize;
    @Option(names = "--master-addr", description = "rank 0's host (default: $MASTER_ADDR, else 127.0.0.1)")
    String masterAddr;
    @Option(names = "--master-port", description = "rank 0's rendezvous port (default: $MASTER_PORT, else 29500)")
    Integer masterPort;
    @Option(names = "--dist-backend", description = "gloo (CPU) or nccl (CUDA, gpu build) (default: $DUALDISTILL_DIST_BACKEND, else gloo)")
    String backend;
    @Option(names = "--dist-timeout", paramLabel = "SECONDS",
            description = "how long a rendezvous or collective waits for a peer before failing (default: $DUALDISTILL_DIST_TIMEOUT, else 300)")
    Integer timeoutSeconds;

    /**
     * @param env the environment
     * @return the configuration, or empty for a single-process run
     * @throws IllegalArgumentException when a flag or variable is malformed
     */
    Optional<DistributedConfig> resolve(Map<String, String> env) {
        Map<String, String> e = new java.util.HashMap<>(env);
        put(e, "RANK", rank);
        put(e, "WORLD_SIZE", worldSize);
        put(e, "MASTER_ADDR", masterAddr);
        put(e, "MASTER_PORT", masterPort);
        put(e, "DUALDISTILL_DIST_BACKEND", backend);
        put(e, "DUALDISTILL_DIST_TIMEOUT", timeoutSeconds);
        if (worldSize != null && rank != null && !env.containsKey("LOCAL_RANK")) {
            e.put("LOCAL_RANK", Integer.toString(rank));
        }
        return DistributedConfig.fromEnvironment(e);
    }

    private static void put(Map<String, String> e, String name, Object value) {
        if (value != null) {
            e.put(name, value.toString());
        }
    }

    /**
     * @param path a checkpoint folder, or a folder of {@code epoch-NNNN} checkpoints (the latest is taken)
     * @return the checkpoint folder
     * @throws IOException when there is none
     */
    static Path checkpoint(Path path) throws IOException {
        try {
            Path p = Files.isDirectory(path) ? org.dualdistill.recipe.Recipe.latestCheckpoint(path) : null;
            if (p != null) {
                return p;
            }
        } catch (org.dualdistill.recipe.RecipeException e) {
            throw new IOException(e.getMessage(), e);
        }
        throw new IOException("no checkpoint in " + path.toAbsolutePath() + " (expected manifest.json, or epoch-NNNN or "
                + "step-NNNNNNNN folders)");
    }
}
