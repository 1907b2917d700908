package org.dualdistill.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.bytedeco.javacpp.PointerScope;
import org.dualdistill.data.synthetic.SyntheticActionDataset;
import org.dualdistill.data.synthetic.SyntheticConfig;
import org.dualdistill.internal.torch.TensorBridge;
import org.dualdistill.video.ClipSampler;
import org.dualdistill.video.MultiViewSampler;
import org.dualdistill.video.VideoTransform;
import org.dualdistill.video.ViewSpec;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Per-rank sharding of {@link DataLoader} epochs (the data-parallel sampler). */
@SuppressWarnings("try")
class DataLoaderShardTest {
    @TempDir
    static Path root;
    static Hmdb51Dataset dataset; // the training split (9) of 3 x 4 tiny videos

    @BeforeAll
    static void generate() throws Exception {
        SyntheticActionDataset.generate(root, SyntheticConfig.builder().optNumClasses(3).optVideosPerClass(4).optSize(16, 16)
                .optFrames(6, 8).optSeed(3).build());
        dataset = Hmdb51Dataset.builder(root).build();
        // an odd count, so 2 ranks need one padding repeat; batches of 2 per rank leave a short last batch
        assertEquals(9, dataset.size());
    }

    private static DataLoader loader(int batch, int rank, int world, boolean pad) {
        MultiViewSampler views = MultiViewSampler.builder(ClipSampler.random(2, 1), VideoTransform.train(12, 16))
                .addView(ViewSpec.of("x", 2, 12)).build();
        DataLoader.Builder b = DataLoader.builder(dataset, views).optBatchSize(batch).optWorkers(1).optSeed(7);
        if (world > 1) {
            b.optShard(rank, world).optShardPadding(pad);
        }
        return b.build();
    }

    private record Item(String id, float[] data) {
    }

    private static List<List<Item>> epoch(DataLoader l, int epoch) {
        List<List<Item>> out = new ArrayList<>();
        for (Batch b : l.epoch(epoch)) {
            try (b; PointerScope s = new PointerScope()) {
                float[] all = TensorBridge.toFloats(b.data(0));
                int per = all.length / b.size();
                List<Item> items = new ArrayList<>();
                for (int i = 0; i < b.size(); i++) {
                    items.add(new Item(b.videos().get(i).id(), java.util.Arrays.copyOfRange(all, i * per, (i + 1) * per)));
                }
                out.add(items);
            }
        }
        return out;
    }

    @Test
    void shardsAreDisjointEqualSizedAndTogetherFormTheCombinedBatches() {
        List<List<Item>> full;
        List<List<Item>> r0;
        List<List<Item>> r1;
        List<List<Item>> e1;
        try (DataLoader all = loader(4, 0, 1, true); DataLoader a = loader(2, 0, 2, true); DataLoader b = loader(2, 1, 2, true)) {
            assertEquals(5, a.videosPerEpoch());
            assertEquals(5, b.videosPerEpoch());
            assertEquals(a.batchesPerEpoch(), b.batchesPerEpoch());
            full = epoch(all, 0);
            r0 = epoch(a, 0);
            r1 = epoch(b, 0);
            e1 = epoch(a, 1);
        }
        assertEquals(3, r0.size());
        assertEquals(3, r1.size());
        // batch k of the two ranks == batch k of the unsharded loader with twice the batch (same clips, same pixels)
        for (int k = 0; k < 2; k++) {
            List<Item> joined = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                joined.add(r0.get(k).get(i));
                joined.add(r1.get(k).get(i));
            }
            assertEquals(4, full.get(k).size());
            for (int i = 0; i < 4; i++) {
                assertEquals(full.get(k).get(i).id(), joined.get(i).id(), "batch " + k + " clip " + i);
                assertArrayEquals(full.get(k).get(i).data(), joined.get(i).data(), "batch " + k + " clip " + i);
            }
        }
        Set<String> seen0 = ids(r0);
        Set<String> seen1 = ids(r1);
        Set<String> union = new HashSet<>(seen0);
        union.addAll(seen1);
        assertEquals(9, union.size(), "every video is on some rank");
        assertEquals(1, seen0.stream().filter(seen1::contains).count(), "exactly the one padding repeat is shared");
        assertNotEquals(ids(r0), ids(e1), "a new epoch reshuffles the shard");
    }

    @Test
    void unpaddedShardsPartitionTheDatasetExactly() {
        try (DataLoader a = loader(4, 0, 2, false); DataLoader b = loader(4, 1, 2, false)) {
            assertEquals(5, a.videosPerEpoch());
            assertEquals(4, b.videosPerEpoch());
            Set<String> s0 = ids(epoch(a, 0));
            Set<String> s1 = ids(epoch(b, 0));
            assertEquals(5, s0.size());
            assertEquals(4, s1.size());
            s0.retainAll(s1);
            assertEquals(Set.of(), s0);
        }
    }

    @Test
    void rejectsBadShards() {
        MultiViewSampler views = MultiViewSampler.builder(ClipSampler.random(2, 1), VideoTransform.train(12, 16))
                .addView(ViewSpec.of("x", 2, 12)).build();
        assertThrows(IllegalArgumentException.class, () -> DataLoader.builder(dataset, views).optShard(2, 2));
        assertThrows(IllegalArgumentException.class, () -> DataLoader.builder(dataset, views).optShard(0, 0));
    }

    private static Set<String> ids(List<List<Item>> batches) {
        Set<String> s = new HashSet<>();
        for (List<Item> b : batches) {
            for (Item i : b) {
                s.add(i.id());
            }
        }
        return s;
    }
}
