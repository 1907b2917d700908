package org.dualdistill.distributed;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.javacpp.SizeTPointer;
import org.bytedeco.javacpp.chrono.Milliseconds;
import org.bytedeco.pytorch.AllreduceOptions;
import org.bytedeco.pytorch.Backend;
import org.bytedeco.pytorch.BackendOptional;
import org.bytedeco.pytorch.BroadcastOptions;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.FileStore;
import org.bytedeco.pytorch.GlooDeviceVector;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.ProcessGroup;
import org.bytedeco.pytorch.ProcessGroupGloo;
import org.bytedeco.pytorch.ReduceOp;
import org.bytedeco.pytorch.Store;
import org.bytedeco.pytorch.TCPStore;
import org.bytedeco.pytorch.TCPStoreOptions;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.Work;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.DeviceType;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.bytedeco.pytorch.global.torch_gloo;
import org.dualdistill.internal.torch.TensorBridge;
import org.dualdistill.internal.torch.TorchRuntime;
import org.dualdistill.train.EvalResult;

/**
 * One rank's membership in a data-parallel job, on PyTorch's own c10d engine: a rendezvous {@code Store}
 * ({@link TCPStore} hosted by rank 0, or a {@link FileStore} on a shared path), a {@link ProcessGroupGloo} (or
 * {@code ProcessGroupNCCL} on the gpu build) carrying the collectives, and a {@link ProcessGroup} wrapping it for
 * c10d's {@code Reducer} ({@link DataParallel}).
 *
 * <pre>{@code
 * try (DistributedContext dist = DistributedContext.init(DistributedConfig.fromEnvironment(System.getenv()).orElseThrow());
 *      DataParallel ddp = dist.dataParallel(modules, false)) {
 *     dist.broadcastModules(modules);                      // every replica starts from rank 0's weights
 *     trainer = Trainer.builder(...).optGradientSync(ddp)...  // gradients averaged during backward
 * }
 * }</pre>
 *
 * <p>Timeouts: the configured timeout bounds the rendezvous (rank 0 waits that long for all ranks to connect; the
 * others retry that long to reach it) and every collective (Gloo aborts a collective whose peer does not answer in
 * time). A peer that dies is usually noticed at once, because its sockets close. Every failure surfaces as a
 * {@link DistributedException} naming this rank, the operation and the timeout.
 *
 * <p>Ownership and threads: owns the store and the process group until {@link #close()} (idempotent, thread-safe).
 * Collectives must be issued in the same order on every rank; call them from one thread. Tensors passed in are
 * borrowed.
 *
 * <p>Why the wrapper is built with {@code new ProcessGroup(rank, size)} plus {@code setBackend}: the presets' generated
 * {@code ProcessGroup(Store, int, int)} allocator aborts the JVM (c10 intrusive_ptr assertion "Newly-created target had
 * non-zero refcounts", pytorch 2.10.0-1.5.13), while the store-less constructor works.
 */
public final class DistributedContext implements AutoCloseable {
    static {
        TorchRuntime.init();
    }

    private static final System.Logger LOG = System.getLogger("org.dualdistill.distributed");

    /** The native objects this context owns; released in reverse order. */
    private record Handles(Store store, Pointer glooDevice, Backend backend, ProcessGroup group) {
    }

    private final DistributedConfig config;
    private final AtomicReference<Handles> handles;
    private final Device collectiveDevice; // retained; CPU for Gloo, cuda:LOCAL_RANK for NCCL

    private DistributedContext(DistributedConfig config, Handles h, Device collectiveDevice) {
        this.config = config;
        this.handles = new AtomicReference<>(h);
        this.collectiveDevice = collectiveDevice;
    }

