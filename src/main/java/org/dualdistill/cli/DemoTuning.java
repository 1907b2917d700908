package org.dualdistill.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.dualdistill.cli.AblationRunner.fmt;

/**
 * {@code demo --tune}: chooses the benchmark's student hyperparameters ({@link DemoHparams#KEYS}) on the VALIDATION split
 * only, by a staged grid (coordinate search), with tuning seeds disjoint from the evaluation seeds. The test split is
 * evaluated by the runner too, but never read here.
 *
 * <p>Stages, in order, each keeping the values chosen before it:
 * <ol>
 *   <li>{@code optimizer.lr} in {0.001, 0.003, 0.01} on {@code student_alone} (the learning rate of every row);</li>
 *   <li>{@code objective.temperature} in {2, 4} x {@code objective.alphaKd} in {0.5, 1} on {@code uniform} (the KD
 *       settings every distillation row shares, chosen on a baseline, not on the method's rows);</li>
 *   <li>{@code objective.sddWeight} in {0.3, 1} on {@code datw_sdd};</li>
 *   <li>{@code objective.rkdWeight} in {0.3, 1} on {@code datw_sdd_rkd}.</li>
 * </ol>
 * Score: mean validation top-1 over the tuning seeds; a candidate replaces the current one only when strictly better,
 * so ties keep the earlier candidate. Epochs and batch size are not tuned: the time budget fixes them. Not thread-safe.
 */
final class DemoTuning {
    /** One stage: the row it is scored on and the candidates (each a map of keys to values). */
    record Stage(String row, List<Map<String, String>> candidates) {
    }

    /** One evaluated candidate. */
    record Trial(String row, Map<String, String> values, double[] valTop1, double mean) {
    }

    /** The stages (see the class comment). */
    static final List<Stage> STAGES = List.of(
            new Stage("student_alone", List.of(Map.of("optimizer.lr", "0.003"), Map.of("optimizer.lr", "0.001"),
                    Map.of("optimizer.lr", "0.01"))),
            new Stage("uniform", List.of(kv("objective.temperature", "4", "objective.alphaKd", "1"),
                    kv("objective.temperature", "4", "objective.alphaKd", "0.5"), kv("objective.temperature", "2", "objective.alphaKd", "1"),
                    kv("objective.temperature", "2", "objective.alphaKd", "0.5"))),
            new Stage("datw_sdd", List.of(Map.of("objective.sddWeight", "1"), Map.of("objective.sddWeight", "0.3"))),
            new Stage("datw_sdd_rkd", List.of(Map.of("objective.rkdWeight", "1"), Map.of("objective.rkdWeight", "0.3"))));

    private DemoTuning() {
    }

    private static Map<String, String> kv(String k1, String v1, String k2, String v2) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put(k1, v1);
        m.put(k2, v2);
        return m;
    }

    /**
     * Runs the stages.
     *
     * @param runner the rows (its plan must not already carry the tuned keys' overrides: they are applied per trial)
     * @param start  the values each stage starts from
     * @param seeds  tuning seeds
     * @param epochs epochs per run (the default job's)
     * @param out    progress and the sweep table
     * @param trials filled with every evaluated candidate, in order
     * @return the chosen values (provenance says how)
     */
    static DemoHparams tune(AblationRunner runner, DemoHparams start, long[] seeds, int epochs, PrintStream out, List<Trial> trials)
            throws IOException {
        Map<String, String> cur = new LinkedHashMap<>(start.values());
        for (Stage st : STAGES) {
            Map<String, String> bestValues = null;
            double best = Double.NEGATIVE_INFINITY;
            for (Map<String, String> cand : st.candidates()) {
                Map<String, String> v = new LinkedHashMap<>(cur);
                v.putAll(cand);
                List<String> ov = new ArrayList<>();
                v.forEach((k, x) -> ov.add(k + "=" + x));
                List<AblationRunner.Run> runs = runner.run(List.of(st.row()), seeds, epochs, ov, "tune " + st.row() + " " + cand);
                double[] val = runs.stream().mapToDouble(AblationRunner.Run::valTop1).toArray();
                double mean = java.util.Arrays.stream(val).average().orElse(Double.NaN);
                trials.add(new Trial(st.row(), cand, val, mean));
                out.printf("tune: %-14s %-50s validation top-1 %s mean %.2f%n", st.row(), cand, java.util.Arrays.toString(val), mean);
                if (mean > best) {
                    best = mean;
                    bestValues = cand;
                }
            }
            cur.putAll(bestValues);
            out.printf("tune: %s -> %s (validation %.2f)%n", st.row(), bestValues, best);
        }
        StringBuilder seedText = new StringBuilder();
        for (long s : seeds) {
            seedText.append(seedText.isEmpty() ? "" : ",").append(s);
        }
        return new DemoHparams(cur, fmt("demo --tune: staged grid on the validation split (never test), %d epochs, tuning seeds %s, "
                + "mean validation top-1; lr on student_alone, temperature x alphaKd on uniform, sddWeight on datw_sdd, "
                + "rkdWeight on datw_sdd_rkd", epochs, seedText), "demo --tune");
    }

    /** @return the sweep as comment lines for the properties file and RESULTS.md */
    static List<String> describe(List<Trial> trials) {
        List<String> out = new ArrayList<>();
        for (Trial t : trials) {
            out.add(fmt("%-14s %-52s val top-1 %s mean %.2f", t.row(), t.values(), java.util.Arrays.toString(t.valTop1()), t.mean()));
        }
        return out;
    }
}
