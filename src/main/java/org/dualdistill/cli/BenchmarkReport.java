package org.dualdistill.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import org.dualdistill.report.BenchmarkResults;
import org.dualdistill.report.Charts;
import org.dualdistill.report.HtmlReport;
import org.dualdistill.report.RowStatistics;

import static org.dualdistill.cli.AblationRunner.display;
import static org.dualdistill.cli.AblationRunner.fmt;

/**
 * The benchmark's report (issue 14, item 4): from the student runs of {@link AblationRunner} and the teachers, prints the
 * table to stdout and writes into one folder {@code index.html} (mean and 95% t interval per row, paired differences
 * with p-values against student alone and the best single-teacher row, the per-family table, the hyperparameters and
 * how they were chosen), {@code results.json} ({@link BenchmarkResults}), {@code runs.json} (every run's numbers) and
 * the charts: rows with their intervals, DATW's mean teacher weight per family over training, each loss term over
 * training, the training loss per row, and a confusion matrix. Stateless.
 */
final class BenchmarkReport {
    private BenchmarkReport() {
    }

    /**
     * Everything the report shows besides the runs.
     *
     * @param title          page title
     * @param paragraphs     text above the tables (data, models, schedule)
     * @param teachers       the teachers (test top-1 and per-family top-1, percent)
     * @param familyOfClass  family of each class label, or null (no per-family table and weight plot)
     * @param classNames     class names in label order
     * @param hyperparameters rows {key, value, how chosen}
     * @param masterSeed     the run's master seed
     */
    record Context(String title, List<String> paragraphs, List<AblationRunner.TeacherRow> teachers, List<String> familyOfClass,
                   List<String> classNames, List<List<String>> hyperparameters, long masterSeed) {
    }

