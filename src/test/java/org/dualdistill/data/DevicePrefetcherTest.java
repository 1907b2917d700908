package org.dualdistill.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.data.synthetic.SyntheticActionDataset;
import org.dualdistill.data.synthetic.SyntheticConfig;
import org.dualdistill.internal.torch.TensorBridge;
import org.dualdistill.model.x3d.X3d;
import org.dualdistill.video.ClipSampler;
import org.dualdistill.video.MultiViewSampler;
import org.dualdistill.video.VideoTransform;
import org.dualdistill.video.ViewSpec;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The prefetch logic of {@link DevicePrefetcher} on the CPU, with a stager that deep-copies each batch on the CPU in
 * place of the CUDA copy (same hand-over, same ownership): order, one batch ahead, every batch once, nothing left
 * open after closing mid-epoch, loader failures delivered after the batches before them. The CUDA path itself
 * (pinned memory, side stream, event) is checked by the {@code gpu}-tagged tests, which skip without a device.
 */
@SuppressWarnings("try")
class DevicePrefetcherTest {
    @TempDir
    static Path root;
    static Hmdb51Dataset dataset; // 12 synthetic training videos, 32x32, two clips each

    @TempDir
    Path dir;

    @BeforeAll
    static void generate() throws Exception {
        SyntheticActionDataset.generate(root, SyntheticConfig.builder().optNumClasses(4).optVideosPerClass(4).optSize(32, 32)
                .optFrames(8, 10).optSeed(4).build());
        dataset = Hmdb51Dataset.builder(root).build();
        assertEquals(12, dataset.size());
    }

    private static MultiViewSampler views() {
        return MultiViewSampler.builder(ClipSampler.random(4, 2, 2), VideoTransform.train(28, 34))
                .addView(ViewSpec.of("student", 4, 24)).addView(ViewSpec.of("teacher", 6, 32)).build();
    }

    private static DataLoader loader(VideoDataset ds, int workers) {
        return DataLoader.builder(ds, views()).optBatchSize(3).optWorkers(workers).optSeed(7).build();
    }

    /** Copies every tensor of a batch on the CPU (clone): the CUDA stager's contract without a device. */
    private static final class CopyingStager implements DevicePrefetcher.Stager {
        final AtomicInteger started = new AtomicInteger();
        final AtomicInteger inFlight = new AtomicInteger(); // started, neither handed over nor dropped
        boolean closed;

        @Override
        public DevicePrefetcher.Transfer start(Batch host) {
            started.incrementAndGet();
            inFlight.incrementAndGet();
            Tensor[] copies = new Tensor[host.tensorCount()];
            try (PointerScope scope = new PointerScope()) {
                for (int i = 0; i < copies.length; i++) {
                    Tensor t = host.tensor(i);
                    if (t != null) {
                        copies[i] = t.clone();
                        copies[i].retainReference();
                    }
                }
            }
            return new DevicePrefetcher.Transfer() {
                boolean spent;

                @Override
                public Batch await() {
                    spent = true;
                    inFlight.decrementAndGet();
                    return new Batch(host, copies, host::close);
                }

                @Override
                public void close() {
                    if (!spent) {
                        spent = true;
                        inFlight.decrementAndGet();
                        for (Tensor t : copies) {
                            if (t != null) {
                                t.releaseReference();
                            }
                        }
                        host.close();
                    }
                }
            };
        }

        @Override
        public void close() {
            closed = true;
        }
    }

    private record Snap(int index, List<String> ids, float[] student, float[] teacher, float[] labels) {
    }

    private static Snap snap(Batch b) {
        try (PointerScope scope = new PointerScope()) {
            return new Snap(b.index(), b.videos().stream().map(LabeledVideo::id).toList(), TensorBridge.toFloats(b.data(0)),
                    TensorBridge.toFloats(b.data("teacher")), TensorBridge.toFloats(b.labels().to(torch.ScalarType.Float)));
        }
    }

    private static void assertSame(List<Snap> want, List<Snap> got) {
        assertEquals(want.size(), got.size());
        for (int k = 0; k < want.size(); k++) {
            assertEquals(want.get(k).index(), got.get(k).index(), "batch " + k);
            assertEquals(want.get(k).ids(), got.get(k).ids(), "batch " + k);
            assertArrayEquals(want.get(k).student(), got.get(k).student(), "student view of batch " + k);
            assertArrayEquals(want.get(k).teacher(), got.get(k).teacher(), "teacher view of batch " + k);
            assertArrayEquals(want.get(k).labels(), got.get(k).labels(), "labels of batch " + k);
        }
    }

