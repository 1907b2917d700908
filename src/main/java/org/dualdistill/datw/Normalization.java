package org.dualdistill.datw;

/** How DATW turns scores into weights that sum to one. */
public enum Normalization {
    /** {@code w = softmax_k(e / tau_w)} (default, tau_w = 0.25). */
    SOFTMAX,
    /** {@code w_k = (e_k + eps) / sum_j (e_j + eps)}. */
    LINEAR
}
