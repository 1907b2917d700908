package org.dualdistill.distributed;

import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Where this process sits in a data-parallel job and how it finds the others: the torchrun contract.
 *
 * <p>Environment variables (set by {@code dualdistill launch}, torchrun-style launchers, or by hand):
 * <pre>
 *   WORLD_SIZE     number of ranks in the job (its presence turns distributed mode on)
 *   RANK           this rank, 0..WORLD_SIZE-1 (rank 0 hosts the TCPStore and writes checkpoints)
 *   LOCAL_RANK     rank within this host (picks the GPU with NCCL); default RANK
 *   MASTER_ADDR    address of rank 0's host, reachable from every host; default 127.0.0.1
 *   MASTER_PORT    TCP port of the rendezvous store on MASTER_ADDR; default 29500
 *   GLOO_SOCKET_IFNAME  network interface Gloo binds (e.g. eth0); default: the interface of this host's name,
 *                  or loopback when MASTER_ADDR is a loopback address
 *   DUALDISTILL_DIST_BACKEND   gloo (CPU tensors, default) or nccl (CUDA tensors, gpu build only)
 *   DUALDISTILL_DIST_TIMEOUT   seconds a rendezvous or a collective may wait for a peer before failing (default 300)
 *   DUALDISTILL_INIT_METHOD    env:// (TCPStore on MASTER_ADDR:MASTER_PORT, default) or file:///shared/path (FileStore)
 * </pre>
 *
 * @param rank       this rank, in [0, worldSize)
 * @param worldSize  ranks in the job, &gt;= 1
 * @param localRank  rank within this host, &gt;= 0
 * @param masterAddr host of the TCPStore (rank 0)
 * @param masterPort port of the TCPStore, 1..65535
 * @param initMethod {@code env://} or {@code file://<path>}
 * @param backend    the c10d backend
 * @param timeout    rendezvous and collective timeout
 * @param socketInterface network interface for Gloo, or null to derive it from the host name
 */
public record DistributedConfig(int rank, int worldSize, int localRank, String masterAddr, int masterPort, String initMethod,
                                Backend backend, Duration timeout, String socketInterface) {

    /** Default TCPStore port (torchrun's). */
    public static final int DEFAULT_PORT = 29500;
    /** Default rendezvous and collective timeout. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(300);

    /** The c10d backend carrying the collectives. */
    public enum Backend {
        /** ProcessGroupGloo: CPU tensors over TCP. */
        GLOO,
        /** ProcessGroupNCCL: CUDA tensors (needs the gpu build and NCCL on the machine). */
        NCCL
    }

    /** Validates every field; messages name the field and the value. */
    public DistributedConfig {
        if (worldSize < 1) {
            throw new IllegalArgumentException("WORLD_SIZE must be >= 1, got " + worldSize);
        }
        if (rank < 0 || rank >= worldSize) {
            throw new IllegalArgumentException("RANK must be in [0, " + worldSize + "), got " + rank);
        }
        if (localRank < 0) {
            throw new IllegalArgumentException("LOCAL_RANK must be >= 0, got " + localRank);
        }
        Objects.requireNonNull(masterAddr, "masterAddr");
        if (masterAddr.isBlank()) {
            throw new IllegalArgumentException("MASTER_ADDR must not be empty");
        }
        if (masterPort < 1 || masterPort > 65535) {
            throw new IllegalArgumentException("MASTER_PORT must be in [1, 65535], got " + masterPort);
        }
        Objects.requireNonNull(initMethod, "initMethod");
        if (!initMethod.equals("env://") && !(initMethod.startsWith("file://") && initMethod.length() > "file://".length())) {
            throw new IllegalArgumentException("init method must be env:// or file:///path, got " + initMethod);
        }
        Objects.requireNonNull(backend, "backend");
        Objects.requireNonNull(timeout, "timeout");
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("timeout must be > 0, got " + timeout);
        }
    }

    /**
     * @param rank      this rank
     * @param worldSize ranks in the job
     * @param port      TCPStore port on 127.0.0.1
     * @return a one-host Gloo configuration over loopback with the default timeout
     */
    public static DistributedConfig loopback(int rank, int worldSize, int port) {
        return new DistributedConfig(rank, worldSize, rank, "127.0.0.1", port, "env://", Backend.GLOO, DEFAULT_TIMEOUT, null);
    }

    /**
     * Reads the torchrun variables (see the class comment).
     *
     * @param env the environment, e.g. {@code System.getenv()}
     * @return the configuration, or empty when {@code WORLD_SIZE} is not set (not a distributed run)
     * @throws IllegalArgumentException when a variable is malformed or out of range (the message names it)
     */
    public static Optional<DistributedConfig> fromEnvironment(Map<String, String> env) {
        String ws = env.get("WORLD_SIZE");
        if (ws == null || ws.isBlank()) {
            return Optional.empty();
        }
        int world = intVar(env, "WORLD_SIZE", null);
        int rank = intVar(env, "RANK", null);
        int local = env.containsKey("LOCAL_RANK") ? intVar(env, "LOCAL_RANK", null) : rank;
        String addr = env.getOrDefault("MASTER_ADDR", "127.0.0.1");
        int port = intVar(env, "MASTER_PORT", DEFAULT_PORT);
        String init = env.getOrDefault("DUALDISTILL_INIT_METHOD", "env://");
        Backend backend = backend(env.getOrDefault("DUALDISTILL_DIST_BACKEND", "gloo"));
        Duration timeout = Duration.ofSeconds(intVar(env, "DUALDISTILL_DIST_TIMEOUT", (int) DEFAULT_TIMEOUT.toSeconds()));
        String iface = env.get("GLOO_SOCKET_IFNAME");
        return Optional.of(new DistributedConfig(rank, world, local, addr, port, init, backend, timeout,
                iface == null || iface.isBlank() ? null : iface));
    }

    /**
     * @param name gloo or nccl (any case)
     * @return the backend
     */
    public static Backend backend(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "gloo" -> Backend.GLOO;
            case "nccl" -> Backend.NCCL;
            default -> throw new IllegalArgumentException("backend must be gloo or nccl, got " + name);
        };
    }

    /** @return whether rank 0 (writes checkpoints and logs) */
    public boolean isMain() {
        return rank == 0;
    }

    private static int intVar(Map<String, String> env, String name, Integer dflt) {
        String v = env.get(name);
        if (v == null || v.isBlank()) {
            if (dflt == null) {
                throw new IllegalArgumentException(name + " is not set (WORLD_SIZE is, so this is a distributed run and "
                        + name + " is required)");
            }
            return dflt;
        }
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + " must be an integer, got '" + v + "'", e);
        }
    }
}
