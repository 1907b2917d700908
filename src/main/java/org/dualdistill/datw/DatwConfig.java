package org.dualdistill.datw;

import org.dualdistill.kernels.KernelBackend;

/**
 * Every knob of the DATW + KD + CE loss, validated on construction. Immutable and thread-safe.
 *
 * @param weighting      teacher weighting (default {@link Weighting#DATW})
 * @param scoreMode      DATW score (default {@link ScoreMode#PRODUCT})
 * @param normalization  DATW normalization (default {@link Normalization#SOFTMAX})
 * @param temperature    KD temperature T > 0 (default 4)
 * @param tauConf        temperature of the confidence softmax, > 0 (default 1)
 * @param tauWeight      temperature of the weight softmax, > 0 (default 0.25)
 * @param lambda         {@link ScoreMode#SUM} mixing in [0, 1] (default 0.5)
 * @param linearEps      {@link Normalization#LINEAR} smoothing >= 0 (default 1e-8)
 * @param alphaCe        weight of L_ce (default 1; 0 allows calls without labels)
 * @param alphaKd        weight of L_kd (default 1)
 * @param labelSmoothing label smoothing of the CE term in [0, 1) (default 0)
 * @param backend        implementation (default {@link KernelBackend#AUTO})
 * @param checkFinite    whether the TORCH backend checks inputs for NaN/inf (the fused kernels always do)
 * @param numThreads     CPU kernel threads, 0 = OpenMP default
 */
public record DatwConfig(Weighting weighting, ScoreMode scoreMode, Normalization normalization, double temperature,
                         double tauConf, double tauWeight, double lambda, double linearEps, double alphaCe,
                         double alphaKd, double labelSmoothing, KernelBackend backend, boolean checkFinite,
                         int numThreads) {

    /** Validates every field; messages name the knob and the value. */
    public DatwConfig {
        if (weighting == null || scoreMode == null || normalization == null || backend == null) {
            throw new IllegalArgumentException("weighting, scoreMode, normalization and backend must not be null");
        }
        positive("temperature", temperature);
        positive("tauConf", tauConf);
        positive("tauWeight", tauWeight);
        if (!(lambda >= 0 && lambda <= 1)) {
            throw new IllegalArgumentException("lambda must be in [0, 1], got " + lambda);
        }
        if (!(linearEps >= 0) || Double.isInfinite(linearEps)) {
            throw new IllegalArgumentException("linearEps must be finite and >= 0, got " + linearEps);
        }
        finite("alphaCe", alphaCe);
        finite("alphaKd", alphaKd);
        if (!(labelSmoothing >= 0 && labelSmoothing < 1)) {
            throw new IllegalArgumentException("labelSmoothing must be in [0, 1), got " + labelSmoothing);
        }
        if (numThreads < 0) {
            throw new IllegalArgumentException("numThreads must be >= 0 (0 = default), got " + numThreads);
        }
    }

    private static void positive(String name, double v) {
        if (!(v > 0) || Double.isInfinite(v)) {
            throw new IllegalArgumentException(name + " must be finite and > 0, got " + v);
        }
    }

    private static void finite(String name, double v) {
        if (!Double.isFinite(v)) {
            throw new IllegalArgumentException(name + " must be finite, got " + v);
        }
    }

    /** @return the defaults of docs/method.md */
    public static DatwConfig defaults() {
        return new DatwConfig(Weighting.DATW, ScoreMode.PRODUCT, Normalization.SOFTMAX, 4.0, 1.0, 0.25, 0.5, 1e-8,
                1.0, 1.0, 0.0, KernelBackend.AUTO, true, 0);
    }

    /** @return a copy with another backend */
    public DatwConfig withBackend(KernelBackend b) {
        return new DatwConfig(weighting, scoreMode, normalization, temperature, tauConf, tauWeight, lambda, linearEps,
                alphaCe, alphaKd, labelSmoothing, b, checkFinite, numThreads);
    }
}
