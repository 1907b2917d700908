package org.dualdistill.distributed;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * Starts this host's ranks of a data-parallel job as child JVMs, in the manner of torchrun: the same command on every
 * host ({@code --nnodes}, {@code --node-rank}, {@code --master-addr}, {@code --master-port}), {@code nprocPerNode}
 * ranks per host, each a JVM running {@code mainClass args} with this JVM's class path and options and the torchrun
 * variables ({@code RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, GROUP_RANK, MASTER_ADDR, MASTER_PORT}, see
 * {@link DistributedConfig}) in its environment. {@code OMP_NUM_THREADS} defaults to this host's cores divided by the
 * local ranks, so that ranks do not oversubscribe the CPU.
 *
 * <p>Supervision ({@link LocalJob#await}): when a rank exits non-zero, the others get a grace period to notice on
 * their own (their collectives fail at once when a peer's sockets close) and are then killed; the job's exit code is
 * the first failing rank's. Killing the launcher kills its ranks (shutdown hook). The main class must call
 * {@code TorchRuntime.init()} before touching LibTorch ({@code org.dualdistill.cli.Main} does).
 *
 * <p>Not thread-safe; a {@link LocalJob} owns its processes until closed.
 */
public final class Launcher {
    private final Builder b;

    private Launcher(Builder b) {
        this.b = b;
    }

    /**
     * @param mainClass fully qualified class each rank runs, e.g. {@code org.dualdistill.cli.Main}
     * @return a builder (1 rank, 1 node, master 127.0.0.1:29500, output inherited)
     */
    public static Builder builder(String mainClass) {
        return new Builder(mainClass);
    }

    /** Builder for {@link Launcher}; {@code opt*} set optional fields, {@code add*} accumulate. Not thread-safe. */
    public static final class Builder {
        private final String mainClass;
        private final List<String> args = new ArrayList<>();
        private final List<String> jvmArgs = new ArrayList<>();
        private final Map<String, String> env = new HashMap<>();
        private int nprocPerNode = 1;
        private int nnodes = 1;
        private int nodeRank;
        private String masterAddr = "127.0.0.1";
        private int masterPort = DistributedConfig.DEFAULT_PORT;
        private Path logDir;
        private Duration grace = Duration.ofSeconds(10);
        private String classPath = System.getProperty("java.class.path");

        private Builder(String mainClass) {
            this.mainClass = Objects.requireNonNull(mainClass, "mainClass");
        }

        /** @param args arguments of every rank's main; @return this */
        public Builder addArgs(List<String> args) {
            this.args.addAll(args);
            return this;
        }

        /** @param args extra JVM options of every rank (after this JVM's own); @return this */
        public Builder addJvmArgs(List<String> args) {
            this.jvmArgs.addAll(args);
            return this;
        }

        /** @param name variable @param value its value in every rank's environment; @return this */
        public Builder addEnv(String name, String value) {
            this.env.put(name, value);
            return this;
        }

        /** @param n ranks on this host, &gt;= 1; @return this */
        public Builder optNprocPerNode(int n) {
            check(n >= 1, "nproc-per-node must be >= 1, got " + n);
            this.nprocPerNode = n;
            return this;
        }

        /** @param n hosts in the job, &gt;= 1 @param rank this host's index in [0, n); @return this */
        public Builder optNodes(int n, int rank) {
            check(n >= 1, "nnodes must be >= 1, got " + n);
            check(rank >= 0 && rank < n, "node-rank must be in [0, " + n + "), got " + rank);
            this.nnodes = n;
            this.nodeRank = rank;
            return this;
        }

        /**
         * @param addr rank 0's host, reachable from every host
         * @param port its rendezvous port; 0 = pick a free one (one host only)
         * @return this
         */
        public Builder optMaster(String addr, int port) {
            check(addr != null && !addr.isBlank(), "master-addr must not be empty");
            check(port >= 0 && port <= 65535, "master-port must be in [0, 65535], got " + port);
            this.masterAddr = addr;
            this.masterPort = port;
            return this;
        }

        /** @param dir write each rank's stdout+stderr to {@code dir/rank-R.log} instead of inheriting; @return this */
        public Builder optLogDir(Path dir) {
            this.logDir = dir;
            return this;
        }

        /** @param grace how long surviving ranks may take to exit after a rank failed; @return this */
        public Builder optGrace(Duration grace) {
            check(grace != null && !grace.isNegative(), "grace must be >= 0");
            this.grace = grace;
            return this;
        }

        /** @param cp the ranks' class path (default: this JVM's); @return this */
        public Builder optClassPath(String cp) {
            check(cp != null && !cp.isBlank(), "class path must not be empty");
            this.classPath = cp;
            return this;
        }

        /** @return the launcher */
        public Launcher build() {
            check(nnodes == 1 || masterPort != 0, "master-port 0 (pick a free port) works on one host only");
            return new Launcher(this);
        }

        private static void check(boolean ok, String message) {
            if (!ok) {
                throw new IllegalArgumentException(message);
            }
        }
    }

    /** @return ranks in the whole job */
    public int worldSize() {
        return b.nnodes * b.nprocPerNode;
    }

    /**
     * Starts this host's ranks.
     *
     * @return the running job; caller must close (kills ranks still alive)
     * @throws IOException when a JVM cannot be started or no free port is found
     */
    public LocalJob start() throws IOException {
        int port = b.masterPort == 0 ? freePort() : b.masterPort;
        int world = worldSize();
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> jvm = inheritedJvmArgs();
        jvm.addAll(b.jvmArgs);
        int threads = Math.max(1, Runtime.getRuntime().availableProcessors() / b.nprocPerNode);
        List<Process> procs = new ArrayList<>();
        List<Path> logs = new ArrayList<>();
        LocalJob job = new LocalJob(procs, logs, b.nodeRank * b.nprocPerNode, b.grace, port);
        try {
            for (int local = 0; local < b.nprocPerNode; local++) {
                int rank = b.nodeRank * b.nprocPerNode + local;
                List<String> cmd = new ArrayList<>();
                cmd.add(java);
                cmd.addAll(jvm);
                cmd.add("-cp");
                cmd.add(b.classPath);
                cmd.add(b.mainClass);
                cmd.addAll(b.args);
                ProcessBuilder pb = new ProcessBuilder(cmd);
                Map<String, String> e = pb.environment();
                e.putIfAbsent("OMP_NUM_THREADS", Integer.toString(threads));
                e.putIfAbsent("OPENBLAS_NUM_THREADS", Integer.toString(threads)); // OpenBLAS sizes its own pool from this first
                e.putAll(b.env);
                e.put("RANK", Integer.toString(rank));
                e.put("WORLD_SIZE", Integer.toString(world));
                e.put("LOCAL_RANK", Integer.toString(local));
                e.put("LOCAL_WORLD_SIZE", Integer.toString(b.nprocPerNode));
                e.put("GROUP_RANK", Integer.toString(b.nodeRank));
                e.put("MASTER_ADDR", b.masterAddr);
                e.put("MASTER_PORT", Integer.toString(port));
                if (b.logDir != null) {
                    Files.createDirectories(b.logDir);
                    Path log = b.logDir.resolve("rank-" + rank + ".log");
                    pb.redirectErrorStream(true).redirectOutput(log.toFile());
                    logs.add(log);
                } else {
                    pb.inheritIO();
                }
                procs.add(pb.start());
            }
        } catch (IOException | RuntimeException e) {
            job.close();
            throw e;
        }
        return job;
    }

    /** This JVM's options minus debugger and agent flags, plus native access (JavaCPP and FFM need it). */
    private static List<String> inheritedJvmArgs() {
        List<String> out = new ArrayList<>();
        boolean nativeAccess = false;
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (a.startsWith("-agentlib") || a.startsWith("-javaagent") || a.startsWith("-Xrunjdwp") || a.startsWith("-Xdebug")
                    || a.startsWith("-XX:Flight") || a.startsWith("-XX:StartFlightRecording")) {
                continue;
            }
            nativeAccess |= a.startsWith("--enable-native-access");
            out.add(a);
        }
        if (!nativeAccess) {
            out.add("--enable-native-access=ALL-UNNAMED");
        }
        return out;
    }

    /**
     * @return a TCP port that was free on loopback and all interfaces a moment ago
     * @throws IOException when none can be bound
     */
    public static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(InetAddress.getByName("0.0.0.0"), 0));
            return s.getLocalPort();
        }
    }

    /**
     * This host's running ranks.
     */
    public static final class LocalJob implements AutoCloseable {
        private final List<Process> processes;
        private final List<Path> logs;
        private final int firstRank;
        private final Duration grace;
        private final int port;
        private final Thread reaper;

        LocalJob(List<Process> processes, List<Path> logs, int firstRank, Duration grace, int port) {
            this.processes = processes;
            this.logs = logs;
            this.firstRank = firstRank;
            this.grace = grace;
            this.port = port;
            this.reaper = new Thread(this::kill, "dualdistill-launch-reaper");
            Runtime.getRuntime().addShutdownHook(reaper);
        }

        /** @return the rank processes, local rank order (borrowed) */
        public List<Process> processes() {
            return List.copyOf(processes);
        }

        /** @return the rendezvous port the ranks were given */
        public int masterPort() {
            return port;
        }

        /** @param localRank local rank @return its log file, or null when output is inherited */
        public Path log(int localRank) {
            return logs.isEmpty() ? null : logs.get(localRank);
        }

        /**
         * Waits for every rank. When one fails, the others get the grace period and are then killed.
         *
         * @param timeout the longest the whole job may run; then every rank is killed
         * @param report  where to say which rank failed (null = nowhere)
         * @return 0 when every rank exited 0; else the first failing rank's exit code (124 after the timeout)
         * @throws InterruptedException when interrupted (the ranks keep running; close the job)
         */
        public int await(Duration timeout, PrintStream report) throws InterruptedException {
            long deadline = System.nanoTime() + timeout.toNanos();
            int failed = -1;
            int code = 0;
            long failDeadline = Long.MAX_VALUE;
            while (true) {
                boolean alive = false;
                for (int i = 0; i < processes.size(); i++) {
                    Process p = processes.get(i);
                    if (p.isAlive()) {
                        alive = true;
                    } else if (failed < 0 && p.exitValue() != 0) {
                        failed = i;
                        code = p.exitValue();
                        failDeadline = System.nanoTime() + grace.toNanos();
                        if (report != null) {
                            report.printf("launch: rank %d (pid %d) exited with code %d; waiting up to %d s for the other ranks "
                                    + "to stop, then killing them%n", firstRank + i, p.pid(), code, grace.toSeconds());
                        }
                    }
                }
                if (!alive) {
                    return code;
                }
                long now = System.nanoTime();
                if (now > failDeadline) {
                    kill();
                    return code;
                }
                if (now > deadline) {
                    if (report != null) {
                        report.printf("launch: job still running after %d s; killing every rank%n", timeout.toSeconds());
                    }
                    kill();
                    return 124;
                }
                TimeUnit.MILLISECONDS.sleep(100);
            }
        }

        private void kill() {
            for (Process p : processes) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
            }
            for (Process p : processes) {
                try {
                    p.waitFor(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }

        /** Kills ranks still alive and waits for them. Idempotent. */
        @Override
        public void close() {
            kill();
            try {
                Runtime.getRuntime().removeShutdownHook(reaper);
            } catch (IllegalStateException e) {
                // already shutting down: the hook runs anyway
            }
        }
    }
}
