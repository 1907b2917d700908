package org.dualdistill.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

/**
 * Golden numbers from Debian's python3-scipy 1.10.1 (scipy.stats.t.ppf, scipy.stats.ttest_rel, numpy std ddof=1),
 * computed independently of commons-math3:
 * <pre>
 * a = [61.2, 58.9, 63.4, 60.1, 62.7]; b = [57.0, 57.5, 60.2, 58.8, 59.1]
 * mean +- t.ppf(0.975, n-1) * std(ddof=1) / sqrt(n);  ttest_rel(a, b)
 * </pre>
 */
class RowStatisticsTest {
    private static final double[] A = {61.2, 58.9, 63.4, 60.1, 62.7};
    private static final double[] B = {57.0, 57.5, 60.2, 58.8, 59.1};

    @Test
    void tQuantilesAreTheTextbookOnes() {
        assertEquals(2.776445105, RowStatistics.tQuantile(4), 1e-9);
        assertEquals(4.302652730, RowStatistics.tQuantile(2), 1e-9);
        assertEquals(12.706204736, RowStatistics.tQuantile(1), 1e-8);
        assertThrows(IllegalArgumentException.class, () -> RowStatistics.tQuantile(0));
    }

    @Test
    void meanAndIntervalMatchScipy() {
        RowStatistics.Summary a = RowStatistics.summarize(A);
        assertEquals(61.26, a.mean(), 1e-12);
        assertEquals(1.842009771961, a.sd(), 1e-11);
        assertEquals(58.972842781816, a.lo(), 1e-9);
        assertEquals(63.547157218184, a.hi(), 1e-9);
        assertEquals(5, a.n());
        assertTrue(a.hasInterval());
        RowStatistics.Summary b = RowStatistics.summarize(B);
        assertEquals(56.926504326688, b.lo(), 1e-9);
        assertEquals(60.113495673312, b.hi(), 1e-9);
        RowStatistics.Summary c = RowStatistics.summarize(new double[] {70.0, 72.5, 69.0});
        assertEquals(66.021657052317, c.lo(), 1e-9);
        assertEquals(74.978342947683, c.hi(), 1e-9);
    }

    @Test
    void pairedTTestMatchesScipy() {
        RowStatistics.PairedTest t = RowStatistics.pairedT(A, B);
        assertEquals(2.74, t.meanDifference(), 1e-12);
        assertEquals(4.647406691136, t.t(), 1e-9);
        assertEquals(4, t.df());
        assertEquals(0.00968020624733, t.p(), 1e-11);
        assertEquals(1.1030742704848646, t.lo(), 1e-9);
        assertEquals(4.376925729515136, t.hi(), 1e-9);
        RowStatistics.PairedTest r = RowStatistics.pairedT(B, A);
        assertEquals(-t.t(), r.t(), 1e-12);
        assertEquals(t.p(), r.p(), 1e-15);
        RowStatistics.PairedTest three = RowStatistics.pairedT(new double[] {70.0, 72.5, 69.0}, new double[] {71.0, 71.5, 70.5});
        assertEquals(-0.654653670708, three.t(), 1e-9);
        assertEquals(0.579915974792, three.p(), 1e-9);
    }

    @Test
    void edgeCasesAreExplicit() {
        // identical rows: no evidence of a difference (scipy gives NaN; documented choice p = 1)
        RowStatistics.PairedTest same = RowStatistics.pairedT(A, A.clone());
        assertEquals(1.0, same.p());
        assertEquals(0.0, same.t());
        assertEquals(0.0, same.meanDifference());
        // a constant non-zero shift: p = 0, t = +inf (as scipy)
        double[] shifted = {62.2, 59.9, 64.4, 61.1, 63.7};
        RowStatistics.PairedTest shift = RowStatistics.pairedT(shifted, new double[] {61.2, 58.9, 63.4, 60.1, 62.7});
        assertTrue(shift.p() < 1e-6, "p " + shift.p());
        assertTrue(shift.t() > 1e6);
        // one seed: a mean and no interval; a paired test is an error
        RowStatistics.Summary one = RowStatistics.summarize(new double[] {55.0});
        assertEquals(55.0, one.mean());
        assertFalse(one.hasInterval());
        assertTrue(Double.isNaN(one.lo()) && Double.isNaN(one.hi()) && Double.isNaN(one.sd()));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> RowStatistics.pairedT(new double[] {1}, new double[] {2}));
        assertTrue(e.getMessage().contains("at least 2 seeds"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> RowStatistics.summarize(new double[0]));
        assertThrows(IllegalArgumentException.class, () -> RowStatistics.summarize(new double[] {1, Double.NaN}));
        e = assertThrows(IllegalArgumentException.class, () -> RowStatistics.pairedT(A, new double[] {1, 2}));
        assertTrue(e.getMessage().contains("same seeds"), e.getMessage());
    }

    @Test
    void pairedBootstrapIsReproducibleAndAgreesInDirection() {
        double p = RowStatistics.pairedBootstrapP(A, B, 10_000, 42);
        assertEquals(p, RowStatistics.pairedBootstrapP(A, B, 10_000, 42));
        assertTrue(p > 0 && p < 0.05, "a clear difference: " + p);
        assertEquals(1.0, RowStatistics.pairedBootstrapP(A, A.clone(), 1000, 1));
        double noise = RowStatistics.pairedBootstrapP(new double[] {70.0, 72.5, 69.0, 71.0}, new double[] {71.0, 71.5, 70.5, 70.0}, 10_000, 3);
        assertTrue(noise > 0.3, "no difference: " + noise);
        // the smallest possible p with B resamples is 1 / (B + 1)
        assertTrue(RowStatistics.pairedBootstrapP(new double[] {10, 11, 12, 13, 14, 15}, new double[] {0, 1.2, 1.9, 3.1, 4, 5}, 999, 5)
                >= 1.0 / 1000);
        assertThrows(IllegalArgumentException.class, () -> RowStatistics.pairedBootstrapP(A, B, 0, 1));
    }

    @Test
    void familyAccuracyPoolsTheClassesOfAFamily() {
        // 4 classes: local, local, relation, relation; hand-computed: local (8 + 6) / (10 + 10) = 0.7, relation (3 + 5) / (10 + 6)
        long[][] confusion = {
            {8, 2, 0, 0},
            {3, 6, 1, 0},
            {0, 0, 3, 7},
            {0, 1, 0, 5},
        };
        Map<String, Double> f = RowStatistics.familyAccuracy(confusion, List.of("local", "local", "relation", "relation"));
        assertEquals(List.of("local", "relation"), List.copyOf(f.keySet()));
        assertEquals(0.7, f.get("local"), 1e-15);
        assertEquals(0.5, f.get("relation"), 1e-15);
        assertTrue(Double.isNaN(RowStatistics.familyAccuracy(new long[][] {{1, 0}, {0, 0}}, List.of("a", "b")).get("b")));
        assertThrows(IllegalArgumentException.class, () -> RowStatistics.familyAccuracy(confusion, List.of("local")));
        Map<String, RowStatistics.Summary> s = RowStatistics.familySummaries(List.of(Map.of("local", 0.7), Map.of("local", 0.9)));
        assertEquals(0.8, s.get("local").mean(), 1e-15);
        // two seeds: 0.8 +- 12.706204736 * 0.141421356 / sqrt 2
        assertEquals(0.8 - 12.706204736 * 0.1, s.get("local").lo(), 1e-8);
        assertThrows(IllegalArgumentException.class,
                () -> RowStatistics.familySummaries(List.of(Map.of("local", 0.7), Map.of("relation", 0.9))));
    }
}
