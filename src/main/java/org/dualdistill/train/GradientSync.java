package org.dualdistill.train;

import org.bytedeco.pytorch.Tensor;

/**
 * A hook the {@link Trainer} calls around each step's backward pass, so that data-parallel training can average the
 * gradients of every replica before they are clipped and applied. {@code org.dualdistill.distributed.DataParallel}
 * implements it over PyTorch's c10d {@code Reducer}; a single-process run has none.
 *
 * <p>Order within one optimizer step: {@link #beforeForward()}, student (and teacher) forward, objective,
 * {@link #beforeBackward(Tensor)}, {@code loss.backward()}, {@link #afterBackward()}, gradient clipping, schedule,
 * optimizer step. Every rank must call the hooks the same number of times in the same order (they run collectives).
 * Calls come from the training thread, inside the step's {@code PointerScope}.
 */
public interface GradientSync {

    /** Before the forward pass (e.g. broadcast BatchNorm running statistics from rank 0). */
    default void beforeForward() {
    }

    /**
     * Before {@code loss.backward()} (e.g. arm the bucketed all-reduce hooks).
     *
     * @param loss the scalar the trainer is about to back-propagate (borrowed)
     */
    void beforeBackward(Tensor loss);

    /** After {@code loss.backward()} returned: every gradient must now be the replicas' average. */
    void afterBackward();
}