    /**
     * Prints the table and writes the report folder.
     *
     * @param runs         the runs (every row with the same seeds)
     * @param ctx          the context
     * @param dir          the report folder
     * @param totalSeconds wall time of the whole job so far
     * @param out          where the table goes (stdout)
     * @return the analysis written to results.json
     * @throws IOException on write failure
     */
    static BenchmarkResults.Analysis write(List<AblationRunner.Run> runs, Context ctx, Path dir, double totalSeconds,
                                           PrintStream out) throws IOException {
        List<String> rowNames = AblationRunner.ROWS.stream().filter(r -> runs.stream().anyMatch(x -> x.row().equals(r))).toList();
        List<BenchmarkResults.Row> rows = new ArrayList<>();
        for (String r : rowNames) {
            List<AblationRunner.Run> rs = of(runs, r);
            rows.add(new BenchmarkResults.Row(r, rs.stream().mapToLong(AblationRunner.Run::seed).toArray(),
                    rs.stream().mapToDouble(AblationRunner.Run::top1).toArray()));
        }
        BenchmarkResults.Analysis a = BenchmarkResults.analyze(rows);
        String best = a.bestSingleTeacherRow();
        int nSeeds = rows.get(0).seeds().length;
        Files.createDirectories(dir);
        Map<String, Double> teacherTop1 = new LinkedHashMap<>();
        for (AblationRunner.TeacherRow t : ctx.teachers()) {
            teacherTop1.put(t.name(), t.top1());
        }
        BenchmarkResults.write(dir.resolve("results.json"), a, teacherTop1, ctx.masterSeed(), totalSeconds);

        // main table
        List<String> header = List.of("row", "test top-1 (%)", "95% CI", "sd", "seeds", "vs student alone: diff (p)",
                "vs best single-teacher: diff (p)", "p bootstrap vs best", "val top-1 (%)", "s / run", "cpu s / run");
        List<List<String>> table = new ArrayList<>();
        for (BenchmarkResults.RowResult rr : a.rows()) {
            List<AblationRunner.Run> rs = of(runs, rr.name());
            RowStatistics.Summary s = rr.top1();
            String boot = "";
            if (best != null && !rr.name().equals(best) && nSeeds >= 2) {
                boot = fmt("%.3f", RowStatistics.pairedBootstrapP(top1(rs), top1(of(runs, best)), 10_000, 0));
            }
            table.add(List.of(display(rr.name()), fmt("%.1f", s.mean()), s.hasInterval() ? fmt("[%.1f, %.1f]", s.lo(), s.hi()) : "",
                    s.hasInterval() ? fmt("%.1f", s.sd()) : "", Integer.toString(s.n()), diff(rr.vsStudentAlone()),
                    diff(rr.vsBestSingleTeacher()), boot, fmt("%.1f", mean(rs.stream().mapToDouble(AblationRunner.Run::valTop1).toArray())),
                    fmt("%.1f", mean(rs.stream().mapToDouble(AblationRunner.Run::seconds).toArray())),
                    fmt("%.1f", mean(rs.stream().mapToDouble(AblationRunner.Run::cpuSeconds).toArray()))));
        }
        for (AblationRunner.TeacherRow t : ctx.teachers()) {
            table.add(List.of("(teacher " + t.name() + ")", fmt("%.1f", t.top1()), "", "", "", "", "", "", "", "", ""));
        }
        List<String> mainNotes = List.of("Test top-1 is the mean over " + nSeeds + " student seed(s) (" + seedList(rows.get(0).seeds())
                + "); the 95% CI is Student's t interval over seeds. diff = mean paired difference in points (row minus "
                + "reference, same seed = same initialization and data order), p = two-sided paired t-test. The best "
                + "single-teacher row is " + (best == null ? "absent" : display(best)) + ". The bootstrap p (10,000 "
                + "resamples, fixed seed) is secondary: with 5 seeds it has only 126 distinct resamples. Validation top-1 "
                + "is shown because hyperparameters were chosen on it; test was never used for a choice.");

        // per-family table
        List<HtmlReport.Table> tables = new ArrayList<>();
        tables.add(new HtmlReport.Table("Rows (test split)", header, table, mainNotes));
        List<String> families = ctx.familyOfClass() == null ? List.of() : ctx.familyOfClass().stream().distinct().toList();
        List<List<String>> famTable = new ArrayList<>();
        Map<String, Map<String, RowStatistics.Summary>> famSummaries = new LinkedHashMap<>();
        if (!families.isEmpty()) {
            for (String r : rowNames) {
                List<Map<String, Double>> perSeed = new ArrayList<>();
                for (AblationRunner.Run run : of(runs, r)) {
                    Map<String, Double> m = new LinkedHashMap<>();
                    RowStatistics.familyAccuracy(run.test().confusion(), ctx.familyOfClass()).forEach((k, v) -> m.put(k, 100 * v));
                    perSeed.add(m);
                }
                Map<String, RowStatistics.Summary> fs = RowStatistics.familySummaries(perSeed);
                famSummaries.put(r, fs);
                List<String> line = new ArrayList<>(List.of(display(r)));
                for (String f : families) {
                    RowStatistics.Summary s = fs.get(f);
                    line.add(s.hasInterval() ? fmt("%.1f [%.1f, %.1f]", s.mean(), s.lo(), s.hi()) : fmt("%.1f", s.mean()));
                }
                famTable.add(line);
            }
            for (AblationRunner.TeacherRow t : ctx.teachers()) {
                List<String> line = new ArrayList<>(List.of("(teacher " + t.name() + ")"));
                for (String f : families) {
                    Double v = t.familyTop1() == null ? null : t.familyTop1().get(f);
                    line.add(v == null ? "" : fmt("%.1f", v));
                }
                famTable.add(line);
            }
            List<String> fh = new ArrayList<>(List.of("row"));
            for (String f : families) {
                fh.add(f + " top-1 (%) [95% CI]");
            }
            tables.add(new HtmlReport.Table("Per class family (test split)", fh, famTable, List.of("Top-1 within each family's "
                    + "classes (every prediction counts: a clip of a local class predicted as a relation class is wrong). "
                    + "Chance is 1/" + ctx.classNames().size() + " overall; a model that tells the families apart but not the "
                    + "classes inside one is at 1/(classes in the family).")));
        }
        tables.add(new HtmlReport.Table("Hyperparameters", List.of("key", "value", "how chosen"), ctx.hyperparameters(), List.of()));

        // stdout
        out.println();
        out.printf("%-18s %8s %14s %6s %14s %14s %8s %7s%n", "row", "top-1", "95% CI", "sd", "vs alone (p)", "vs best-1T (p)",
                "val", "s/run");
        for (int i = 0; i < a.rows().size(); i++) {
            List<String> t = table.get(i);
            out.printf("%-18s %8s %14s %6s %14s %14s %8s %7s%n", t.get(0), t.get(1), t.get(2), t.get(3), t.get(5), t.get(6),
                    t.get(8), t.get(9));
        }
        for (AblationRunner.TeacherRow t : ctx.teachers()) {
            out.printf("%-18s %8s%n", "(teacher " + t.name() + ")", fmt("%.1f", t.top1()));
        }
        out.printf("top-1 (%%): test split, mean over %d seed(s); p: paired t-test; best single-teacher row: %s; total %.1f s%n",
                nSeeds, best == null ? "-" : display(best), totalSeconds);
        if (!families.isEmpty()) {
            out.println();
            out.printf("%-18s", "per family");
            for (String f : families) {
                out.printf(" %22s", f);
            }
            out.println();
            for (List<String> t : famTable) {
                out.printf("%-18s", t.get(0));
                for (int i = 1; i < t.size(); i++) {
                    out.printf(" %22s", t.get(i));
                }
                out.println();
            }
        }

        // charts
        List<HtmlReport.Figure> figs = new ArrayList<>();
        double[] means = new double[a.rows().size()];
        double[] half = new double[a.rows().size()];
        for (int i = 0; i < means.length; i++) {
            RowStatistics.Summary s = a.rows().get(i).top1();
            means[i] = s.mean();
            half[i] = s.hasInterval() ? s.hi() - s.mean() : 0;
        }
        Charts.bars(dir.resolve("rows.png"), "Student test top-1, mean and 95% CI over " + nSeeds + " seed(s)", "top-1 (%)",
                rowNames.stream().map(AblationRunner::display).toList(), means, nSeeds > 1 ? half : null, 100);
        figs.add(new HtmlReport.Figure("rows.png", "Test top-1 per row: mean over seeds, error bars = 95% t interval"));
        for (String r : List.of("datw", "datw_sdd_rkd")) {
            double[][][] w = meanWeights(of(runs, r));
            if (w != null && w.length == 2 && !families.isEmpty()) {
                String f = "weights-" + r + ".png";
                Charts.teacherWeightsPerFamily(dir.resolve(f), display(r) + ": mean teacher weight per family (mean over seeds)",
                        List.of("vit", "cnn"), families, w);
                figs.add(new HtmlReport.Figure(f, display(r) + ": mean DATW weight of each teacher over the training clips "
                        + "of each family, per epoch, averaged over seeds"));
            }
        }
        Map<String, double[]> terms = meanTerms(of(runs, "datw_sdd_rkd"));
        if (terms != null) {
            Charts.lines(dir.resolve("loss-terms.png"), "DATW + SDD + RKD: loss terms per epoch (mean over seeds)", "epoch",
                    "loss (unweighted terms; total = weighted sum)", terms);
            figs.add(new HtmlReport.Figure("loss-terms.png", "Each loss term of DATW + SDD + RKD over training (unweighted; "
                    + "total is the weighted sum that was differentiated)"));
        }
        Map<String, double[]> curves = new LinkedHashMap<>();
        long firstSeed = runs.get(0).seed();
        for (AblationRunner.Run r : runs) {
            if (r.seed() == firstSeed) {
                curves.put(display(r.row()), r.losses());
            }
        }
        Charts.lines(dir.resolve("curves.png"), "Training loss per epoch (seed " + firstSeed + ")", "epoch", "mean loss", curves);
        figs.add(new HtmlReport.Figure("curves.png", "Training loss per epoch per row (first seed)"));
        AblationRunner.Run full = of(runs, rowNames.get(rowNames.size() - 1)).get(0);
        Charts.confusion(dir.resolve("confusion.png"), fmt("Confusion matrix (test): %s, seed %d (top-1 %.1f%%)",
                display(full.row()), full.seed(), full.top1()), full.test().confusion(), ctx.classNames());
        figs.add(new HtmlReport.Figure("confusion.png", "Confusion matrix of " + display(full.row()) + ", first seed"));

        List<String> paras = new ArrayList<>(ctx.paragraphs());
        paras.add(fmt("Master seed %d; total wall time %.1f s.", ctx.masterSeed(), totalSeconds));
        HtmlReport.write(dir.resolve("index.html"), ctx.title(), paras, tables, figs);
        writeRuns(dir.resolve("runs.json"), runs, ctx.familyOfClass());
        out.println("report: " + dir.resolve("index.html").toAbsolutePath());
        out.println("results: " + dir.resolve("results.json").toAbsolutePath());
        return a;
    }

