package org.dualdistill.distributed;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolVector;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Reducer;
import org.bytedeco.pytorch.SizeTStringMap;
import org.bytedeco.pytorch.SizeTVector;
import org.bytedeco.pytorch.SizeTVectorVector;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.dualdistill.train.GradientSync;

/**
 * Data-parallel gradient averaging on c10d's {@code Reducer}, the engine under PyTorch's
 * {@code DistributedDataParallel}: the parameters are grouped into buckets (about {@value #FIRST_BUCKET_BYTES} bytes
 * for the first, {@value #DEFAULT_BUCKET_BYTES} for the rest, in reverse registration order, which is roughly the order
 * in which backward produces their gradients); the Reducer's autograd hooks launch each bucket's all-reduce as soon as
 * its last gradient is ready, so communication overlaps the rest of backward; when backward returns, every gradient
 * holds the mean over the ranks. Since each rank's loss is the mean over its own equally sized batch, that mean is the
 * gradient of the loss over the combined batch.
 *
 * <p>BatchNorm: statistics are local (each rank normalizes with its own batch's mean and variance, as DDP does without
 * {@code SyncBatchNorm}); before every forward, rank 0's running statistics are broadcast to all ranks (DDP's
 * {@code broadcast_buffers=True}) so that every replica evaluates and checkpoints identically. A model with BatchNorm
 * therefore trains like a single process whose BatchNorm sees per-rank sub-batches (the "ghost batch" effect), not like
 * one process on the combined batch.
 *
 * <p>Used as the trainer's {@link GradientSync}: {@link #beforeForward()} (buffers, Reducer forward bookkeeping),
 * {@link #beforeBackward(Tensor)} ({@code prepare_for_backward}: arms the hooks, and with {@code findUnusedParams}
 * marks parameters the loss does not reach as ready). A rank that dies makes the next bucket all-reduce of the others
 * fail: {@code backward()} then throws (Gloo: "Connection closed by peer", or a timeout).
 *
 * <p>Owns the Reducer until {@link #close()} (idempotent, thread-safe), which removes its autograd hooks; borrows the
 * context and the modules, which must outlive it. Training-thread only.
 */
public final class DataParallel implements GradientSync, AutoCloseable {
    /** Bucket size cap after the first bucket (DDP's {@code bucket_cap_mb=25}). */
    public static final long DEFAULT_BUCKET_BYTES = 25L << 20;
    /** Cap of the first bucket, small so that the first all-reduce starts early (DDP's default). */
    public static final long FIRST_BUCKET_BYTES = 1L << 20;

    private final DistributedContext context;
    private final List<Module> modules;
    private final boolean broadcastBuffers;
    private final AtomicReference<Reducer> reducer;
    private final int parameterCount;
    private final int bucketCount;

    DataParallel(DistributedContext context, List<Module> modules, long bucketBytes, boolean findUnusedParams,
                 boolean broadcastBuffers) {
        this.context = Objects.requireNonNull(context, "context");
        this.modules = List.copyOf(modules);
        this.broadcastBuffers = broadcastBuffers;
        if (bucketBytes < 1) {
            throw new IllegalArgumentException("bucketBytes must be >= 1, got " + bucketBytes);
        }
        try (PointerScope scope = new PointerScope()) {
            TensorVector params = new TensorVector();
            List<Long> bytes = new ArrayList<>();
            List<Byte> types = new ArrayList<>();
            Set<Long> seen = new HashSet<>();
            for (Module m : this.modules) {
                TensorVector ps = m.parameters(true);
                for (long i = 0; i < ps.size(); i++) {
                    Tensor p = ps.get(i);
                    if (p.requires_grad() && seen.add(p.data_ptr().address())) { // shared parameters reduced once
                        params.push_back(p);
                        bytes.add(p.numel() * p.element_size());
                        types.add(p.scalar_type().value);
                    }
                }
            }
            if (params.size() == 0) {
                throw new IllegalArgumentException("no trainable parameters in the " + this.modules.size() + " modules");
            }
            SizeTVectorVector buckets = new SizeTVectorVector();
            SizeTVector current = new SizeTVector();
            long filled = 0;
            byte type = types.get(types.size() - 1);
            long cap = Math.min(FIRST_BUCKET_BYTES, bucketBytes);
            for (int i = (int) params.size() - 1; i >= 0; i--) {
                if (current.size() > 0 && (filled >= cap || types.get(i) != type)) { // a bucket holds one dtype
                    buckets.push_back(current);
                    current = new SizeTVector();
                    filled = 0;
                    cap = bucketBytes;
                }
                current.push_back(i);
                filled += bytes.get(i);
                type = types.get(i);
            }
            buckets.push_back(current);
            BoolVector sparse = new BoolVector();
            for (long i = 0; i < params.size(); i++) {
                sparse.push_back(false);
            }
            Reducer r = new Reducer(params, buckets, context.group(), sparse, bucketBytes, findUnusedParams,
                    /* gradient_as_bucket_view */ false, new SizeTStringMap(), FIRST_BUCKET_BYTES,
                    /* skip_all_reduce_unused_params */ false, /* use_python_reducer */ false);
            r.retainReference();
            this.reducer = new AtomicReference<>(r);
            this.parameterCount = (int) params.size();
            this.bucketCount = (int) buckets.size();
        }
    }

    /** @return parameters whose gradients are averaged */
    public int parameterCount() {
        return parameterCount;
    }

    /** @return all-reduce buckets */
    public int bucketCount() {
        return bucketCount;
    }

    private Reducer open() {
        Reducer r = reducer.get();
        if (r == null) {
            throw new IllegalStateException("DataParallel is closed");
        }
        return r;
    }

    /** Broadcasts rank 0's buffers (BatchNorm running statistics), then the Reducer's forward bookkeeping. */
    @Override
    public void beforeForward() {
        Reducer r = open();
        if (broadcastBuffers) {
            context.broadcastBuffers(modules);
        }
        try (PointerScope scope = new PointerScope()) {
            r.prepare_for_forward();
        }
    }

    /** Arms the Reducer's hooks for this backward pass. */
    @Override
    public void beforeBackward(Tensor loss) {
        Reducer r = open();
        long t0 = System.nanoTime();
        try (PointerScope scope = new PointerScope()) {
            r.prepare_for_backward(new TensorVector(loss));
        } catch (RuntimeException e) {
            throw context.failure("gradient all-reduce setup", t0, e);
        }
    }

    /** Nothing left to do: the Reducer finished every bucket before {@code backward()} returned. */
    @Override
    public void afterBackward() {
        open();
    }

    /** Removes the Reducer's autograd hooks and releases it. Idempotent. */
    @Override
    public void close() {
        Reducer r = reducer.getAndSet(null);
        if (r != null) {
            try (PointerScope scope = new PointerScope()) {
                r.remove_autograd_hooks();
            } catch (RuntimeException e) {
                // the hooks die with the Reducer anyway; nothing else to undo
            }
            r.releaseReference();
        }
    }
}
