package org.dualdistill.sdd;

import java.util.concurrent.atomic.AtomicBoolean;

import org.bytedeco.pytorch.Tensor;
import org.dualdistill.internal.kernels.FusedLosses;
import org.dualdistill.kernels.KernelBackend;

/**
 * The output of one {@link SddLoss#compute} call. Owns its tensors: the caller must {@link #close()} it (after
 * {@code loss().backward()}). Not thread-safe; {@code close()} is idempotent, and any other use after it throws
 * {@link IllegalStateException}.
 *
 * <p>Besides the autograd-connected loss it keeps a small float32 vector that holds the loss value at
 * {@code index} (for the fused kernels: the per-sample sums of squared error {@code [B]}, then L), so
 * {@link #lossValue()} on the CPU reads one float without going through LibTorch.
 */
public final class SddResult implements AutoCloseable {
    private final Tensor loss;
    private final Tensor values;
    private final long index;
    private final KernelBackend backend;
    private final AtomicBoolean closed = new AtomicBoolean();

    /** {@code loss} and {@code values} are retained by the caller and released by {@link #close()}. */
    SddResult(Tensor loss, Tensor values, long index, KernelBackend backend) {
        this.loss = loss;
        this.values = values;
        this.index = index;
        this.backend = backend;
    }

    private void open() {
        if (closed.get()) {
            throw new IllegalStateException("SddResult is closed");
        }
    }

    /**
     * @return the scalar loss {@code L_sdd = mean (rHat - r)^2}, float32, on the inputs' device, connected to
     *     rHat's autograd graph when rHat requires grad; owned by this result (do not close it)
     * @throws IllegalStateException after {@link #close()}
     */
    public Tensor loss() {
        open();
        return loss;
    }

    /**
     * @return L as a Java value (synchronizes with the device for CUDA tensors)
     * @throws IllegalStateException after {@link #close()}
     */
    public double lossValue() {
        open();
        return FusedLosses.valueAt(values, index);
    }

    /** @return the backend that actually ran (never AUTO) */
    public KernelBackend backend() {
        return backend;
    }

    @Override
    public void close() {
        if (closed.getAndSet(true)) {
            return;
        }
        loss.close();
        values.close();
    }
}