    @Test
    void deliversEveryBatchOnceInOrderOneAhead() {
        int open = Batch.OPEN.get();
        List<Snap> direct = new ArrayList<>();
        List<Snap> fed = new ArrayList<>();
        CopyingStager stager = new CopyingStager();
        try (DataLoader loader = loader(dataset, 2)) {
            for (Batch b : loader.epoch(1)) {
                try (b) {
                    direct.add(snap(b));
                }
            }
            try (DevicePrefetcher feed = new DevicePrefetcher(loader.epoch(1).iterator(), stager)) {
                int k = 0;
                while (feed.hasNext()) {
                    try (Batch b = feed.next()) {
                        k++;
                        // batch k-1 in hand, the copy of batch k already started (but for the last)
                        assertEquals(Math.min(k + 1, direct.size()), stager.started.get(), "one batch ahead");
                        fed.add(snap(b));
                    }
                }
                assertFalse(feed.hasNext());
                assertEquals(0, stager.inFlight.get());
            }
        }
        assertEquals(8, direct.size()); // 12 videos x 2 clips in batches of 3
        assertSame(direct, fed);
        assertEquals(List.of(0, 1, 2, 3, 4, 5, 6, 7), fed.stream().map(Snap::index).toList(), "each batch once");
        assertTrue(stager.closed);
        assertEquals(open, Batch.OPEN.get(), "every host and copied batch closed");
    }

    @Test
    void closingMidEpochFreesTheStagedBatch() {
        int open = Batch.OPEN.get();
        CopyingStager stager = new CopyingStager();
        try (DataLoader loader = loader(dataset, 1)) {
            try (DevicePrefetcher feed = new DevicePrefetcher(loader.epoch(0).iterator(), stager)) {
                for (int i = 0; i < 2; i++) {
                    try (Batch b = feed.next()) {
                        assertEquals(i, b.index());
                    }
                }
                assertEquals(1, stager.inFlight.get(), "batch 2 is staged");
            }
            assertEquals(0, stager.inFlight.get());
            assertTrue(stager.closed);
            // the loader starts over: the abandoned epoch's queued batches are its own to free
            int n = 0;
            for (Batch b : loader.epoch(0)) {
                try (b) {
                    n++;
                }
            }
            assertEquals(8, n);
        }
        assertEquals(open, Batch.OPEN.get(), "staged, in-hand and queued batches all freed");
    }

    @Test
    void aLoaderFailureComesAfterTheBatchesBeforeIt() throws Exception {
        int open = Batch.OPEN.get();
        // the last 4 of 12 videos are random bytes: more than 25% unusable stops the epoch
        List<LabeledVideo> list = new ArrayList<>();
        Random rnd = new Random(3);
        for (int i = 0; i < dataset.size(); i++) {
            LabeledVideo v = dataset.get(i);
            if (i >= 8) {
                Path junk = dir.resolve("junk-" + i + ".avi");
                byte[] bytes = new byte[4096];
                rnd.nextBytes(bytes);
                Files.write(junk, bytes);
                v = LabeledVideo.of("junk-" + i, junk, v.label());
            }
            list.add(v);
        }
        VideoDataset mixed = VideoDataset.of("mixed", list, dataset.classNames());
        UnusableDataException direct;
        try (DataLoader loader = DataLoader.builder(mixed, views()).optBatchSize(2).optWorkers(1).optShuffle(false)
                .optMaxSkippedFraction(0.25).build()) {
            direct = assertThrows(UnusableDataException.class, () -> {
                for (Batch b : loader.epoch(0)) {
                    b.close();
                }
            });
        }
        CopyingStager stager = new CopyingStager();
        List<Integer> seen = new ArrayList<>();
        try (DataLoader loader = DataLoader.builder(mixed, views()).optBatchSize(2).optWorkers(1).optShuffle(false)
                .optMaxSkippedFraction(0.25).build();
             DevicePrefetcher feed = new DevicePrefetcher(loader.epoch(0).iterator(), stager)) {
            UnusableDataException e = assertThrows(UnusableDataException.class, () -> {
                while (feed.hasNext()) {
                    try (Batch b = feed.next()) {
                        seen.add(b.index());
                    }
                }
            });
            assertEquals(direct.getMessage(), e.getMessage());
            assertEquals(0, stager.inFlight.get());
        }
        for (int i = 0; i < seen.size(); i++) {
            assertEquals(i, seen.get(i), "in order, none lost before the failure: " + seen);
        }
        assertTrue(seen.size() <= 8, "no batch of the unusable videos: " + seen);
        assertEquals(open, Batch.OPEN.get());
    }

