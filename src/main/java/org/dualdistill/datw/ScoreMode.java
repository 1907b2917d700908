package org.dualdistill.datw;

/** How DATW combines confidence and discrepancy into a teacher score {@code e_k}. */
public enum ScoreMode {
    /** {@code e_k = conf_k * disc_k} (default). */
    PRODUCT,
    /** {@code e_k = lambda * conf_k + (1 - lambda) * disc_k}. */
    SUM
}