    /**
     * Joins the job: rendezvous through the store, then connects the process group to every peer. Blocks until all
     * {@code worldSize} ranks have arrived or the timeout passed.
     *
     * @param config where this rank sits and how to reach the others
     * @return the context; caller must close
     * @throws DistributedException when the rendezvous or the connection fails (peer missing, port taken, wrong
     *                              interface, timeout)
     */
    public static DistributedContext init(DistributedConfig config) {
        long t0 = System.nanoTime();
        Store store = null;
        Pointer glooDevice = null;
        Backend backend = null;
        ProcessGroup group = null;
        Device device = null;
        String stage = "rendezvous store";
        try (PointerScope scope = new PointerScope()) {
            store = retain(store(config));
            stage = "process group (" + config.backend().name().toLowerCase(Locale.ROOT) + ")";
            ProcessGroup.BackendType type;
            DeviceType devType;
            if (config.backend() == DistributedConfig.Backend.GLOO) {
                org.bytedeco.pytorch.gloo.attr attr = glooAttr(config);
                glooDevice = retain(torch_gloo.CreateDevice(attr));
                ProcessGroupGloo.Options opts = new ProcessGroupGloo.Options(new Milliseconds(config.timeout().toMillis()));
                opts.devices(new GlooDeviceVector((org.bytedeco.pytorch.gloo.Device) glooDevice));
                backend = retain(new ProcessGroupGloo(store, config.rank(), config.worldSize(), opts));
                type = ProcessGroup.BackendType.GLOO;
                devType = DeviceType.CPU;
                device = retain(new Device(DeviceType.CPU));
            } else {
                backend = retain(Nccl.create(store, config));
                type = ProcessGroup.BackendType.NCCL;
                devType = DeviceType.CUDA;
                device = retain(new Device("cuda:" + config.localRank()));
            }
            group = retain(new ProcessGroup(config.rank(), config.worldSize()));
            group.setBackend(devType, type, new BackendOptional(backend));
            group.setDefaultBackend(type);
        } catch (RuntimeException | LinkageError e) {
            release(group, backend, glooDevice, store, device);
            throw new DistributedException(String.format(Locale.ROOT,
                    "rank %d of %d: %s failed after %.1f s (init %s, MASTER_ADDR %s, MASTER_PORT %d, timeout %d s): %s",
                    config.rank(), config.worldSize(), stage, (System.nanoTime() - t0) / 1e9, config.initMethod(),
                    config.masterAddr(), config.masterPort(), config.timeout().toSeconds(), e.getMessage()), e);
        }
        LOG.log(System.Logger.Level.INFO, () -> String.format(Locale.ROOT, "rank %d of %d joined (%s, %s) in %.1f s",
                config.rank(), config.worldSize(), config.backend(), config.initMethod(), (System.nanoTime() - t0) / 1e9));
        return new DistributedContext(config, new Handles(store, glooDevice, backend, group), device);
    }

    private static <P extends Pointer> P retain(P p) {
        p.retainReference();
        return p;
    }

    private static void release(Pointer... ps) {
        for (Pointer p : ps) {
            if (p != null) {
                p.releaseReference();
            }
        }
    }

    private static Store store(DistributedConfig c) {
        if (c.initMethod().startsWith("file://")) {
            Store s = new FileStore(c.initMethod().substring("file://".length()), c.worldSize());
            s.setTimeout(new Milliseconds(c.timeout().toMillis()));
            return s;
        }
        TCPStoreOptions o = new TCPStoreOptions();
        o.port((short) c.masterPort()).isServer(c.rank() == 0).numWorkers(new SizeTPointer(1).put(c.worldSize()))
                .waitWorkers(true).timeout(new Milliseconds(c.timeout().toMillis())).useLibUV(false);
        return new TCPStore(c.masterAddr(), o);
    }

