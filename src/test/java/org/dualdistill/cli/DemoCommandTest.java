package org.dualdistill.cli;

import static org.dualdistill.testing.CliRun.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

import javax.imageio.ImageIO;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.dualdistill.report.BenchmarkResults;
import org.dualdistill.testing.CliRun.Result;

/** {@code demo} end to end through {@link Main#run} at tiny settings: the nine rows, their statistics and the report. */
class DemoCommandTest {
    @TempDir
    Path dir;

    @Test
    @Tag("slow")
    void demoWritesNineRowsWithStatisticsTheReportAndResultsJson() throws Exception {
        Result r = run("demo", "--quick", "--seeds", "2", "--epochs", "1", "--out", dir.resolve("run").toString());
        assertEquals(0, r.code(), r.out() + r.err());
        for (String row : AblationRunner.ROWS) {
            assertTrue(Pattern.compile("(?m)^" + Pattern.quote(AblationRunner.display(row)) + "\\s+\\d+\\.\\d\\s").matcher(r.out()).find(),
                    "row " + row + " missing in:\n" + r.out());
        }
        Path report = dir.resolve("run/report");
        JsonNode j = new ObjectMapper().readTree(report.resolve("results.json").toFile());
        assertEquals(0, j.get("master_seed").asLong());
        assertTrue(j.get("wall_time_s").asDouble() > 0);
        for (String t : List.of("vit", "cnn")) {
            double v = j.get("teachers").get(t).asDouble();
            assertTrue(v >= 0 && v <= 100, t + ": " + v);
        }
        String best = j.get("best_single_teacher_row").asText();
        assertTrue(List.of("kd_vit", "kd_cnn").contains(best), best);
        List<String> names = new ArrayList<>();
        for (JsonNode row : j.get("rows")) {
            String name = row.get("name").asText();
            names.add(name);
            double mean = row.get("top1_mean").asDouble();
            assertTrue(row.get("top1_mean").isNumber() && mean >= 0 && mean <= 100, name + ": " + mean);
            double lo = row.get("ci95").get(0).asDouble();
            double hi = row.get("ci95").get(1).asDouble();
            assertTrue(lo <= mean && mean <= hi, name + ": " + lo + " " + mean + " " + hi);
            assertEquals(List.of(0L, 1L), List.of(row.get("seeds").get(0).asLong(), row.get("seeds").get(1).asLong()), name);
            assertEquals(2, row.get("seeds").size(), name);
            for (String k : List.of("p_vs_student_alone", "p_vs_best_single_teacher")) {
                boolean self = k.equals("p_vs_student_alone") ? name.equals("student_alone") : name.equals(best);
                JsonNode p = row.get(k);
                if (self) {
                    assertTrue(p.isNull(), name + " " + k + " = " + p);
                } else {
                    assertTrue(p.isNumber() && p.asDouble() >= 0 && p.asDouble() <= 1, name + " " + k + " = " + p);
                }
            }
        }
        assertEquals(BenchmarkResults.ROW_NAMES, names);
        String html = Files.readString(report.resolve("index.html"));
        assertTrue(html.contains("Per class family") && html.contains("relation top-1") && html.contains("Hyperparameters"), html);
        assertTrue(html.contains("DATW + SDD + RKD") && html.contains("95% CI"), html);
        for (String png : List.of("rows.png", "weights-datw.png", "weights-datw_sdd_rkd.png", "loss-terms.png", "curves.png",
                "confusion.png")) {
            BufferedImage img = ImageIO.read(report.resolve(png).toFile());
            assertNotNull(img, png);
            assertTrue(html.contains("src=\"" + png + "\""), png);
        }
        JsonNode runs = new ObjectMapper().readTree(report.resolve("runs.json").toFile());
        assertEquals(18, runs.size());
        for (JsonNode run : runs) {
            assertTrue(run.get("val_top1").isNumber(), run.toString());
            if (run.get("row").asText().equals("datw")) {
                assertEquals(2, run.get("epoch_teacher_weight_by_family").size(), run.toString());
            }
        }
    }

    @Test
    void badSettingsAreAOneLineError() {
        Result r = run("demo", "--out", dir.toString(), "--seeds", "0");
        assertEquals(2, r.code());
        assertTrue(r.err().startsWith("demo: "), r.err());
        Result h = run("demo", "--out", dir.toString(), "--hparams", dir.resolve("missing.properties").toString());
        assertEquals(2, h.code());
        assertTrue(h.err().startsWith("demo: ") && h.err().contains("not found"), h.err());
    }
}
