package org.dualdistill.train;

/**
 * Evaluation metrics as plain Java values.
 *
 * @param samples          scored samples (videos when clips were averaged per video, else clips)
 * @param clips            clips forwarded
 * @param top1             top-1 accuracy in [0, 1]
 * @param top5             top-min(5, C) accuracy in [0, 1]
 * @param perClassAccuracy per true class, correct / count (NaN for a class without samples)
 * @param classCounts      samples per true class
 * @param confusion        [true][predicted] counts; row i sums to {@code classCounts[i]}
 * @param videoLevel       whether softmax scores were averaged over the clips of each video
 */
public record EvalResult(long samples, long clips, double top1, double top5, double[] perClassAccuracy,
                         long[] classCounts, long[][] confusion, boolean videoLevel) {
    /** @return mean of the per-class accuracies over classes that have samples */
    public double meanClassAccuracy() {
        double s = 0;
        int n = 0;
        for (double a : perClassAccuracy) {
            if (!Double.isNaN(a)) {
                s += a;
                n++;
            }
        }
        return n == 0 ? Double.NaN : s / n;
    }

    /**
     * Metrics of a model with a verb head and a noun head (EPIC-KITCHENS).
     *
     * @param verb       verb-head metrics (top-1, top-5, per-class, confusion over the verb classes)
     * @param noun       noun-head metrics
     * @param actionTop1 fraction of samples whose verb and noun are both right, in [0, 1]
     * @param actionTop5 fraction whose true (verb, noun) pair is among the 5 best by {@code p_verb * p_noun}
     */
    public record VerbNoun(EvalResult verb, EvalResult noun, double actionTop1, double actionTop5) {
        /** @return scored samples (videos when clips were averaged per video, else clips) */
        public long samples() {
            return verb.samples();
        }
    }
}
