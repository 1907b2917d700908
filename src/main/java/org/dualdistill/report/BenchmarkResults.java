package org.dualdistill.report;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import org.dualdistill.internal.AtomicFiles;

/**
 * The benchmark's rows with their statistics (issue 14, items 3 and 4) and the {@code results.json} writer.
 *
 * <p>{@code results.json}:
 * <pre>
 * {
 *   "master_seed": 0,
 *   "wall_time_s": 812.4,
 *   "teachers": {"vit": 71.3, "cnn": 80.0},            teachers' top-1, in the rows' unit
 *   "best_single_teacher_row": "kd_cnn",               the row p_vs_best_single_teacher compares against
 *   "rows": [
 *     {"name": "student_alone", "top1_mean": 52.1, "ci95": [49.0, 55.2], "seeds": [0, 1, 2, 3, 4],
 *      "p_vs_student_alone": null, "p_vs_best_single_teacher": 0.003},
 *     ...
 *   ]
 * }
 * </pre>
 * {@code seeds} lists the student seeds (their count is the n of the interval); {@code ci95} is {@code null} with one
 * seed; a p-value is {@code null} where the comparison is the row itself, the reference row is absent, or there are
 * fewer than 2 seeds. p-values are two-sided paired t-tests over the same seeds ({@link RowStatistics#pairedT}).
 * Stateless and thread-safe.
 */
public final class BenchmarkResults {
    /** The rows of issue 14, in table order. */
    public static final List<String> ROW_NAMES = List.of("student_alone", "kd_vit", "kd_cnn", "uniform", "ebkd", "camkd", "datw",
            "datw_sdd", "datw_sdd_rkd");
    /** The baseline row. */
    public static final String STUDENT_ALONE = "student_alone";
    /** The single-teacher rows; the best of them (highest mean) is the second reference. */
    public static final List<String> SINGLE_TEACHER_ROWS = List.of("kd_vit", "kd_cnn");

    private static final Pattern SNAKE = Pattern.compile("[a-z][a-z0-9]*(_[a-z0-9]+)*");

    private BenchmarkResults() {
    }

    /**
     * One row's measurements: the test top-1 of each student seed.
     *
     * @param name  snake_case row name, e.g. {@code "datw_sdd_rkd"}
     * @param seeds the student seeds, in the order of {@code top1}
     * @param top1  test top-1 per seed (the benchmark uses percent)
     */
    public record Row(String name, long[] seeds, double[] top1) {
        /** Validates and copies. */
        public Row {
            if (name == null || !SNAKE.matcher(name).matches()) {
                throw new IllegalArgumentException("row name must be snake_case, got '" + name + "'");
            }
            if (seeds == null || top1 == null || seeds.length != top1.length || seeds.length == 0) {
                throw new IllegalArgumentException("row " + name + ": need one top-1 per seed, got " + (seeds == null ? "null" : seeds.length)
                        + " seeds and " + (top1 == null ? "null" : top1.length) + " values");
            }
            seeds = seeds.clone();
            top1 = top1.clone();
        }

        @Override
        public long[] seeds() {
            return seeds.clone();
        }

        @Override
        public double[] top1() {
            return top1.clone();
        }
    }

    /**
     * A row with its statistics.
     *
     * @param name                   the row name
     * @param top1                   mean and 95% interval over seeds
     * @param seeds                  the seeds
     * @param vsStudentAlone         paired test row - student_alone, or null (see the class comment)
     * @param vsBestSingleTeacher    paired test row - best single-teacher row, or null
     */
    public record RowResult(String name, RowStatistics.Summary top1, long[] seeds, RowStatistics.PairedTest vsStudentAlone,
            RowStatistics.PairedTest vsBestSingleTeacher) {
        /** Copies the seeds. */
        public RowResult {
            seeds = seeds.clone();
        }

        @Override
        public long[] seeds() {
            return seeds.clone();
        }
    }

    /**
     * The analysed table.
     *
     * @param rows                 the rows in input order
     * @param bestSingleTeacherRow the single-teacher row with the highest mean, or null if none is present
     */
    public record Analysis(List<RowResult> rows, String bestSingleTeacherRow) {
        /** Copies the list. */
        public Analysis {
            rows = List.copyOf(rows);
        }

        /**
         * @param name a row name
         * @return that row
         * @throws IllegalArgumentException if absent
         */
        public RowResult row(String name) {
            return rows.stream().filter(r -> r.name().equals(name)).findFirst()
                    .orElseThrow(() -> new IllegalArgumentException("no row '" + name + "' in " + rows.stream().map(RowResult::name).toList()));
        }
    }