    @Test
    void cudaOnTheCpuBuildOrWithoutADeviceSaysSoInOneLine() {
        assumeTrue(!(torch.hasCUDA() && torch.cuda_is_available()), "a CUDA device is visible");
        try (DataLoader loader = loader(dataset, 1); Device cuda = new Device("cuda:0")) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> DevicePrefetcher.cuda(loader.epoch(0), cuda));
            String m = e.getMessage();
            assertFalse(m.contains("\n"), m);
            assertTrue(m.contains(torch.hasCUDA() ? "no CUDA device visible" : "torch.hasCUDA() is false"), m);
            IllegalStateException p = assertThrows(IllegalStateException.class,
                    () -> DataLoader.builder(dataset, views()).optPinMemory(true).build());
            assertEquals(m, p.getMessage());
        }
        try (DataLoader loader = loader(dataset, 1); Device cpu = new Device("cpu")) {
            assertThrows(IllegalArgumentException.class, () -> DevicePrefetcher.cuda(loader.epoch(0), cpu));
        }
    }

    private static boolean cuda() {
        return torch.hasCUDA() && torch.cuda_is_available() && torch.cuda_device_count() > 0;
    }

    @Test
    @Tag("gpu")
    void onCudaBatchesArrivePinnedCopiedAndEqualToTheCpuBatches() {
        assumeTrue(cuda(), "no CUDA device");
        int open = Batch.OPEN.get();
        List<Snap> host = new ArrayList<>();
        List<Snap> fed = new ArrayList<>();
        try (DataLoader plain = loader(dataset, 2)) {
            for (Batch b : plain.epoch(0)) {
                try (b) {
                    host.add(snap(b));
                }
            }
        }
        try (DataLoader pinned = DataLoader.builder(dataset, views()).optBatchSize(3).optWorkers(2).optSeed(7)
                .optPinMemory(true).build(); Device dev = new Device("cuda:0")) {
            for (Batch b : pinned.epoch(0)) {
                try (b) {
                    for (int i = 0; i < b.tensorCount(); i++) {
                        assertTrue(b.tensor(i) == null || b.tensor(i).is_pinned(), "slot " + i + " pinned by the worker");
                    }
                }
            }
            try (DevicePrefetcher feed = DevicePrefetcher.cuda(pinned.epoch(0), dev)) {
                while (feed.hasNext()) {
                    try (Batch b = feed.next()) {
                        assertTrue(b.data(0).is_cuda() && b.data("teacher").is_cuda() && b.labels().is_cuda());
                        fed.add(snap(b));
                    }
                }
            }
        }
        assertSame(host, fed);
        assertEquals(open, Batch.OPEN.get());
    }

    @Test
    @Tag("gpu")
    void onCudaATrainingStepOnAFedBatchEqualsOneOnACopiedBatch() {
        assumeTrue(cuda(), "no CUDA device");
        try (DataLoader loader = loader(dataset, 1); Device dev = new Device("cuda:0")) {
            float[][] fedGrads;
            float[][] copiedGrads;
            try (DevicePrefetcher feed = DevicePrefetcher.cuda(loader.epoch(0), dev); Batch b = feed.next()) {
                fedGrads = step(b.data("teacher"), b.labels(), dev);
            }
            try (PointerScope scope = new PointerScope()) {
                Batch b = loader.epoch(0).iterator().next();
                try (b) {
                    copiedGrads = step(b.data("teacher").to(dev, torch.ScalarType.Float), b.labels().to(dev, torch.ScalarType.Long),
                            dev);
                }
            }
            assertEquals(copiedGrads.length, fedGrads.length);
            for (int i = 0; i < fedGrads.length; i++) {
                assertArrayEquals(copiedGrads[i], fedGrads[i], 1e-6f, "gradient of parameter " + i);
            }
        }
    }

    /** One cross-entropy forward/backward of a seeded small X3D on the device; returns its parameters' gradients. */
    private static float[][] step(Tensor x, Tensor labels, Device dev) {
        torch.manual_seed(11);
        try (X3d m = X3d.builder().widthFactor(0.5).depthFactor(0.5).headDimOut(32).numClasses(4).dropout(0.0).clipLength(6)
                .crop(32).build(); PointerScope scope = new PointerScope()) {
            m.module().to(dev, false);
            m.module().train(true);
            Tensor loss = torch.nll_loss(torch.log_softmax(m.forward(x).logits(), 1), labels);
            loss.backward();
            TensorVector ps = m.module().parameters();
            float[][] out = new float[(int) ps.size()][];
            for (int i = 0; i < out.length; i++) {
                out[i] = TensorBridge.toFloats(ps.get(i).grad());
            }
            return out;
        }
    }
}
