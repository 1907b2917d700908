package org.dualdistill.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.dualdistill.data.DataLoader;
import org.dualdistill.data.Hmdb51Dataset;
import org.dualdistill.data.LabeledVideo;
import org.dualdistill.data.VideoDataset;
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

    @Test
    void verbNounActionByHand() {
        // 3 verbs x 2 nouns, 4 samples: (pred verb, pred noun) vs (true verb, true noun)
        List<double[]> verb = List.of(new double[] {.6, .3, .1}, new double[] {.2, .5, .3}, new double[] {.5, .4, .1},
                new double[] {.1, .2, .7});
        List<double[]> noun = List.of(new double[] {.7, .3}, new double[] {.4, .6}, new double[] {.9, .1},
                new double[] {.45, .55});
        List<int[]> labels = List.of(new int[] {0, 0}, new int[] {1, 0}, new int[] {2, 1}, new int[] {2, 0});
        // s1: verb ok, noun ok -> action ok; s2: verb ok, noun wrong; s3: both wrong, and its true pair has the lowest
        // joint score of all 6 (.1 * .1) -> outside the action top-5; s4: verb ok, noun wrong, pair 2nd (.315 < .385)
        EvalResult.VerbNoun r = Evaluator.scoreVerbNoun(verb, noun, labels, 3, 2, 8, true);
        assertEquals(4, r.samples());
        assertEquals(0.75, r.verb().top1(), 1e-12);
        assertEquals(0.25, r.noun().top1(), 1e-12);
        assertEquals(0.25, r.actionTop1(), 1e-12);
        assertEquals(0.75, r.actionTop5(), 1e-12);
        assertEquals(1.0, r.verb().top5(), 1e-12); // k = min(5, 3)
        assertEquals(1.0, r.noun().top5(), 1e-12);
        assertArrayEquals(new double[] {1, 1, 0.5}, r.verb().perClassAccuracy(), 1e-12);
        assertArrayEquals(new double[] {1.0 / 3, 0}, r.noun().perClassAccuracy(), 1e-12);
        assertArrayEquals(new long[] {1, 2}, r.noun().confusion()[0]); // true noun 0: s1 -> 0, s2 -> 1, s4 -> 1
        assertArrayEquals(new long[] {1, 0}, r.noun().confusion()[1]); // s3 -> 0
        assertArrayEquals(new long[] {1, 0, 1}, r.verb().confusion()[2]); // s3 predicted verb 0, s4 verb 2
        assertEquals(8, r.verb().clips());
    }

    @Test
    void verbNounOverATwoHeadModel() throws Exception {
        // EPIC-style examples over the synthetic videos: verb = label % 3, noun = label % 2, as EpicKitchensDataset
        // carries them (extra labels [verb, noun]); a two-head X3D as for EPIC-KITCHENS (heads(97, 300), here 3 + 2)
        Hmdb51Dataset hmdb = Hmdb51Dataset.builder(TrainerTest.dataRoot()).optSubset(Hmdb51Dataset.Subset.TEST).build();
        List<LabeledVideo> videos = new ArrayList<>();
        for (LabeledVideo v : hmdb.videos()) {
            videos.add(new LabeledVideo(v.id(), v.path(), v.label(), v.startUs(), v.endUs(),
                    List.of(v.label() % 3, v.label() % 2)));
        }
        VideoDataset epic = VideoDataset.of("epic-like", videos, hmdb.classNames());
        MultiViewSampler mv = MultiViewSampler.of(ClipSampler.uniform(4, 2, 2, 1), VideoTransform.center(32), ViewSpec.of("s", 4, 32));
        try (X3d m = X3d.builder().widthFactor(0.5).depthFactor(0.5).headDimOut(64).heads(3, 2).dropout(0.0).clipLength(4)
                .crop(32).build();
             DataLoader loader = DataLoader.builder(epic, mv).optBatchSize(3).optShuffle(false).build()) {
            EvalResult.VerbNoun r = Evaluator.evaluateVerbNoun(m, loader, "s", true, 0, 3, 2);
            assertEquals(epic.size(), r.samples());
            assertEquals(2L * epic.size(), r.verb().clips());
            assertEquals(3, r.verb().perClassAccuracy().length);
            assertEquals(2, r.noun().perClassAccuracy().length);
            assertTrue(r.actionTop1() <= Math.min(r.verb().top1(), r.noun().top1()) + 1e-12);
            assertTrue(r.actionTop1() >= r.verb().top1() + r.noun().top1() - 1 - 1e-12);
            assertTrue(r.actionTop5() >= r.actionTop1());
            assertEquals(r.samples(), Arrays.stream(r.verb().classCounts()).sum());
            assertThrows(IllegalArgumentException.class, () -> Evaluator.evaluateVerbNoun(m, loader, "s", true, 0, 2, 2),
                    "logits are 5 wide, not 2 + 2");
        }
    }
}
