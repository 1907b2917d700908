package org.dualdistill.rkd;

import java.util.concurrent.atomic.AtomicBoolean;

import org.bytedeco.pytorch.Tensor;
import org.dualdistill.internal.kernels.FusedLosses;
import org.dualdistill.kernels.KernelBackend;

/**
 * The output of one {@link RkdLoss#compute} call. Owns its tensors: the caller must {@link #close()} it (after
 * {@code loss().backward()}). Not thread-safe; {@code close()} is idempotent, and any other use after it throws
 * {@link IllegalStateException}.
 *
 * <p>The breakdown lives in one float32 tensor {@code (L, L_D, L_A)} on the embeddings' device, as the kernels write
 * it; the {@code *Value()} accessors read it (one device synchronization each for CUDA tensors).
 */
public final class RkdResult implements AutoCloseable {
    private final Tensor loss;
    private final Tensor parts;
    private final KernelBackend backend;
    private final AtomicBoolean closed = new AtomicBoolean();

    /** {@code loss} and {@code parts} are retained by the caller and released by {@link #close()}. */
    RkdResult(Tensor loss, Tensor parts, KernelBackend backend) {
        this.loss = loss;
        this.parts = parts;
        this.backend = backend;
    }

    private void open() {
        if (closed.get()) {
            throw new IllegalStateException("RkdResult is closed");
        }
    }

    /**
     * @return the scalar loss {@code lambda_D L_D + lambda_A L_A}, float32 (float64 for float64 embeddings on the
     *     TORCH backend), on the embeddings' device, connected to the student embeddings' autograd graph; owned by
     *     this result (do not close it)
     */
    public Tensor loss() {
        open();
        return loss;
    }

    /** @return L as a Java value (synchronizes with the device for CUDA tensors) */
    public double lossValue() {
        return part(0);
    }

    /** @return the distance term L_D, without its weight */
    public double distanceValue() {
        return part(1);
    }

    /** @return the angle term L_A, without its weight */
    public double angleValue() {
        return part(2);
    }

    private double part(int i) {
        open();
        return FusedLosses.valueAt(parts, i);
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
        parts.close();
    }
}
