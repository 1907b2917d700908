package org.dualdistill.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Random;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dualdistill.data.synthetic.SyntheticActionDataset;
import org.dualdistill.data.synthetic.SyntheticConfig;
import org.dualdistill.internal.torch.TensorBridge;
import org.dualdistill.video.ClipSampler;
import org.dualdistill.video.MultiViewSampler;
import org.dualdistill.video.VideoTransform;
import org.dualdistill.video.ViewRecord;
import org.dualdistill.video.ViewSpec;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@SuppressWarnings("try")
class DataLoaderTest {
    @TempDir
    static Path root;
    static Hmdb51Dataset dataset; // 12 synthetic training videos, 48x36, 16-24 frames at 15 fps

    @TempDir
    Path dir;

    @BeforeAll
    static void generate() throws Exception {
        SyntheticActionDataset.generate(root, SyntheticConfig.builder().optNumClasses(4).optVideosPerClass(4).optSize(48, 36).optFrames(16, 24)
                .optSeed(5).build());
        dataset = Hmdb51Dataset.builder(root).build();
        assertEquals(12, dataset.size());
    }

    private static MultiViewSampler views(int clipsPerVideo, int teacherSize) {
        return MultiViewSampler.builder(ClipSampler.random(4, 2, clipsPerVideo), VideoTransform.train(26, 34))
                .addView(ViewSpec.of("student", 4, 24)).addView(ViewSpec.of("teacher", 6, teacherSize)).build();
    }

    /** A batch as plain Java, for comparisons. */
    private record Snapshot(List<String> ids, long[] labels, float[] student, float[] teacher, List<ViewRecord> records) {
    }

    private static Snapshot snap(Batch b) {
        try (PointerScope scope = new PointerScope()) {
            assertEquals(ScalarType.Long, TensorBridge.dtype(b.labels()));
            long[] labels = new long[b.size()];
            for (int i = 0; i < labels.length; i++) {
                labels[i] = b.labels().get(i).item_long();
            }
            List<ViewRecord> recs = new ArrayList<>(b.records(0));
            recs.addAll(b.records(1));
            return new Snapshot(b.videos().stream().map(LabeledVideo::id).toList(), labels, TensorBridge.toFloats(b.data(0)),
                    TensorBridge.toFloats(b.data("teacher")), recs);
        }
    }

    private static List<Snapshot> run(int workers, int epoch, long seed) {
        List<Snapshot> out = new ArrayList<>();
        try (DataLoader loader = DataLoader.builder(dataset, views(2, 32)).optBatchSize(5).optWorkers(workers).optPrefetch(workers + 1).optSeed(seed)
                .build()) {
            for (Batch b : loader.epoch(epoch)) {
                try (b) {
                    out.add(snap(b));
                }
            }
            assertEquals(24, loader.stats().clips());
        }
        return out;
    }

    @Test
    void sameSeedAndEpochGiveTheSameBatchesWithOneOrTwoWorkers() {
        int open = Batch.OPEN.get();
        List<Snapshot> one = run(1, 2, 11);
        List<Snapshot> two = run(2, 2, 11);
        assertEquals(5, one.size()); // 12 videos x 2 clips in batches of 5
        assertEquals(List.of(5, 5, 5, 5, 4), one.stream().map(s -> s.ids().size()).toList());
        for (int k = 0; k < one.size(); k++) {
            Snapshot a = one.get(k);
            Snapshot b = two.get(k);
            assertEquals(a.ids(), b.ids(), "batch " + k);
            assertArrayEquals(a.labels(), b.labels());
            assertEquals(a.records(), b.records());
            assertArrayEquals(a.student(), b.student(), "student pixels of batch " + k);
            assertArrayEquals(a.teacher(), b.teacher(), "teacher pixels of batch " + k);
        }
        // both clips of a video sit next to each other, with the video's label, and both views share window and box
        Snapshot first = one.get(0);
        assertEquals(first.ids().get(0), first.ids().get(1));
        for (int i = 0; i < 5; i++) {
            String id = first.ids().get(i);
            LabeledVideo v = dataset.videos().stream().filter(x -> x.id().equals(id)).findFirst().orElseThrow();
            assertEquals(v.label(), first.labels()[i]);
            ViewRecord s = first.records().get(i);
            ViewRecord t = first.records().get(5 + i);
            assertEquals(v.id(), s.videoId());
            assertEquals(List.of(s.startUs(), s.endUs(), s.box(), s.flip()), List.of(t.startUs(), t.endUs(), t.box(), t.flip()));
            assertEquals(List.of(4, 24, 24, 6, 32, 32), List.of(s.frames(), s.height(), s.width(), t.frames(), t.height(), t.width()));
        }
        // another epoch: another order and other augmentations
        List<Snapshot> next = run(2, 3, 11);
        assertNotEquals(one.stream().map(Snapshot::ids).toList(), next.stream().map(Snapshot::ids).toList());
        assertEquals(open, Batch.OPEN.get());
    }