    /** Gloo's TCP device: the named interface, else this host's address (loopback for a loopback master). */
    private static org.bytedeco.pytorch.gloo.attr glooAttr(DistributedConfig c) {
        if (c.socketInterface() != null) {
            org.bytedeco.pytorch.gloo.attr a = new org.bytedeco.pytorch.gloo.attr();
            a.iface(new org.bytedeco.javacpp.BytePointer(c.socketInterface()));
            return a;
        }
        String host;
        try {
            host = InetAddress.getByName(c.masterAddr()).isLoopbackAddress() ? "127.0.0.1"
                    : InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            throw new DistributedException("rank " + c.rank() + ": cannot resolve MASTER_ADDR " + c.masterAddr()
                    + " or this host's name; set GLOO_SOCKET_IFNAME to the interface the ranks share", e);
        }
        return new org.bytedeco.pytorch.gloo.attr(host);
    }

    /** @return the configuration this context joined with */
    public DistributedConfig config() {
        return config;
    }

    /** @return this rank */
    public int rank() {
        return config.rank();
    }

    /** @return ranks in the job */
    public int worldSize() {
        return config.worldSize();
    }

    /** @return whether this is rank 0 */
    public boolean isMain() {
        return config.isMain();
    }

    /** @return the process group, borrowed (for c10d's Reducer) */
    ProcessGroup group() {
        return open().group();
    }

    private Handles open() {
        Handles h = handles.get();
        if (h == null) {
            throw new IllegalStateException("DistributedContext is closed");
        }
        return h;
    }

    /**
     * Copies rank 0's parameters and buffers (BatchNorm running statistics included) into every other rank's modules,
     * so that all replicas start identical (DDP does this at construction).
     *
     * @param modules the replicated modules, in the same order on every rank (borrowed)
     * @throws DistributedException when the broadcast fails
     */
    public void broadcastModules(List<Module> modules) {
        try (PointerScope scope = new PointerScope()) {
            List<Tensor> ts = new ArrayList<>();
            for (Module m : modules) {
                add(ts, m.parameters(true));
                add(ts, m.buffers(true));
            }
            broadcast(ts);
        }
    }

    /**
     * Copies rank 0's buffers (BatchNorm running mean/var and batch counters) into every other rank's modules (DDP's
     * {@code broadcast_buffers}).
     *
     * @param modules the replicated modules, same order on every rank (borrowed)
     * @throws DistributedException when the broadcast fails
     */
    public void broadcastBuffers(List<Module> modules) {
        try (PointerScope scope = new PointerScope()) {
            List<Tensor> ts = new ArrayList<>();
            for (Module m : modules) {
                add(ts, m.buffers(true));
            }
            broadcast(ts);
        }
    }

    private static void add(List<Tensor> out, TensorVector v) {
        for (long i = 0; i < v.size(); i++) {
            Tensor t = v.get(i);
            if (t.defined()) {
                out.add(t);
            }
        }
    }

