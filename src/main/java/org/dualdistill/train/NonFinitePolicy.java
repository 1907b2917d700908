package org.dualdistill.train;

/**
 * What {@link Trainer} does when a step's loss (any term or the total) or its global gradient norm is NaN or
 * infinite ({@code run.onNonFinite}).
 */
public enum NonFinitePolicy {
    /** Stop at that step with a {@link NonFiniteException}; the optimizer step is not taken. The default. */
    STOP,
    /**
     * Drop that optimizer step (the weights and optimizer state stay as they were, as AMP's GradScaler does when it
     * finds inf/NaN gradients), log it, and go on with the next batch; after {@code run.maxNonFiniteSkips}
     * consecutive dropped steps, stop as {@link #STOP} does. The batch-norm running statistics the skipped forward
     * pass updated are kept.
     */
    SKIP
}