    private static void writeRuns(Path file, List<AblationRunner.Run> runs, List<String> familyOfClass) throws IOException {
        List<Map<String, Object>> out = new ArrayList<>();
        for (AblationRunner.Run r : runs) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("row", r.row());
            m.put("seed", r.seed());
            m.put("test_top1", r.top1());
            m.put("val_top1", Double.isFinite(r.valTop1()) ? r.valTop1() : null);
            if (familyOfClass != null) {
                m.put("test_family_top1", RowStatistics.familyAccuracy(r.test().confusion(), familyOfClass));
                if (r.validation() != null) {
                    m.put("val_family_top1", RowStatistics.familyAccuracy(r.validation().confusion(), familyOfClass));
                }
            }
            m.put("seconds", r.seconds());
            m.put("cpu_seconds", Double.isFinite(r.cpuSeconds()) ? r.cpuSeconds() : null);
            m.put("epoch_loss", finiteOrNull(r.losses()));
            if (r.diagnostics() != null) {
                Map<String, Object> terms = new LinkedHashMap<>();
                r.diagnostics().terms().forEach((k, v) -> terms.put(k, finiteOrNull(v)));
                m.put("epoch_terms", terms);
                double[][][] w = r.diagnostics().weights();
                if (w != null) {
                    Map<String, Object> byTeacher = new LinkedHashMap<>();
                    for (int t = 0; t < w.length; t++) {
                        Map<String, Object> byFamily = new LinkedHashMap<>();
                        for (int f = 0; f < w[t].length; f++) {
                            byFamily.put(r.diagnostics().families().get(f), finiteOrNull(w[t][f]));
                        }
                        byTeacher.put(Integer.toString(t), byFamily);
                    }
                    m.put("epoch_teacher_weight_by_family", byTeacher);
                }
            }
            out.add(m);
        }
        Files.write(file, new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsBytes(out));
    }

    private static List<Double> finiteOrNull(double[] v) {
        List<Double> out = new ArrayList<>();
        for (double x : v) {
            out.add(Double.isFinite(x) ? x : null);
        }
        return out;
    }

    /** @return [teacher][family][epoch] averaged over the runs, or null when a run has none */
    static double[][][] meanWeights(List<AblationRunner.Run> runs) {
        double[][][] sum = null;
        for (AblationRunner.Run r : runs) {
            double[][][] w = r.diagnostics() == null ? null : r.diagnostics().weights();
            if (w == null) {
                return null;
            }
            if (sum == null) {
                sum = new double[w.length][w[0].length][w[0][0].length];
            }
            for (int t = 0; t < w.length; t++) {
                for (int f = 0; f < w[t].length; f++) {
                    for (int e = 0; e < w[t][f].length; e++) {
                        sum[t][f][e] += w[t][f][e] / runs.size();
                    }
                }
            }
        }
        return sum;
    }

    /** @return term -&gt; per-epoch mean over the runs, or null when there are no runs with diagnostics */
    static Map<String, double[]> meanTerms(List<AblationRunner.Run> runs) {
        if (runs.isEmpty() || runs.get(0).diagnostics() == null) {
            return null;
        }
        Map<String, double[]> sum = new LinkedHashMap<>();
        for (AblationRunner.Run r : runs) {
            r.diagnostics().terms().forEach((k, v) -> {
                double[] s = sum.computeIfAbsent(k, x -> new double[v.length]);
                for (int i = 0; i < v.length; i++) {
                    s[i] += v[i] / runs.size();
                }
            });
        }
        return sum;
    }

    static List<AblationRunner.Run> of(List<AblationRunner.Run> runs, String row) {
        return runs.stream().filter(r -> r.row().equals(row)).toList();
    }

    private static double[] top1(List<AblationRunner.Run> rs) {
        return rs.stream().mapToDouble(AblationRunner.Run::top1).toArray();
    }

    private static double mean(double[] v) {
        double s = 0;
        for (double x : v) {
            s += x;
        }
        return v.length == 0 ? Double.NaN : s / v.length;
    }

    private static String diff(RowStatistics.PairedTest t) {
        return t == null ? "" : fmt("%+.1f (%s)", t.meanDifference(), t.p() < 0.001 ? "<0.001" : fmt("%.3f", t.p()));
    }

    private static String seedList(long[] seeds) {
        StringBuilder b = new StringBuilder("seeds ");
        for (int i = 0; i < seeds.length; i++) {
            b.append(i == 0 ? "" : ", ").append(seeds[i]);
        }
        return b.toString();
    }
}
