package org.dualdistill.train;

import java.util.Locale;

/**
 * Training stopped because a loss term, the total loss or the global gradient norm became NaN or infinite (the run
 * diverged). The message is one line naming the step, the term and the last learning rate, for example
 * {@code "training diverged at step 6: the ce loss is NaN (learning rate 933013); the newest checkpoint is from
 * before this step. Lower optimizer.lr, set optimizer.clipGradNorm, or set run.onNonFinite=skip"}.
 *
 * <p>When it is thrown the failing step's optimizer update has not been applied, and no checkpoint holding the
 * non-finite state was written: the newest checkpoint on disk is the last good one. Immutable.
 */
public final class NonFiniteException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * The term of a divergence found in the weights or statistics rather than in a loss: a step whose loss was finite
     * left a parameter or buffer (BatchNorm's running variance, say) non-finite.
     */
    public static final String MODEL_STATE = "model state";

    private final long step;
    private final String term;
    private final double value;
    private final double learningRate;
    private final int skipped;

    /**
     * @param step         the 1-based optimizer step at which the value appeared
     * @param term         {@code ce}, {@code kd}, {@code sdd}, {@code rkd}, {@code hint}, {@code total},
     *                     {@code gradient norm} or {@link #MODEL_STATE}
     * @param value        the non-finite value (NaN or an infinity)
     * @param learningRate the learning rate of that step
     * @param skipped      consecutive steps dropped before this one under {@link NonFinitePolicy#SKIP}
     * @param detail       what else is known (e.g. which input was non-finite), or null
     */
    public NonFiniteException(long step, String term, double value, double learningRate, int skipped, String detail) {
        super(message(step, term, value, learningRate, skipped, detail));
        this.step = step;
        this.term = term;
        this.value = value;
        this.learningRate = learningRate;
        this.skipped = skipped;
    }

    private static String message(long step, String term, double value, double lr, int skipped, String detail) {
        String what = term.equals("gradient norm") ? "the global gradient norm"
                : term.equals(MODEL_STATE) ? "the model state" : "the " + term + " loss";
        StringBuilder why = new StringBuilder();
        if (detail != null) {
            why.append(detail).append("; ");
        }
        why.append("learning rate ").append(String.format(Locale.ROOT, "%.6g", lr));
        if (skipped > 0) {
            why.append("; after ").append(skipped).append(" consecutive skipped steps");
        }
        return "training diverged at step " + step + ": " + what + " is "
                + (term.equals(MODEL_STATE) ? "non-finite" : Double.isNaN(value) ? "NaN" : value > 0 ? "+inf" : "-inf") + " (" + why + "); the newest checkpoint "
                + "is from before this step. Lower optimizer.lr, set optimizer.clipGradNorm"
                + (skipped > 0 ? ", or raise run.maxNonFiniteSkips" : ", or set run.onNonFinite=skip");
    }

    /** @return the 1-based step at which the value appeared */
    public long step() {
        return step;
    }

    /** @return the term: {@code ce}, {@code kd}, {@code sdd}, {@code rkd}, {@code hint}, {@code total} or {@code gradient norm} */
    public String term() {
        return term;
    }

    /** @return the non-finite value */
    public double value() {
        return value;
    }

    /** @return the learning rate of the failing step */
    public double learningRate() {
        return learningRate;
    }

    /** @return consecutive steps dropped under {@link NonFinitePolicy#SKIP} before this one */
    public int skipped() {
        return skipped;
    }
}
