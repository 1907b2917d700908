package org.dualdistill.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.dualdistill.data.Batch;
import org.dualdistill.data.DataLoader;
import org.dualdistill.data.Hmdb51Dataset;
import org.dualdistill.internal.torch.TensorBridge;
import org.dualdistill.model.x3d.X3d;

/** {@link Trainer.Builder#onStep}: one event per step with the batch's labels, the loss terms and the per-sample weights. */
class TrainerStepListenerTest {
    static Hmdb51Dataset train;

    @BeforeAll
    static void data() throws Exception {
        train = Hmdb51Dataset.builder(TrainerTest.dataRoot()).build();
        TrainerTest.train = train;
    }

    private static List<int[]> labelsOfEpoch(DataLoader loader, int epoch) {
        List<int[]> out = new ArrayList<>();
        for (Batch b : loader.epoch(epoch)) {
            try (b) {
                float[] f = TensorBridge.toFloats(b.labels());
                int[] l = new int[f.length];
                for (int i = 0; i < f.length; i++) {
                    l[i] = Math.round(f[i]);
                }
                out.add(l);
            }
        }
        return out;
    }

    @Test
    void distillationStepsReportLabelsTermsAndWeightRows() throws Exception {
        List<Trainer.StepEvent> events = new ArrayList<>();
        try (TrainerTest.Rig rig = new TrainerTest.Rig(1, 2);
             Trainer t = rig.trainer().progress(100, null).onStep(events::add).build()) {
            List<int[]> expected = labelsOfEpoch(rig.loader, 1);
            t.fit(2);
            int n = rig.loader.batchesPerEpoch();
            assertEquals(2 * n, events.size());
            for (int i = 0; i < events.size(); i++) {
                Trainer.StepEvent e = events.get(i);
                assertEquals(i / n, e.epoch());
                assertEquals(i + 1, e.step());
                assertNotNull(e.breakdown());
                int b = e.labels().length;
                assertEquals(2 * b, e.weights().length, "weights are [B, 2]");
                double[] colMean = new double[2];
                for (int r = 0; r < b; r++) {
                    assertEquals(1.0, e.weights()[2 * r] + e.weights()[2 * r + 1], 1e-5, "row " + r + " sums to 1");
                    colMean[0] += e.weights()[2 * r] / (double) b;
                    colMean[1] += e.weights()[2 * r + 1] / (double) b;
                }
                assertArrayEquals(e.breakdown().weightMean(), colMean, 1e-5, "the breakdown's mean weight is the rows' mean");
                if (e.epoch() == 1) {
                    assertArrayEquals(expected.get(i - n), e.labels(), "step " + e.step() + ": the batch's labels");
                }
            }
        }
    }

    @Test
    void crossEntropyStepsHaveNoTermsOrWeights() throws Exception {
        List<Trainer.StepEvent> events = new ArrayList<>();
        org.bytedeco.pytorch.global.torch.manual_seed(5);
        try (X3d s = TrainerTest.student(); DataLoader loader = TrainerTest.loader(train, 1);
             TrainingOptimizer opt = Optimizers.create(TrainerTest.CFG.optimizer(), List.of(s.module()))) {
            CosineSchedule sched = CosineSchedule.of(TrainerTest.CFG.optimizer(), new TrainConfig.Schedule(1, 0, 0, 0),
                    loader.batchesPerEpoch());
            try (Trainer t = Trainer.builder(s, opt, sched, loader).progress(100, null).onStep(events::add).build()) {
                t.fit(1);
            }
            assertEquals(loader.batchesPerEpoch(), events.size());
            for (Trainer.StepEvent e : events) {
                assertNull(e.breakdown());
                assertNull(e.weights());
                assertEquals(4, e.labels().length);
            }
        }
    }
}
