package org.dualdistill.report;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import org.apache.commons.math3.distribution.TDistribution;

/**
 * Statistics of the benchmark's rows over student seeds (issue 14): the mean with a 95% Student's t confidence
 * interval, paired differences between two rows that pair the same seed (paired t-test, and a paired bootstrap with a
 * fixed seed), and accuracy per class family. The t distribution is Apache commons-math3's. Stateless and thread-safe.
 *
 * <p>Values are in the caller's unit (the benchmark uses top-1 in percent); nothing here rescales them.
 *
 * <p>Edge cases, by design:
 * <ul>
 *   <li>one seed: {@link Summary} has the mean and no interval ({@code lo}, {@code hi}, {@code sd} are NaN,
 *       {@link Summary#hasInterval()} is false); a paired test needs at least 2 pairs and throws otherwise;</li>
 *   <li>zero seeds, NaN or infinite values, or rows of different lengths: {@link IllegalArgumentException} saying
 *       which;</li>
 *   <li>all paired differences equal (zero spread): the t statistic is undefined (scipy returns NaN). Here identical
 *       rows (every difference 0) give {@code t = 0, p = 1} (no evidence of a difference), and a constant non-zero
 *       difference gives {@code t = +-Infinity, p = 0} (every seed moved by the same amount), as scipy does for the
 *       latter.</li>
 * </ul>
 */
public final class RowStatistics {
    /** The confidence level of every interval. */
    public static final double LEVEL = 0.95;

    private RowStatistics() {
    }

    /**
     * Mean and 95% confidence interval of one row over seeds.
     *
     * @param mean the sample mean
     * @param sd   the sample standard deviation (n - 1 in the denominator); NaN for n = 1
     * @param lo   lower end of the t interval {@code mean - t(0.975, n-1) sd / sqrt(n)}; NaN for n = 1
     * @param hi   upper end; NaN for n = 1
     * @param n    number of seeds
     */
    public record Summary(double mean, double sd, double lo, double hi, int n) {
        /** @return whether there is an interval (n &gt;= 2) */
        public boolean hasInterval() {
            return n >= 2;
        }
    }

    /**
     * A paired comparison of row a against row b (a - b per seed).
     *
     * @param meanDifference mean of a - b
     * @param lo             lower end of the 95% t interval of the mean difference
     * @param hi             upper end
     * @param t              the paired t statistic (see the class comment for zero spread)
     * @param df             degrees of freedom, n - 1
     * @param p              two-sided p-value of the paired t-test
     */
    public record PairedTest(double meanDifference, double lo, double hi, double t, int df, double p) {
    }

    /**
     * @param values one value per seed (&gt;= 1, finite)
     * @return mean, sd and the 95% t interval (no interval for one seed)
     * @throws IllegalArgumentException on an empty array or a non-finite value
     */
    public static Summary summarize(double[] values) {
        check(values, "values");
        int n = values.length;
        double mean = mean(values);
        if (n == 1) {
            return new Summary(mean, Double.NaN, Double.NaN, Double.NaN, 1);
        }
        double sd = sd(values, mean);
        double h = tQuantile(n - 1) * sd / Math.sqrt(n);
        return new Summary(mean, sd, mean - h, mean + h, n);
    }

    /**
     * Paired t-test of two rows whose index i is the same seed (same data order, same initialization).
     *
     * @param a one row, one value per seed
     * @param b the other row, same seeds in the same order
     * @return the test of a - b
     * @throws IllegalArgumentException if the lengths differ, fewer than 2 pairs, or a value is not finite
     */
    public static PairedTest pairedT(double[] a, double[] b) {
        double[] d = differences(a, b);
        int n = d.length;
        double mean = mean(d);
        double sd = sd(d, mean);
        int df = n - 1;
        if (sd == 0) {
            return mean == 0 ? new PairedTest(0, 0, 0, 0, df, 1)
                    : new PairedTest(mean, mean, mean, Math.copySign(Double.POSITIVE_INFINITY, mean), df, 0);
        }
        double se = sd / Math.sqrt(n);
        double t = mean / se;
        double p = 2 * new TDistribution(null, df).cumulativeProbability(-Math.abs(t));
        double h = tQuantile(df) * se;
        return new PairedTest(mean, mean - h, mean + h, t, df, Math.min(1, p));
    }

    /**
     * Two-sided paired bootstrap p-value of mean(a - b) = 0: the differences are centred (the null hypothesis),
     * resampled with replacement {@code resamples} times with a {@link SplittableRandom} of {@code seed}, and
     * {@code p = (1 + #{|mean*| >= |mean|}) / (1 + resamples)}. Identical rows give 1. With few seeds the bootstrap is
     * coarse (5 seeds have 126 distinct resamples): the t-test is the primary test.
     *
     * @param a         one row, one value per seed
     * @param b         the other row, same seeds in the same order
     * @param resamples number of bootstrap resamples (&gt;= 1)
     * @param seed      the resampling seed (fixed, so reports are reproducible)
     * @return the p-value in (0, 1]
     * @throws IllegalArgumentException as {@link #pairedT}, or {@code resamples < 1}
     */
    public static double pairedBootstrapP(double[] a, double[] b, int resamples, long seed) {
        double[] d = differences(a, b);
        if (resamples < 1) {
            throw new IllegalArgumentException("resamples must be >= 1, got " + resamples);
        }
        int n = d.length;
        double mean = mean(d);
        double observed = Math.abs(mean);
        double tol = 1e-12 * Math.max(1, observed);
        SplittableRandom rnd = new SplittableRandom(seed);
        int extreme = 0;
        for (int r = 0; r < resamples; r++) {
            double s = 0;
            for (int i = 0; i < n; i++) {
                s += d[rnd.nextInt(n)] - mean;
            }
            if (Math.abs(s / n) >= observed - tol) {
                extreme++;
            }
        }
        return (1.0 + extreme) / (1.0 + resamples);
    }

