package org.dualdistill.cli;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import org.dualdistill.distributed.DistributedConfig;
import org.dualdistill.distributed.Launcher;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code dualdistill launch [options] -- <command> [args]}: runs a dualdistill command as this host's ranks of a
 * data-parallel job, torchrun-style (see {@link Launcher}). Run the same line on every host, changing only
 * {@code --node-rank}. Exit code: 0 when every local rank succeeded, else the first failing rank's.
 */
@Command(name = "launch", mixinStandardHelpOptions = true,
        description = {"Run a dualdistill command on N local ranks of a data-parallel job (torchrun-style).",
                "Example: dualdistill launch --nproc-per-node 2 -- distill --data DIR --ce-only --out runs/a"})
final class LaunchCommand implements Callable<Integer> {
    @Option(names = "--nproc-per-node", description = "ranks on this host (default ${DEFAULT-VALUE})")
    int nprocPerNode = 1;
    @Option(names = "--nnodes", description = "hosts in the job (default: $NNODES, else 1)")
    Integer nnodes;
    @Option(names = "--node-rank", description = "this host's index, 0..nnodes-1 (default: $NODE_RANK, else 0)")
    Integer nodeRank;
    @Option(names = "--master-addr", description = "host of rank 0, reachable from every host (default: $MASTER_ADDR, else 127.0.0.1)")
    String masterAddr;
    @Option(names = "--master-port", description = "rendezvous port on the master; 0 = any free port, one host only (default: $MASTER_PORT, else 29500)")
    Integer masterPort;
    @Option(names = "--log-dir", paramLabel = "DIR", description = "write each rank's output to DIR/rank-R.log (default: inherit this terminal)")
    Path logDir;
    @Option(names = "--grace", paramLabel = "SECONDS", description = "after a rank fails, how long the others may take to stop before they are killed (default ${DEFAULT-VALUE})")
    int graceSeconds = 10;
    @Parameters(arity = "1..*", paramLabel = "COMMAND", description = "the dualdistill command each rank runs, after --")
    List<String> command = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        Map<String, String> env = System.getenv();
        Launcher launcher;
        try {
            int nodes = nnodes != null ? nnodes : intEnv(env, "NNODES", 1);
            int node = nodeRank != null ? nodeRank : intEnv(env, "NODE_RANK", 0);
            String addr = masterAddr != null ? masterAddr : env.getOrDefault("MASTER_ADDR", "127.0.0.1");
            int port = masterPort != null ? masterPort : intEnv(env, "MASTER_PORT", DistributedConfig.DEFAULT_PORT);
            launcher = Launcher.builder(Main.class.getName()).addArgs(command).optNprocPerNode(nprocPerNode)
                    .optNodes(nodes, node).optMaster(addr, port).optLogDir(logDir).optGrace(Duration.ofSeconds(graceSeconds))
                    .build();
        } catch (IllegalArgumentException e) {
            System.err.println("launch: " + e.getMessage());
            return 2;
        }
        try (Launcher.LocalJob job = launcher.start()) {
            System.err.printf("launch: started %d local rank(s) of %d, rendezvous on port %d%n", nprocPerNode,
                    launcher.worldSize(), job.masterPort());
            return job.await(Duration.ofDays(3650), System.err);
        }
    }

    private static int intEnv(Map<String, String> env, String name, int dflt) {
        String v = env.get(name);
        if (v == null || v.isBlank()) {
            return dflt;
        }
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + " must be an integer, got '" + v + "'", e);
        }
    }
}