    @Test
    void severalClipsOfAVideoAreDecodedInOnePass() throws Exception {
        long frames = 0;
        for (LabeledVideo v : dataset.videos()) {
            try (org.dualdistill.video.VideoSource s = org.dualdistill.video.VideoSource.open(v.path())) {
                frames += s.frameCount();
            }
        }
        List<Snapshot> onePass = new ArrayList<>();
        List<Snapshot> perClip = new ArrayList<>();
        for (int maxFrames : new int[] {256, 1}) {
            // batches of 4 hold both clips of 2 videos: each video is opened and decoded once per epoch
            try (DataLoader loader = DataLoader.builder(dataset, views(2, 32)).optBatchSize(4).optWorkers(2).optSeed(3).optMaxDecodeFrames(maxFrames)
                    .build()) {
                for (Batch b : loader.epoch(0)) {
                    try (b) {
                        (maxFrames == 1 ? perClip : onePass).add(snap(b));
                        assertNotEquals(b.records(0).get(0), b.records(0).get(1), "two different clips of one video");
                    }
                }
                LoaderStats s = loader.stats();
                assertEquals(12, s.videos());
                if (maxFrames == 256) {
                    assertTrue(s.framesDecoded() <= frames, s.framesDecoded() + " frames decoded, the videos have " + frames);
                }
            }
        }
        // decoding clip by clip (a pass per clip) gives the same pixels
        for (int k = 0; k < onePass.size(); k++) {
            assertArrayEquals(onePass.get(k).student(), perClip.get(k).student());
            assertArrayEquals(onePass.get(k).teacher(), perClip.get(k).teacher());
        }
    }

    @Test
    void corruptAndMissingVideosAreCountedSkips() throws Exception {
        int open = Batch.OPEN.get();
        Path junk = dir.resolve("junk.avi");
        byte[] noise = new byte[20_000];
        new Random(1).nextBytes(noise);
        Files.write(junk, noise);
        Path gone = Files.copy(dataset.get(1).path(), dir.resolve("gone.avi"));
        List<LabeledVideo> list = List.of(dataset.get(0), LabeledVideo.of("junk", junk, 1), dataset.get(2), LabeledVideo.of("gone", gone, 2));
        VideoDataset mixed = VideoDataset.of("mixed", list, dataset.classNames());
        Files.delete(gone); // vanishes after the dataset was checked
        try (DataLoader loader = DataLoader.builder(mixed, views(2, 32)).optBatchSize(3).optWorkers(2).optShuffle(false).build()) {
            List<String> ids = new ArrayList<>();
            for (Batch b : loader.epoch(0)) {
                try (b) {
                    b.videos().forEach(v -> ids.add(v.id()));
                    assertEquals(b.size(), b.data(0).size(0));
                    assertEquals(b.size(), b.labels().size(0));
                    assertEquals(b.size(), b.records(1).size());
                }
            }
            List<String> good = List.of(dataset.get(0).id(), dataset.get(0).id(), dataset.get(2).id(), dataset.get(2).id());
            assertEquals(good, ids);
            LoaderStats s = loader.stats();
            // junk's two clips fall into two batches: it is tried (and skipped) once for each
            assertEquals(3, s.skippedVideos());
            assertEquals(4, s.skippedClips());
            assertEquals(4, s.clips());
            assertEquals(2, s.videos());
            assertTrue(s.framesDecoded() > 0);
            assertTrue(s.recentSkips().stream().anyMatch(m -> m.startsWith("junk ")), s.recentSkips().toString());
            assertTrue(s.recentSkips().stream().anyMatch(m -> m.startsWith("gone ")), s.recentSkips().toString());
        }
        assertEquals(open, Batch.OPEN.get());
    }