    /**
     * Overwrites each tensor in place with rank 0's values: tensors are flattened into one buffer per dtype, so the
     * cost is one collective per dtype, not one per tensor.
     *
     * @param tensors same shapes, dtypes and order on every rank (borrowed), on the collective device
     * @throws DistributedException when the broadcast fails
     */
    public void broadcast(List<Tensor> tensors) {
        open();
        if (worldSize() == 1 || tensors.isEmpty()) {
            return;
        }
        try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            Map<Byte, List<Tensor>> byType = new LinkedHashMap<>();
            for (Tensor t : tensors) {
                byType.computeIfAbsent(t.scalar_type().value, k -> new ArrayList<>()).add(t);
            }
            for (List<Tensor> group : byType.values()) {
                TensorVector flat = new TensorVector();
                for (Tensor t : group) {
                    flat.push_back(t.detach().reshape(-1));
                }
                Tensor buf = torch.cat(flat).contiguous();
                run("broadcast", () -> open().backend().broadcast(new TensorVector(buf), new BroadcastOptions().rootRank(0)));
                long off = 0;
                for (Tensor t : group) {
                    long n = t.numel();
                    t.detach().copy_(buf.narrow(0, off, n).view_as(t));
                    off += n;
                }
            }
        }
    }

    /**
     * Sums values across ranks (metrics: losses, clip counts, confusion counts), in float64.
     *
     * @param values this rank's values; every rank passes the same length
     * @return the element-wise sums, identical on every rank
     * @throws DistributedException when the all-reduce fails
     */
    public double[] allReduceSum(double... values) {
        open();
        if (worldSize() == 1 || values.length == 0) {
            return values.clone();
        }
        try (PointerScope scope = new PointerScope()) {
            Tensor t = torch.empty(new long[] {values.length}, new TensorOptions(ScalarType.Double), null);
            new DoublePointer(t.data_ptr()).capacity(values.length).put(values);
            Tensor dev = onCollectiveDevice(t);
            run("all-reduce", () -> open().backend().allreduce(new TensorVector(dev),
                    new AllreduceOptions().reduceOp(new ReduceOp(ReduceOp.RedOpType.SUM))));
            Tensor back = dev.cpu().contiguous();
            double[] out = new double[values.length];
            new DoublePointer(back.data_ptr()).capacity(out.length).get(out);
            return out;
        }
    }

    /**
     * @param value this rank's value
     * @return the largest value over all ranks (e.g. epoch wall time: the job is as slow as its slowest rank)
     * @throws DistributedException when the all-reduce fails
     */
    public double allReduceMax(double value) {
        open();
        if (worldSize() == 1) {
            return value;
        }
        try (PointerScope scope = new PointerScope()) {
            Tensor t = torch.full(new long[] {1}, new org.bytedeco.pytorch.Scalar(value),
                    new TensorOptions(ScalarType.Double));
            Tensor dev = onCollectiveDevice(t);
            run("all-reduce", () -> open().backend().allreduce(new TensorVector(dev),
                    new AllreduceOptions().reduceOp(new ReduceOp(ReduceOp.RedOpType.MAX))));
            return dev.cpu().item_double();
        }
    }

    /**
     * Combines per-rank evaluations of disjoint shards (a loader with {@code optShard(rank, world)} and
     * {@code optShardPadding(false)}) into the evaluation of the whole set: counts and confusion matrices are summed,
     * accuracies recomputed from them. With video-level aggregation the shards must split by video, which the
     * loader's sharding does.
     *
     * @param local this rank's result
     * @return the job-wide result, identical on every rank
     * @throws DistributedException when the all-reduce fails
     */
    public EvalResult reduce(EvalResult local) {
        int c = local.classCounts().length;
        double[] v = new double[3 + c * c];
        v[0] = local.samples();
        v[1] = local.clips();
        v[2] = Math.round(local.top5() * local.samples());
        for (int i = 0; i < c; i++) {
            for (int j = 0; j < c; j++) {
                v[3 + i * c + j] = local.confusion()[i][j];
            }
        }
        double[] s = allReduceSum(v);
        long samples = Math.round(s[0]);
        long[][] confusion = new long[c][c];
        long[] counts = new long[c];
        double[] per = new double[c];
        long correct = 0;
        for (int i = 0; i < c; i++) {
            for (int j = 0; j < c; j++) {
                confusion[i][j] = Math.round(s[3 + i * c + j]);
                counts[i] += confusion[i][j];
            }
            correct += confusion[i][i];
            per[i] = counts[i] == 0 ? Double.NaN : (double) confusion[i][i] / counts[i];
        }
        return new EvalResult(samples, Math.round(s[1]), samples == 0 ? 0 : (double) correct / samples,
                samples == 0 ? 0 : s[2] / samples, per, counts, confusion, local.videoLevel());
    }

    /**
     * Waits until every rank has called it.
     *
     * @throws DistributedException when a peer died or the timeout passed
     */
    public void barrier() {
        open();
        if (worldSize() == 1) {
            return;
        }
        try (PointerScope scope = new PointerScope()) {
            run("barrier", () -> open().backend().barrier());
        }
    }

    /**
     * Wraps the modules for data-parallel training: gradients are averaged across ranks by c10d's {@code Reducer},
     * bucket by bucket while backward still runs. Call {@link #broadcastModules} first.
     *
     * @param modules           every module the optimizer trains, same order on every rank (borrowed; must outlive
     *                          the result)
     * @param findUnusedParams  whether some parameters may get no gradient in a step (costs a graph traversal per step)
     * @return the gradient hook for {@code Trainer.Builder.optGradientSync}; caller must close (before this context)
     */
    public DataParallel dataParallel(List<Module> modules, boolean findUnusedParams) {
        return new DataParallel(this, modules, DataParallel.DEFAULT_BUCKET_BYTES, findUnusedParams, true);
    }

    /** Moves a tensor to the device the backend reduces on (a no-op with Gloo). */
    Tensor onCollectiveDevice(Tensor t) {
        if (config.backend() == DistributedConfig.Backend.GLOO) {
            return t;
        }
        return t.to(collectiveDevice, TensorBridge.dtype(t));
    }

    /** Runs one collective and waits for it, turning a native failure into a {@link DistributedException}. */
    void run(String op, Supplier<Work> collective) {
        long t0 = System.nanoTime();
        try {
            Work w = collective.get();
            w._wait();
        } catch (RuntimeException e) {
            if (e instanceof DistributedException || e instanceof IllegalStateException) {
                throw e;
            }
            throw failure(op, t0, e);
        }
    }

    /** @return the exception for a failed collective: rank, op, elapsed time, timeout, the likely reason */
    DistributedException failure(String op, long startNanos, Throwable cause) {
        return new DistributedException(String.format(Locale.ROOT,
                "rank %d of %d: %s failed after %.1f s (timeout %d s); a peer rank probably died or stalled, so this rank "
                        + "stops too; restart the job from its last checkpoint. Cause: %s",
                rank(), worldSize(), op, (System.nanoTime() - startNanos) / 1e9, config.timeout().toSeconds(),
                cause.getMessage()), cause);
    }

    /**
     * Explains a failure of a distributed step whose collective ran inside LibTorch (e.g. the Reducer's all-reduce
     * inside {@code backward()}, which throws Gloo's bare "Connection closed by peer").
     *
     * @param operation what this rank was doing, e.g. "training step"
     * @param cause     what it threw
     * @return {@code cause} itself when it already is a {@link DistributedException}, else one naming this rank, the
     *         operation, the timeout and the likely reason (a peer, unless {@code cause} is an
     *         {@link IllegalArgumentException} or {@link IllegalStateException} raised on this rank), with {@code cause}
     *         attached
     */
    public DistributedException failed(String operation, Throwable cause) {
        if (cause instanceof DistributedException d) {
            return d;
        }
        if (cause instanceof IllegalArgumentException || cause instanceof IllegalStateException) {
            // raised by Java code on this rank (bad input, lifecycle): no peer is to blame
            return new DistributedException("rank " + rank() + " of " + worldSize() + ": " + operation + " failed: "
                    + cause.getMessage(), cause);
        }
        return new DistributedException(String.format(Locale.ROOT,
                "rank %d of %d: %s failed (collective timeout %d s); if a peer rank died or stalled, this rank stops too; "
                        + "restart the job from its last checkpoint. Cause: %s",
                rank(), worldSize(), operation, config.timeout().toSeconds(), cause), cause);
    }

    /** Leaves the job: releases the process group and the store. Idempotent and thread-safe. */
    @Override
    public void close() {
        Handles h = handles.getAndSet(null);
        if (h != null) {
            release(h.group(), h.backend(), h.glooDevice(), h.store(), collectiveDevice);
        }
    }

    /** The NCCL backend, isolated so that CPU builds never link it unless asked for. */
    private static final class Nccl {
        static Backend create(Store store, DistributedConfig c) {
            org.bytedeco.pytorch.nccl.ProcessGroupNCCL.Options o = new org.bytedeco.pytorch.nccl.ProcessGroupNCCL.Options();
            o.timeout(new Milliseconds(c.timeout().toMillis()));
            return new org.bytedeco.pytorch.nccl.ProcessGroupNCCL(store, c.rank(), c.worldSize(), o);
        }
    }
}