    /**
     * Accuracy per class family from a confusion matrix: for each family, the samples of its classes predicted as
     * their own class, over the samples of its classes. Families appear in order of first appearance.
     *
     * @param confusion     [true][predicted] counts, square
     * @param familyOfClass the family name of each class (label order), one per row of {@code confusion}
     * @return family -&gt; accuracy in [0, 1] (NaN for a family without samples)
     * @throws IllegalArgumentException if the sizes disagree or a count is negative
     */
    public static Map<String, Double> familyAccuracy(long[][] confusion, List<String> familyOfClass) {
        if (confusion == null || familyOfClass == null || confusion.length != familyOfClass.size()) {
            throw new IllegalArgumentException("need one family per class: " + (confusion == null ? "null" : confusion.length)
                    + " classes, " + (familyOfClass == null ? "null" : familyOfClass.size()) + " families");
        }
        Map<String, long[]> acc = new LinkedHashMap<>();
        for (int i = 0; i < confusion.length; i++) {
            if (confusion[i].length != confusion.length) {
                throw new IllegalArgumentException("confusion matrix must be square, row " + i + " has " + confusion[i].length);
            }
            long total = 0;
            for (long c : confusion[i]) {
                if (c < 0) {
                    throw new IllegalArgumentException("negative count in confusion row " + i);
                }
                total += c;
            }
            long[] s = acc.computeIfAbsent(familyOfClass.get(i), k -> new long[2]);
            s[0] += confusion[i][i];
            s[1] += total;
        }
        Map<String, Double> out = new LinkedHashMap<>();
        acc.forEach((k, v) -> out.put(k, v[1] == 0 ? Double.NaN : (double) v[0] / v[1]));
        return out;
    }

    /**
     * Summaries of per-family accuracy over seeds.
     *
     * @param perSeed one {@link #familyAccuracy} map per seed, same families
     * @return family -&gt; summary over the seeds
     * @throws IllegalArgumentException if no seed, or the seeds disagree on the families
     */
    public static Map<String, Summary> familySummaries(List<Map<String, Double>> perSeed) {
        if (perSeed == null || perSeed.isEmpty()) {
            throw new IllegalArgumentException("need at least one seed's family accuracies");
        }
        Map<String, Summary> out = new LinkedHashMap<>();
        for (String f : perSeed.get(0).keySet()) {
            List<Double> v = new ArrayList<>();
            for (int s = 0; s < perSeed.size(); s++) {
                Double x = perSeed.get(s).get(f);
                if (x == null || perSeed.get(s).size() != perSeed.get(0).size()) {
                    throw new IllegalArgumentException("seed " + s + " has families " + perSeed.get(s).keySet() + ", seed 0 has "
                            + perSeed.get(0).keySet());
                }
                v.add(x);
            }
            out.put(f, summarize(v.stream().mapToDouble(Double::doubleValue).toArray()));
        }
        return out;
    }

    /**
     * @param df degrees of freedom (&gt;= 1)
     * @return the 0.975 quantile of Student's t with {@code df} degrees of freedom (2.776445 for df = 4)
     */
    public static double tQuantile(int df) {
        if (df < 1) {
            throw new IllegalArgumentException("degrees of freedom must be >= 1, got " + df);
        }
        return new TDistribution(null, df).inverseCumulativeProbability(0.5 + LEVEL / 2);
    }

    private static double[] differences(double[] a, double[] b) {
        check(a, "row a");
        check(b, "row b");
        if (a.length != b.length) {
            throw new IllegalArgumentException("paired rows need the same seeds: " + a.length + " vs " + b.length + " values");
        }
        if (a.length < 2) {
            throw new IllegalArgumentException("a paired test needs at least 2 seeds, got " + a.length);
        }
        double[] d = new double[a.length];
        for (int i = 0; i < d.length; i++) {
            d[i] = a[i] - b[i];
        }
        return d;
    }

    private static void check(double[] v, String what) {
        if (v == null || v.length == 0) {
            throw new IllegalArgumentException(what + ": need at least one seed's value");
        }
        for (int i = 0; i < v.length; i++) {
            if (!Double.isFinite(v[i])) {
                throw new IllegalArgumentException(what + ": value of seed index " + i + " is " + v[i]);
            }
        }
    }

    private static double mean(double[] v) {
        double s = 0;
        for (double x : v) {
            s += x;
        }
        return s / v.length;
    }

    private static double sd(double[] v, double mean) {
        double s = 0;
        for (double x : v) {
            s += (x - mean) * (x - mean);
        }
        return Math.sqrt(s / (v.length - 1));
    }
}
