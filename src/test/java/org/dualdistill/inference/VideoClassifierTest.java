package org.dualdistill.inference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.TestTensors;
import org.dualdistill.export.ExportException;
import org.dualdistill.export.ExportedStudent;
import org.dualdistill.export.StudentExport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VideoClassifierTest {

    @Test
    void classifiesFilesBytesAndDecodedClipsLikeTheModelItself() throws Exception {
        Path export = InferenceFixtures.export();
        ClipInput clip = InferenceFixtures.clip(1);
        try (VideoClassifier c = VideoClassifier.builder(export).optTopK(10).build()) {
            assertEquals(InferenceFixtures.CLASSES, c.card().classNames());
            List<Prediction> fromFile = c.classify(InferenceFixtures.video(0));
            List<Prediction> fromBytes = c.classify(Files.readAllBytes(InferenceFixtures.video(0)), "upload.avi");
            assertEquals(fromFile, fromBytes, "the same bytes give the same result");
            assertEquals(4, fromFile.size(), "topK is capped at the number of classes");
            double sum = 0;
            for (int i = 0; i < fromFile.size(); i++) {
                Prediction p = fromFile.get(i);
                assertEquals(InferenceFixtures.CLASSES.get(p.index()), p.label());
                if (i > 0) {
                    assertTrue(fromFile.get(i - 1).probability() >= p.probability(), "ranked: " + fromFile);
                }
                sum += p.probability();
            }
            assertEquals(1.0, sum, 1e-5);

            // an already decoded clip gives exactly what the model gives on the normalized clip
            List<Prediction> got = c.classify(clip);
            float[] expected = directProbabilities(export, clip);
            for (Prediction p : got) {
                assertEquals(expected[p.index()], (float) p.probability(), "class " + p.label());
            }
        }
    }

    @Test
    void multiViewAveragesTheViews() throws Exception {
        try (VideoClassifier one = VideoClassifier.builder(InferenceFixtures.export()).optTopK(4).build();
             VideoClassifier many = VideoClassifier.builder(InferenceFixtures.export()).optTopK(4).optViews(2, 3).optMaxBatch(4).build()) {
            assertEquals(1, one.viewsPerVideo());
            assertEquals(6, many.viewsPerVideo());
            List<Prediction> a = one.classify(InferenceFixtures.video(1));
            List<Prediction> b = many.classify(InferenceFixtures.video(1));
            assertEquals(1.0, b.stream().mapToDouble(Prediction::probability).sum(), 1e-5);
            assertTrue(!a.equals(b), "six views differ from the single centre view");
            assertEquals(2, many.stats().batches(), "6 views at maxBatch 4 run as two forward passes");
            assertEquals(6, many.stats().clips());
        }
    }

    @Test
    void badInputsAreNamedAndDoNotHarmLaterRequests(@TempDir Path dir) throws Exception {
        try (VideoClassifier c = VideoClassifier.builder(InferenceFixtures.export()).build()) {
            List<Prediction> good = c.classify(InferenceFixtures.clip(2));

            ClassificationException corrupt = assertThrows(ClassificationException.class,
                    () -> c.classify("definitely not a video".getBytes(), "upload-17.mp4"));
            assertEquals("upload-17.mp4", corrupt.input());
            assertTrue(corrupt.getMessage().startsWith("upload-17.mp4: cannot decode"), corrupt.getMessage());

            byte[] video = Files.readAllBytes(InferenceFixtures.video(2));
            byte[] truncated = Arrays.copyOf(video, 200);
            ClassificationException trunc = assertThrows(ClassificationException.class, () -> c.classify(truncated, "cut.avi"));
            assertTrue(trunc.getMessage().startsWith("cut.avi: "), trunc.getMessage());

            Path missing = dir.resolve("missing.mp4");
            ClassificationException m = assertThrows(ClassificationException.class, () -> c.classify(missing));
            assertTrue(m.getMessage().contains(missing.toString()), m.getMessage());

            ClipInput wrong = new ClipInput("cam-3", new float[3 * 4 * 16 * 16], 4, 16, 16);
            ClassificationException shape = assertThrows(ClassificationException.class, () -> c.classify(wrong));
            assertTrue(shape.getMessage().startsWith("cam-3: expected a clip of shape [3, 4, 32, 32]"), shape.getMessage());
            ClipInput lying = new ClipInput("cam-4", new float[10], 4, 32, 32);
            assertThrows(ClassificationException.class, () -> c.classify(lying));

            ClipInput nan = InferenceFixtures.clip(2);
            nan.data()[1234] = Float.NaN;
            ClassificationException n = assertThrows(ClassificationException.class, () -> c.classify(nan));
            assertTrue(n.getMessage().startsWith("clip-2: value NaN at index 1234"), n.getMessage());

            assertEquals(good, c.classify(InferenceFixtures.clip(2)), "the next good request still works, unchanged");
            assertEquals(2, c.stats().requests(), "bad requests never reach the model");
        }
    }

    @Test
    void aFullClassifierRejectsClearly() throws Exception {
        // the worker holds the first request for up to 2 s waiting for a batch of 8, so two requests fill capacity 2
        try (VideoClassifier c = VideoClassifier.builder(InferenceFixtures.export()).optQueueCapacity(2).optMaxBatch(8)
                .optMaxWait(Duration.ofSeconds(2)).build()) {
            List<CompletableFuture<List<Prediction>>> fs = new ArrayList<>();
            fs.add(c.submit(InferenceFixtures.clip(1)));
            fs.add(c.submit(InferenceFixtures.clip(2)));
            RejectedExecutionException e = assertThrows(RejectedExecutionException.class, () -> c.submit(InferenceFixtures.clip(3)));
            assertTrue(e.getMessage().contains("full") && e.getMessage().contains("clip-3"), e.getMessage());
            for (CompletableFuture<List<Prediction>> f : fs) {
                assertEquals(4, f.get().size());
            }
        }
    }

    @Test
    void closeFinishesAdmittedRequestsReleasesAndLaterCallsFail() throws Exception {
        VideoClassifier c = VideoClassifier.builder(InferenceFixtures.export()).optMaxWait(Duration.ofMillis(50)).build();
        List<CompletableFuture<List<Prediction>>> fs = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            fs.add(c.submit(InferenceFixtures.clip(i)));
        }
        c.close();
        assertTrue(c.isReleased());
        for (CompletableFuture<List<Prediction>> f : fs) {
            assertEquals(4, f.get().size(), "requests admitted before close are completed");
        }
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> c.classify(InferenceFixtures.clip(0)));
        assertEquals("VideoClassifier is closed", e.getMessage());
        assertThrows(IllegalStateException.class, () -> c.classify(InferenceFixtures.video(0)));
        assertThrows(IllegalStateException.class, () -> c.submit(InferenceFixtures.clip(0)));
        c.close(); // idempotent
        assertTrue(c.isReleased());
    }

    @Test
    void aBrokenExportFailsToBuildWithTheFileNamed(@TempDir Path dir) {
        ExportException e = assertThrows(ExportException.class, () -> VideoClassifier.builder(dir).build());
        assertTrue(e.getMessage().contains(StudentExport.CARD), e.getMessage());
    }

    /** The model's own softmax on the clip normalized as the card says, at batch 1. */
    static float[] directProbabilities(Path export, ClipInput clip) throws Exception {
        try (ExportedStudent s = StudentExport.load(export); PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            float[] mean = s.card().mean();
            float[] std = s.card().std();
            float[] d = clip.data().clone();
            int plane = d.length / 3;
            for (int i = 0; i < d.length; i++) {
                d[i] = (d[i] - mean[i / plane]) / std[i / plane];
            }
            Tensor x = TestTensors.floats(d, 1, 3, clip.frames(), clip.height(), clip.width());
            return TestTensors.toFloats(torch.softmax(s.model().forward(x).logits(), 1));
        }
    }
}
