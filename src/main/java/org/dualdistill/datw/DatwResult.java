package org.dualdistill.datw;

import java.util.concurrent.atomic.AtomicBoolean;

import org.bytedeco.pytorch.Tensor;
import org.dualdistill.kernels.KernelBackend;

/**
 * The output of one {@link DatwLoss#compute} call. Owns its tensors: the caller must {@link #close()} it (after
 * {@code loss().backward()}). Not thread-safe; close is idempotent.
 */
public final class DatwResult implements AutoCloseable {
    private final Tensor loss;
    private final Tensor parts;
    private final Tensor weights;
    private final Tensor confidence;
    private final Tensor discrepancy;
    private final KernelBackend backend;
    private final AtomicBoolean closed = new AtomicBoolean();

    /** All tensors are retained by the caller and released here. {@code parts} is float32 [3] = (L, L_kd, L_ce). */
    DatwResult(Tensor loss, Tensor parts, Tensor weights, Tensor confidence, Tensor discrepancy, KernelBackend backend) {
        this.loss = loss;
        this.parts = parts;
        this.weights = weights;
        this.confidence = confidence;
        this.discrepancy = discrepancy;
        this.backend = backend;
    }

    private void open() {
        if (closed.get()) {
            throw new IllegalStateException("DatwResult is closed");
        }
    }

    /**
     * @return the scalar loss {@code alpha_ce L_ce + alpha_kd L_kd}, float32, connected to the student logits'
     *     autograd graph; owned by this result (do not close it)
     */
    public Tensor loss() {
        open();
        return loss;
    }

    /** @return L as a Java value (synchronizes with the device for CUDA tensors) */
    public double lossValue() {
        open();
        return parts.select(0, 0).item_double();
    }

    /** @return L_kd (without alpha_kd) */
    public double kdValue() {
        open();
        return parts.select(0, 1).item_double();
    }

    /** @return L_ce (without alpha_ce); 0 when no labels were given */
    public double ceValue() {
        open();
        return parts.select(0, 2).item_double();
    }

    /** @return per-sample teacher weights, float32 [B, K], rows sum to 1; owned by this result */
    public Tensor weights() {
        open();
        return weights;
    }

    /** @return DATW confidence {@code 1 - H / log C}, float32 [B, K]; owned by this result */
    public Tensor confidence() {
        open();
        return confidence;
    }

    /** @return DATW discrepancy {@code (1 - cos) / 2}, float32 [B, K]; owned by this result */
    public Tensor discrepancy() {
        open();
        return discrepancy;
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
        weights.close();
        confidence.close();
        discrepancy.close();
    }
}