    @Test
    void closeWithAFullQueueIsPromptAndFreesTheQueue() throws Exception {
        int open = Batch.OPEN.get();
        DataLoader loader = DataLoader.builder(dataset, views(1, 32)).optBatchSize(2).optWorkers(2).optPrefetch(2).build();
        Iterator<Batch> it = loader.epoch(0).iterator();
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (loader.queuedBatches() < 2 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertEquals(2, loader.queuedBatches(), "the queue fills up to the prefetch limit");
        Thread.sleep(100);
        assertEquals(2, loader.queuedBatches(), "and no further");
        assertEquals(open + 2, Batch.OPEN.get());
        long t0 = System.nanoTime();
        loader.close();
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(ms < 1000, "close took " + ms + " ms");
        assertFalse(loader.workersAlive());
        assertEquals(open, Batch.OPEN.get(), "queued batches were freed");
        assertThrows(IllegalStateException.class, it::hasNext);
        assertThrows(IllegalStateException.class, () -> loader.epoch(1));
        loader.close(); // idempotent

        // closing while the workers are busy decoding
        DataLoader busy = DataLoader.builder(dataset, views(2, 64)).optBatchSize(4).optWorkers(2).build();
        busy.epoch(0);
        Thread.sleep(20);
        t0 = System.nanoTime();
        busy.close();
        ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(ms < 2000, "close took " + ms + " ms");
        assertFalse(busy.workersAlive());
        assertEquals(open, Batch.OPEN.get());
    }

    @Test
    void aConsumerExceptionOrANewEpochLeaksNothing() {
        int open = Batch.OPEN.get();
        try (DataLoader loader = DataLoader.builder(dataset, views(1, 32)).optBatchSize(2).optWorkers(2).optPrefetch(4).build()) {
            RuntimeException boom = assertThrows(RuntimeException.class, () -> {
                int n = 0;
                for (Batch b : loader.epoch(0)) {
                    try (b) {
                        if (++n == 2) {
                            throw new RuntimeException("training step failed");
                        }
                    }
                }
            });
            assertEquals("training step failed", boom.getMessage());
            // the abandoned epoch's queue is freed by the next epoch
            Iterable<Batch> e0 = loader.epoch(0);
            Iterator<Batch> it = e0.iterator();
            assertTrue(it.hasNext()); // parked, not yet taken
            assertThrows(IllegalStateException.class, e0::iterator);
            int count = 0;
            for (Batch b : loader.epoch(1)) {
                try (b) {
                    count++;
                    assertEquals(1, b.epoch());
                }
            }
            assertEquals(6, count);
            assertThrows(IllegalStateException.class, it::hasNext, "a superseded epoch says so");
            assertThrows(IllegalStateException.class, it::next);
        }
        assertEquals(open, Batch.OPEN.get());
    }

    @Test
    void segmentsAndExtraLabels() {
        int open = Batch.OPEN.get();
        LabeledVideo base = dataset.get(0);
        // two 0.6 s segments of one video, with (verb, noun) labels
        List<LabeledVideo> segs = List.of(new LabeledVideo("seg0", base.path(), 1, 0, 600_000, List.of(7, 40)),
                new LabeledVideo("seg1", base.path(), 2, 400_000, 1_000_000, List.of(3, 12)));
        VideoDataset ds = VideoDataset.of("segments", segs, List.of("a", "b", "c"));
        MultiViewSampler mv = MultiViewSampler.of(ClipSampler.uniform(4, 2, 1, 1), VideoTransform.center(0), ViewSpec.of("s", 4, 24));
        try (DataLoader loader = DataLoader.builder(ds, mv).optBatchSize(4).optWorkers(1).optShuffle(false).build()) {
            Iterator<Batch> it = loader.epoch(0).iterator();
            try (Batch b = it.next(); PointerScope scope = new PointerScope()) {
                assertFalse(it.hasNext());
                assertEquals(2, b.size());
                assertArrayEquals(new long[] {2, 2}, TensorBridge.shape(b.extraLabels()));
                assertArrayEquals(new float[] {7, 40, 3, 12}, TensorBridge.toFloats(b.extraLabels()));
                assertArrayEquals(new float[] {1, 2}, TensorBridge.toFloats(b.labels()));
                // window of 8 frames (533,333 us at 15 fps), centred in each segment
                ViewRecord r0 = b.records(0).get(0);
                ViewRecord r1 = b.records(0).get(1);
                assertEquals(533_333, r0.endUs() - r0.startUs());
                // possible starts span 66,667 us; the centre is 33,333 us in, nearer to the segment's first frame than the next
                assertEquals(0, r0.startUs());
                assertEquals(400_000, r1.startUs()); // frame 6 (frame 7 is at 466,667)
            }
        }
        assertEquals(open, Batch.OPEN.get());
    }

    @Test
    void threeHundredBatchesDoNotGrowNativeMemory() {
        int open = Batch.OPEN.get();
        // 12 videos, 1 clip each, batches of 2: 6 per epoch; a leaked batch would hold ~0.8 MB (teacher 6 x 64 x 64)
        try (DataLoader loader = DataLoader.builder(dataset, views(1, 64)).optBatchSize(2).optWorkers(2).build()) {
            long baseRss = 0;
            long baseTotal = 0;
            long peak = 0;
            int batches = 0;
            for (int epoch = 0; batches < 360; epoch++) {
                for (Batch b : loader.epoch(epoch)) {
                    try (b) {
                        assertEquals(2, b.size());
                        batches++;
                    }
                    if (batches == 60) {
                        System.gc();
                        Pointer.trimMemory();
                        baseRss = Pointer.physicalBytes();
                        baseTotal = Pointer.totalBytes();
                    } else if (batches > 60 && batches % 60 == 0) {
                        System.gc();
                        Pointer.trimMemory();
                        peak = Math.max(peak, Pointer.physicalBytes());
                    }
                }
            }
            long grow = peak - baseRss;
            long growTotal = Pointer.totalBytes() - baseTotal;
            LoaderStats s = loader.stats();
            System.out.printf("300 batches after warm-up: peak RSS %+d KiB, JavaCPP totalBytes %+d B; %d clips at %.0f clips/s, consumer waited %.0f%% of the time%n",
                    grow / 1024, growTotal, s.clips(), s.clipsPerSecond(), 100.0 * s.waitNanos() / s.elapsedNanos());
            assertTrue(grow < 48L << 20, "RSS grew by " + (grow >> 20) + " MiB");
            assertTrue(growTotal < 1L << 20, "JavaCPP totalBytes grew by " + growTotal);
            assertEquals(open, Batch.OPEN.get());
            assertEquals(0, s.skippedVideos());
        }
    }

    @Test
    void badConfigurationIsRejected() {
        MultiViewSampler mv = views(1, 32);
        assertThrows(IllegalArgumentException.class, () -> DataLoader.builder(dataset, mv).optBatchSize(0));
        assertThrows(IllegalArgumentException.class, () -> DataLoader.builder(dataset, mv).optWorkers(0));
        assertThrows(IllegalArgumentException.class, () -> DataLoader.builder(null, mv));
        try (DataLoader loader = DataLoader.builder(dataset, mv).optBatchSize(5).optDropLast(true).build()) {
            assertEquals(12, loader.clipsPerEpoch());
            assertEquals(2, loader.batchesPerEpoch());
            assertThrows(IllegalArgumentException.class, () -> loader.epoch(-1));
        }
    }
}