    /**
     * Computes every row's interval and its paired tests against student alone and the best single-teacher row.
     *
     * @param rows distinct names; rows compared with each other must have the same seeds in the same order
     * @return the analysis
     * @throws IllegalArgumentException on duplicate names, or seeds that differ from a reference row's
     */
    public static Analysis analyze(List<Row> rows) {
        if (rows == null || rows.isEmpty()) {
            throw new IllegalArgumentException("need at least one row");
        }
        Map<String, Row> byName = new LinkedHashMap<>();
        for (Row r : rows) {
            if (byName.put(r.name(), r) != null) {
                throw new IllegalArgumentException("row '" + r.name() + "' appears twice");
            }
        }
        String best = null;
        double bestMean = Double.NEGATIVE_INFINITY;
        for (String s : SINGLE_TEACHER_ROWS) {
            Row r = byName.get(s);
            if (r != null) {
                double m = RowStatistics.summarize(r.top1).mean();
                if (m > bestMean) { // ties keep the first (kd_vit)
                    bestMean = m;
                    best = s;
                }
            }
        }
        Row base = byName.get(STUDENT_ALONE);
        Row bestRow = best == null ? null : byName.get(best);
        List<RowResult> out = new ArrayList<>();
        for (Row r : rows) {
            out.add(new RowResult(r.name(), RowStatistics.summarize(r.top1), r.seeds, compare(r, base), compare(r, bestRow)));
        }
        return new Analysis(out, best);
    }

    private static RowStatistics.PairedTest compare(Row r, Row ref) {
        if (ref == null || ref == r || r.top1.length < 2) {
            return null;
        }
        if (!Arrays.equals(r.seeds, ref.seeds)) {
            throw new IllegalArgumentException("rows " + r.name() + " and " + ref.name() + " must pair the same seeds in the same order, got "
                    + Arrays.toString(r.seeds) + " and " + Arrays.toString(ref.seeds));
        }
        return RowStatistics.pairedT(r.top1, ref.top1);
    }

    /**
     * Writes {@code results.json} (atomically: a temporary file in the same folder, then a move).
     *
     * @param file            the file (parent folders are created)
     * @param analysis        the rows
     * @param teacherTop1     teacher name (e.g. {@code "vit"}, {@code "cnn"}) -&gt; its top-1, in the rows' unit
     * @param masterSeed      the run's master seed
     * @param wallTimeSeconds the run's wall time
     * @throws IOException if the file cannot be written
     */
    public static void write(Path file, Analysis analysis, Map<String, Double> teacherTop1, long masterSeed, double wallTimeSeconds)
            throws IOException {
        byte[] json = toJson(analysis, teacherTop1, masterSeed, wallTimeSeconds);
        Path target = file.toAbsolutePath();
        Files.createDirectories(target.getParent());
        Path tmp = Files.createTempFile(target.getParent(), "." + target.getFileName(), ".tmp");
        try {
            Files.write(tmp, json);
            AtomicFiles.replace(tmp, target);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * @param analysis        the rows
     * @param teacherTop1     teacher name -&gt; top-1
     * @param masterSeed      the run's master seed
     * @param wallTimeSeconds the run's wall time
     * @return the bytes of {@code results.json} (UTF-8, indented, non-finite numbers as null)
     */
    public static byte[] toJson(Analysis analysis, Map<String, Double> teacherTop1, long masterSeed, double wallTimeSeconds) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("master_seed", masterSeed);
        m.put("wall_time_s", num(wallTimeSeconds));
        Map<String, Object> t = new LinkedHashMap<>();
        Set<String> names = new HashSet<>();
        if (teacherTop1 != null) {
            teacherTop1.forEach((k, v) -> {
                if (!names.add(k)) {
                    throw new IllegalArgumentException("teacher '" + k + "' twice");
                }
                t.put(k, v == null ? null : num(v));
            });
        }
        m.put("teachers", t);
        m.put("best_single_teacher_row", analysis.bestSingleTeacherRow());
        List<Map<String, Object>> rows = new ArrayList<>();
        for (RowResult r : analysis.rows()) {
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("name", r.name());
            e.put("top1_mean", num(r.top1().mean()));
            e.put("ci95", r.top1().hasInterval() ? List.of(r.top1().lo(), r.top1().hi()) : null);
            e.put("seeds", Arrays.stream(r.seeds).boxed().toList());
            e.put("p_vs_student_alone", r.vsStudentAlone() == null ? null : num(r.vsStudentAlone().p()));
            e.put("p_vs_best_single_teacher", r.vsBestSingleTeacher() == null ? null : num(r.vsBestSingleTeacher().p()));
            rows.add(e);
        }
        m.put("rows", rows);
        try {
            return new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsBytes(m);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException("results.json: cannot serialize", e);
        }
    }

    private static Double num(double v) {
        return Double.isFinite(v) ? v : null;
    }
}
