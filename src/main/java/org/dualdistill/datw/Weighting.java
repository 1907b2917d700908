package org.dualdistill.datw;

/**
 * How per-sample teacher weights are formed (docs/method.md). All weights are constants for the
 * gradient.
 */
public enum Weighting {
    /** DATW: score from confidence and discrepancy ({@link ScoreMode}), normalized ({@link Normalization}). */
    DATW,
    /** {@code w_k = 1/K}: plain multi-teacher averaging. */
    UNIFORM,
    /** EBKD: {@code w_k proportional to 1 - H_k / sum_j H_j} (entropy-based, label-free). */
    EBKD,
    /** CA-MKD: {@code w_k = (1 - softmax_k(CE(t_k, y))) / (K - 1)}; needs labels and K >= 2. */
    CAMKD
}
