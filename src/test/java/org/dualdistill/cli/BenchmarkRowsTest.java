package org.dualdistill.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.dualdistill.distill.ObjectiveBreakdown;
import org.dualdistill.report.BenchmarkResults;
import org.dualdistill.train.TrainConfig;
import org.dualdistill.train.Trainer;

/** The benchmark rows' pieces that need no training: row keys, per-epoch diagnostics, the hyperparameter file. */
class BenchmarkRowsTest {
    @TempDir
    Path dir;

    private static ObjectiveBreakdown terms(double total, double ce, double kd, double sdd, double rkd) {
        double[] z = {0, 0};
        return new ObjectiveBreakdown(total, ce, kd, sdd, rkd, 0, 0, 0, z, z, z, z, z);
    }

    @Test
    void rowsAreTheNineOfTheIssueWithTheirWeightingsAndTerms() {
        assertEquals(BenchmarkResults.ROW_NAMES, AblationRunner.ROWS);
        TrainConfig base = TrainConfig.embeddedDemo();
        Map<String, String> weighting = Map.of("kd_vit", "UNIFORM", "kd_cnn", "UNIFORM", "uniform", "UNIFORM", "ebkd", "EBKD",
                "camkd", "CAMKD", "datw", "DATW", "datw_sdd", "DATW", "datw_sdd_rkd", "DATW");
        for (String row : AblationRunner.ROWS) {
            TrainConfig.Objective o = base.withOverrides(AblationRunner.rowOverrides(row)).objective();
            if (row.equals("student_alone")) {
                assertEquals(List.of(), AblationRunner.rowOverrides(row));
                continue;
            }
            assertEquals(weighting.get(row), o.weighting().name(), row);
            assertEquals(row.startsWith("datw_sdd") ? base.objective().sddWeight() : 0, o.sddWeight(), row);
            assertEquals(row.equals("datw_sdd_rkd") ? base.objective().rkdWeight() : 0, o.rkdWeight(), row);
        }
        assertEquals("DATW + SDD + RKD", AblationRunner.display("datw_sdd_rkd"));
        assertEquals("CA-MKD", AblationRunner.display("camkd"));
        assertThrows(IllegalArgumentException.class, () -> AblationRunner.rowOverrides("datw_rkd"));
    }

    @Test
    void diagnosticsAverageTermsPerEpochAndWeightsPerFamily() {
        // classes 0, 1 local; 2 relation; two epochs, steps only in epoch 0
        AblationRunner.Diagnostics d = new AblationRunner.Diagnostics(List.of("local", "local", "relation"), 2);
        d.accept(new Trainer.StepEvent(0, 1, new int[] {0, 2}, terms(3, 1, 2, 0.5, 0), new float[] {0.8f, 0.2f, 0.3f, 0.7f}));
        d.accept(new Trainer.StepEvent(0, 2, new int[] {1, 1}, terms(5, 2, 3, 1.5, 0), new float[] {0.6f, 0.4f, 0.4f, 0.6f}));
        d.accept(new Trainer.StepEvent(1, 3, new int[] {0}, null, null)); // a CE-only step: ignored
        assertEquals(List.of("local", "relation"), d.families());
        Map<String, double[]> t = d.terms();
        assertEquals(AblationRunner.Diagnostics.TERMS, List.copyOf(t.keySet()));
        assertEquals(4.0, t.get("total")[0], 1e-12);
        assertEquals(1.5, t.get("ce")[0], 1e-12);
        assertEquals(2.5, t.get("kd")[0], 1e-12);
        assertEquals(1.0, t.get("sdd")[0], 1e-12);
        assertEquals(0.0, t.get("rkd")[0], 1e-12);
        assertTrue(Double.isNaN(t.get("total")[1]));
        double[][][] w = d.weights();
        // local: (0.8 + 0.6 + 0.4) / 3 for the first teacher, (0.2 + 0.4 + 0.6) / 3 for the second; relation: 0.3, 0.7
        assertEquals(0.6, w[0][0][0], 1e-6);
        assertEquals(0.4, w[1][0][0], 1e-6);
        assertEquals(0.3, w[0][1][0], 1e-6);
        assertEquals(0.7, w[1][1][0], 1e-6);
        assertTrue(Double.isNaN(w[0][0][1]));
    }

    @Test
    void meanWeightsAverageOverSeeds() {
        AblationRunner.Diagnostics a = new AblationRunner.Diagnostics(List.of("local", "relation"), 1);
        a.accept(new Trainer.StepEvent(0, 1, new int[] {0, 1}, terms(1, 1, 1, 0, 0), new float[] {1f, 0f, 0.5f, 0.5f}));
        AblationRunner.Diagnostics b = new AblationRunner.Diagnostics(List.of("local", "relation"), 1);
        b.accept(new Trainer.StepEvent(0, 1, new int[] {0, 1}, terms(3, 1, 1, 0, 0), new float[] {0.5f, 0.5f, 0f, 1f}));
        List<AblationRunner.Run> runs = List.of(new AblationRunner.Run("datw", 0, null, null, 1, 1, new double[] {1}, a),
                new AblationRunner.Run("datw", 1, null, null, 1, 1, new double[] {3}, b));
        double[][][] w = BenchmarkReport.meanWeights(runs);
        assertArrayEquals(new double[] {0.75}, w[0][0], 1e-6);
        assertArrayEquals(new double[] {0.25}, w[0][1], 1e-6);
        assertArrayEquals(new double[] {0.75}, w[1][1], 1e-6);
        assertEquals(2.0, BenchmarkReport.meanTerms(runs).get("total")[0], 1e-12);
        assertNull(BenchmarkReport.meanWeights(List.of(new AblationRunner.Run("student_alone", 0, null, null, 1, 1,
                new double[] {1}, null))));
    }

    @Test
    void hyperparametersLoadFromTheResourceAndRejectBadFiles() throws Exception {
        DemoHparams hp = DemoHparams.load(null);
        assertEquals(DemoHparams.KEYS, List.copyOf(hp.values().keySet()));
        TrainConfig c = TrainConfig.embeddedDemo().withOverrides(hp.overrides());
        assertEquals(Double.parseDouble(hp.values().get("optimizer.lr")), c.optimizer().lr());
        assertEquals(Double.parseDouble(hp.values().get("objective.temperature")), c.objective().temperature());

        Path f = dir.resolve("hp.properties");
        new DemoHparams(hp.values(), "test", "x").write(f, List.of("a comment"));
        DemoHparams back = DemoHparams.load(f);
        assertEquals(hp.values(), back.values());
        assertEquals("test", back.provenance());

        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
                () -> DemoHparams.parse("optimizer.lr=0.01\n", "f.properties"));
        assertTrue(missing.getMessage().contains("f.properties") && missing.getMessage().contains("objective.temperature"),
                missing.getMessage());
        String all = "optimizer.lr=1\nobjective.temperature=4\nobjective.alphaKd=1\nobjective.sddWeight=1\nobjective.rkdWeight=1\n";
        assertTrue(assertThrows(IllegalArgumentException.class, () -> DemoHparams.parse(all + "objective.tauConf=2\n", "g"))
                .getMessage().contains("unknown key objective.tauConf"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> DemoHparams.parse(all.replace("lr=1", "lr=fast"), "h"))
                .getMessage().contains("optimizer.lr must be a number"));
        assertTrue(assertThrows(java.io.IOException.class, () -> DemoHparams.load(dir.resolve("none.properties")))
                .getMessage().contains("not found"));
    }
}
