package org.dualdistill.datw;

import java.util.concurrent.atomic.AtomicBoolean;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.dualdistill.internal.kernels.FusedLosses;
import org.dualdistill.kernels.KernelBackend;

/**
 * The output of one {@link DatwLoss#compute} call. Owns its tensors: the caller must {@link #close()} it (after
 * {@code loss().backward()}). Not thread-safe; {@code close()} is idempotent, and any use after it throws
 * {@link IllegalStateException}.
 *
 * <p>Everything besides the loss lives in one float32 buffer, laid out as the kernels write it:
 * {@code weights [B,K] | confidence [B,K] | discrepancy [B,K] | row losses [B,2] | (L, L_kd, L_ce)}. The
 * [B, K] views are made on first use, so a training step that only needs {@link #loss()} pays for none of them.
 */
public final class DatwResult implements AutoCloseable {
    private final Tensor loss;
    private final Tensor aux;
    private final long batch;
    private final int teachers;
    private final KernelBackend backend;
    private final AtomicBoolean closed = new AtomicBoolean();
    private Tensor weights;
    private Tensor confidence;
    private Tensor discrepancy;

    /** {@code loss} and {@code aux} are retained by the caller and released by {@link #close()}. */
    DatwResult(Tensor loss, Tensor aux, long batch, int teachers, KernelBackend backend) {
        this.loss = loss;
        this.aux = aux;
        this.batch = batch;
        this.teachers = teachers;
        this.backend = backend;
    }

    /** @return the offset of (L, L_kd, L_ce) in the aux buffer */
    static long partsOffset(long batch, int teachers) {
        return 3 * batch * teachers + 2 * batch;
    }

    /** @return the aux buffer's length in floats */
    static long auxLength(long batch, int teachers) {
        return partsOffset(batch, teachers) + 3;
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
        return part(0);
    }

    /** @return L_kd (without alpha_kd) */
    public double kdValue() {
        return part(1);
    }

    /** @return L_ce (without alpha_ce); 0 when no labels were given */
    public double ceValue() {
        return part(2);
    }

    private double part(int i) {
        open();
        long index = partsOffset(batch, teachers) + i;
        return FusedLosses.valueAt(aux, index);
    }

    /** @return per-sample teacher weights, float32 [B, K], rows sum to 1; owned by this result */
    public Tensor weights() {
        open();
        if (weights == null) {
            weights = view(0);
        }
        return weights;
    }

    /** @return DATW confidence {@code 1 - H / log C}, float32 [B, K]; owned by this result */
    public Tensor confidence() {
        open();
        if (confidence == null) {
            confidence = view(1);
        }
        return confidence;
    }

    /** @return DATW discrepancy {@code (1 - cos) / 2}, float32 [B, K]; owned by this result */
    public Tensor discrepancy() {
        open();
        if (discrepancy == null) {
            discrepancy = view(2);
        }
        return discrepancy;
    }

    private Tensor view(int block) {
        long bk = batch * teachers;
        try (PointerScope scope = new PointerScope()) {
            return aux.narrow(0, block * bk, bk).view(batch, teachers).retainReference();
        }
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
        for (Tensor t : new Tensor[] {weights, confidence, discrepancy}) {
            if (t != null) {
                t.close();
            }
        }
        loss.close();
        aux.close();
    }
}
