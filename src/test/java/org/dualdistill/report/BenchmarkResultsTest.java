package org.dualdistill.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BenchmarkResultsTest {
    @TempDir
    Path dir;

    private static final long[] SEEDS = {0, 1, 2, 3, 4};
    private static final double[] A = {61.2, 58.9, 63.4, 60.1, 62.7};
    private static final double[] B = {57.0, 57.5, 60.2, 58.8, 59.1};

    private static List<BenchmarkResults.Row> rows() {
        List<BenchmarkResults.Row> rows = new ArrayList<>();
        for (String n : BenchmarkResults.ROW_NAMES) {
            double[] v = switch (n) {
                case "student_alone" -> B;
                case "kd_cnn" -> new double[] {58.0, 58.5, 61.2, 59.8, 60.1}; // B + 1: the best single-teacher row
                case "kd_vit" -> new double[] {55.0, 56.0, 57.0, 58.0, 59.0};
                case "datw_sdd_rkd" -> A;
                default -> new double[] {50, 51, 52, 53, 54};
            };
            rows.add(new BenchmarkResults.Row(n, SEEDS, v));
        }
        return rows;
    }

    @Test
    void writesTheSchemaOfIssue14() throws Exception {
        BenchmarkResults.Analysis a = BenchmarkResults.analyze(rows());
        assertEquals("kd_cnn", a.bestSingleTeacherRow());
        Path f = dir.resolve("report/results.json");
        Map<String, Double> teachers = new LinkedHashMap<>();
        teachers.put("vit", 71.5);
        teachers.put("cnn", 80.25);
        BenchmarkResults.write(f, a, teachers, 7, 812.5);
        JsonNode j = new ObjectMapper().readTree(f.toFile());
        assertEquals(List.of("master_seed", "wall_time_s", "teachers", "best_single_teacher_row", "rows"), fields(j));
        assertEquals(7, j.get("master_seed").asLong());
        assertEquals(812.5, j.get("wall_time_s").asDouble());
        assertEquals(71.5, j.get("teachers").get("vit").asDouble());
        assertEquals(80.25, j.get("teachers").get("cnn").asDouble());
        JsonNode rows = j.get("rows");
        assertEquals(9, rows.size());
        for (int i = 0; i < 9; i++) {
            JsonNode r = rows.get(i);
            assertEquals(List.of("name", "top1_mean", "ci95", "seeds", "p_vs_student_alone", "p_vs_best_single_teacher"), fields(r));
            assertEquals(BenchmarkResults.ROW_NAMES.get(i), r.get("name").asText());
            assertEquals(5, r.get("seeds").size());
            assertEquals(2, r.get("ci95").size());
        }
        JsonNode best = rows.get(8); // datw_sdd_rkd = A; student_alone = B (golden from scipy: RowStatisticsTest)
        assertEquals("datw_sdd_rkd", best.get("name").asText());
        assertEquals(61.26, best.get("top1_mean").asDouble(), 1e-12);
        assertEquals(58.972842781816, best.get("ci95").get(0).asDouble(), 1e-9);
        assertEquals(63.547157218184, best.get("ci95").get(1).asDouble(), 1e-9);
        assertEquals(0.00968020624733, best.get("p_vs_student_alone").asDouble(), 1e-11);
        assertTrue(best.get("p_vs_best_single_teacher").asDouble() < 0.05);
        assertTrue(rows.get(0).get("p_vs_student_alone").isNull(), "the baseline is not compared with itself");
        assertTrue(rows.get(2).get("p_vs_best_single_teacher").isNull(), "nor the best single-teacher row");
        assertEquals(0.0, rows.get(2).get("p_vs_student_alone").asDouble(), 1e-12, "kd_cnn = student + 1 on every seed");
    }

    @Test
    void oneSeedHasNoIntervalNorPValuesAndMismatchesAreErrors() throws Exception {
        BenchmarkResults.Analysis a = BenchmarkResults.analyze(List.of(new BenchmarkResults.Row("student_alone", new long[] {3}, new double[] {50}),
                new BenchmarkResults.Row("datw", new long[] {3}, new double[] {55})));
        assertNull(a.bestSingleTeacherRow());
        assertNull(a.row("datw").vsStudentAlone());
        JsonNode j = new ObjectMapper().readTree(BenchmarkResults.toJson(a, Map.of(), 0, Double.NaN));
        assertTrue(j.get("rows").get(1).get("ci95").isNull());
        assertTrue(j.get("rows").get(1).get("p_vs_student_alone").isNull());
        assertTrue(j.get("wall_time_s").isNull());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BenchmarkResults.analyze(List.of(
                new BenchmarkResults.Row("student_alone", new long[] {0, 1}, new double[] {50, 51}),
                new BenchmarkResults.Row("datw", new long[] {0, 2}, new double[] {55, 56}))));
        assertTrue(e.getMessage().contains("same seeds"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new BenchmarkResults.Row("DATW+SDD", new long[] {0}, new double[] {1}));
        assertThrows(IllegalArgumentException.class, () -> new BenchmarkResults.Row("datw", new long[] {0, 1}, new double[] {1}));
        assertThrows(IllegalArgumentException.class, () -> BenchmarkResults.analyze(List.of(
                new BenchmarkResults.Row("datw", new long[] {0}, new double[] {1}), new BenchmarkResults.Row("datw", new long[] {0}, new double[] {2}))));
    }

    private static List<String> fields(JsonNode n) {
        List<String> out = new ArrayList<>();
        n.fieldNames().forEachRemaining(out::add);
        return out;
    }
}
