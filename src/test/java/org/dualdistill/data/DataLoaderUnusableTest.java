package org.dualdistill.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import org.dualdistill.data.synthetic.SyntheticActionDataset;
import org.dualdistill.data.synthetic.SyntheticConfig;
import org.dualdistill.video.ClipSampler;
import org.dualdistill.video.MultiViewSampler;
import org.dualdistill.video.VideoTransform;
import org.dualdistill.video.ViewSpec;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Unusable videos are gathered per file into one summary and a list file; a dataset with nothing usable, or with more
 * unusable files than the allowed fraction, stops the epoch with one {@link UnusableDataException} line; a partly
 * broken one within the fraction trains on the rest and says how many were left out.
 */
class DataLoaderUnusableTest {
    @TempDir
    static Path root;
    static Hmdb51Dataset dataset; // 12 synthetic videos

    @TempDir
    Path dir;

    @BeforeAll
    static void generate() throws Exception {
        SyntheticActionDataset.generate(root, SyntheticConfig.builder().optNumClasses(4).optVideosPerClass(4).optSize(32, 32)
                .optFrames(8, 10).optSeed(9).build());
        dataset = Hmdb51Dataset.builder(root).build();
        assertEquals(12, dataset.size());
    }

    private static MultiViewSampler views() {
        return MultiViewSampler.builder(ClipSampler.random(4, 2), VideoTransform.center(32)).addView(ViewSpec.of("student", 4, 32))
                .build();
    }

    /** The dataset with its first {@code broken} videos replaced by files of random bytes. */
    private VideoDataset withJunk(int broken) throws Exception {
        List<LabeledVideo> list = new ArrayList<>();
        Random rnd = new Random(3);
        for (int i = 0; i < dataset.size(); i++) {
            LabeledVideo v = dataset.get(i);
            if (i < broken) {
                Path junk = dir.resolve("junk-" + i + ".avi");
                byte[] b = new byte[4096];
                rnd.nextBytes(b);
                Files.write(junk, b);
                v = LabeledVideo.of("junk-" + i, junk, v.label());
            }
            list.add(v);
        }
        return VideoDataset.of("mixed", list, dataset.classNames());
    }

    private static int drain(DataLoader loader) {
        int clips = 0;
        for (Batch b : loader.epoch(0)) {
            try (b) {
                clips += b.size();
            }
        }
        return clips;
    }

    @Test
    void nothingUsableStopsWithOneLineNamingTheFilesAndTheList() throws Exception {
        Path list = dir.resolve("run").resolve("unusable-videos.tsv");
        try (DataLoader loader = DataLoader.builder(withJunk(12), views()).optBatchSize(4).optWorkers(2).optSkipList(list).build()) {
            UnusableDataException e = assertThrows(UnusableDataException.class, () -> drain(loader));
            String m = e.getMessage();
            assertFalse(m.contains("\n"), m);
            assertTrue(m.startsWith("mixed: no usable video"), m);
            assertTrue(m.contains("12 of 12 videos unusable"), m);
            assertTrue(m.contains(", and 9 more") && m.contains("full list in " + list.toAbsolutePath()), m);
            assertEquals(12, e.skipped().size());
            List<String> lines = Files.readAllLines(list);
            assertEquals(12, lines.size(), lines.toString());
            for (int i = 0; i < 12; i++) {
                String prefix = dir.resolve("junk-" + i + ".avi") + "\t";
                assertTrue(lines.stream().anyMatch(l -> l.startsWith(prefix) && l.length() > prefix.length()), lines.toString());
            }
        }
    }

    @Test
    void moreThanTheAllowedFractionStops() throws Exception {
        try (DataLoader loader = DataLoader.builder(withJunk(3), views()).optBatchSize(2).optWorkers(1).optShuffle(false)
                .optMaxSkippedFraction(0.2).build()) {
            UnusableDataException e = assertThrows(UnusableDataException.class, () -> drain(loader));
            assertTrue(e.getMessage().contains("more than 20% of the videos are unusable: 3 of 12 videos unusable"), e.getMessage());
            assertEquals(12, e.videos());
        }
    }

    @Test
    void aPartlyBrokenDatasetTrainsAndReportsItsCount() throws Exception {
        try (DataLoader loader = DataLoader.builder(withJunk(3), views()).optBatchSize(2).optWorkers(2)
                .optMaxSkippedFraction(0.25).build()) {
            assertEquals(9, drain(loader));
            String s = loader.skipSummary();
            assertTrue(s != null && s.startsWith("mixed: 3 of 12 videos unusable: junk-") && s.contains("their clips were left out"), s);
            assertNull(loader.skipSummary(), "said once");
            assertEquals(9, drain(loader)); // the same files again: nothing new to say
            assertNull(loader.skipSummary());
            assertEquals(3, loader.stats().skippedFiles());
            assertEquals(6, loader.stats().skippedVideos(), "counted per occurrence");
        }
    }
}
