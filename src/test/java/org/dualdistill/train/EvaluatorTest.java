package org.dualdistill.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;

import org.dualdistill.data.DataLoader;
import org.dualdistill.data.Hmdb51Dataset;
import org.dualdistill.model.x3d.X3d;
import org.dualdistill.video.ClipSampler;
import org.dualdistill.video.MultiViewSampler;
import org.dualdistill.video.VideoTransform;
import org.dualdistill.video.ViewSpec;
import org.junit.jupiter.api.Test;

class EvaluatorTest {
    @Test
    void scoresByHand() {
        // 3 classes; samples: (label 0, pred 0), (label 1, pred 2), (label 2, pred 2), (label 1, pred 1)
        List<double[]> s = List.of(new double[] {.8, .1, .1}, new double[] {.1, .3, .6}, new double[] {.2, .2, .6},
                new double[] {.1, .7, .2});
        EvalResult r = Evaluator.score(s, List.of(0, 1, 2, 1), 3, 4, false);
        assertEquals(0.75, r.top1(), 1e-12);
        assertEquals(1.0, r.top5(), 1e-12); // k = min(5, 3)
        assertArrayEquals(new long[] {1, 2, 1}, r.classCounts());
        assertArrayEquals(new double[] {1, 0.5, 1}, r.perClassAccuracy(), 1e-12);
        assertArrayEquals(new long[] {0, 1, 1}, r.confusion()[1]);
    }

    @Test
    void multiViewOverSyntheticData() throws Exception {
        Hmdb51Dataset test = Hmdb51Dataset.builder(TrainerTest.dataRoot()).optSubset(Hmdb51Dataset.Subset.TEST).build();
        MultiViewSampler mv = MultiViewSampler.of(ClipSampler.uniform(4, 2, 2, 1), VideoTransform.center(32), ViewSpec.of("s", 4, 32));
        try (X3d m = TrainerTest.student(); DataLoader loader = DataLoader.builder(test, mv).optBatchSize(3).optShuffle(false).build()) {
            EvalResult video = Evaluator.evaluate(m, loader, "s", true, 0);
            assertEquals(test.size(), video.samples());
            assertEquals(2L * test.size(), video.clips());
            EvalResult clip = Evaluator.evaluate(m, loader, "s", false, 0);
            assertEquals(2L * test.size(), clip.samples());
            for (EvalResult r : List.of(video, clip)) {
                assertTrue(r.top1() >= 0 && r.top1() <= 1, "top1 " + r.top1());
                assertTrue(r.top5() >= r.top1() && r.top5() <= 1);
                assertEquals(1.0, r.top5(), 1e-12); // 4 classes: top-4 always hits
                for (int c = 0; c < 4; c++) {
                    assertEquals(r.classCounts()[c], Arrays.stream(r.confusion()[c]).sum());
                }
                assertEquals(r.samples(), Arrays.stream(r.classCounts()).sum());
            }
        }
    }
}
