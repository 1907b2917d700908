package org.dualdistill.data;

import static org.dualdistill.data.AnnotationFiles.assertError;
import static org.dualdistill.data.AnnotationFiles.touch;
import static org.dualdistill.data.AnnotationFiles.write;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;

import org.dualdistill.data.synthetic.SyntheticActionDataset;
import org.dualdistill.data.synthetic.SyntheticConfig;
import org.dualdistill.data.synthetic.SyntheticDataset;
import org.dualdistill.data.synthetic.SyntheticVideo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class Hmdb51DatasetTest {
    @TempDir
    Path dir;

    @Test
    void readsTheSyntheticDatasetsSplits() throws Exception {
        Path root = dir.resolve("synthetic");
        SyntheticDataset gen = SyntheticActionDataset.generate(root,
                SyntheticConfig.builder().optNumClasses(4).optVideosPerClass(5).optSize(16, 16).optFrames(4, 4).optSeed(3).build());
        for (int split = 1; split <= 3; split++) {
            for (Hmdb51Dataset.Subset subset : Hmdb51Dataset.Subset.values()) {
                Hmdb51Dataset ds = Hmdb51Dataset.builder(root).optSplit(split).optSubset(subset).build();
                List<SyntheticVideo> want = gen.videos(split, subset.tag());
                assertEquals(want.size(), ds.size(), "split " + split + " " + subset);
                // classes in the generator's label order (classes.txt), not alphabetically
                assertEquals(gen.classes().stream().map(c -> c.folderName()).toList(), ds.classNames());
                for (int i = 0; i < want.size(); i++) {
                    SyntheticVideo w = want.stream().sorted(Comparator.comparing(SyntheticVideo::label)).toList().get(i);
                    LabeledVideo v = ds.get(i);
                    assertEquals(w.file(), v.path());
                    assertEquals(w.label(), v.label());
                    assertEquals(w.actionClass().folderName() + "/" + w.name(), v.id());
                    assertEquals(false, v.isSegment());
                }
                assertEquals(List.of(), ds.missing());
            }
        }
    }

    @Test
    void officialLayoutWithSeparateSplitFolderAndMissingVideos() throws Exception {
        Path videos = dir.resolve("hmdb51");
        Path splits = dir.resolve("testTrainMulti_7030_splits");
        touch(videos, "wave/w1.avi", "wave/w2.avi", "wave/w3.avi", "brush_hair/b1.avi", "brush_hair/b#2 (x)!.avi");
        write(splits.resolve("wave_test_split1.txt"), "w1.avi 1 ", "w2.avi 2 ", "w3.avi 0 ", "w4.avi 1 ");
        write(splits.resolve("brush_hair_test_split1.txt"), "b1.avi 2 ", "b#2 (x)!.avi 1 ", "");
        write(splits.resolve("wave_test_split2.txt"), "w1.avi 2");
        write(splits.resolve("brush_hair_test_split2.txt"), "b1.avi 1");
        Hmdb51Dataset train = Hmdb51Dataset.builder(videos).optSplitDir(splits).build();
        assertEquals(List.of("brush_hair", "wave"), train.classNames()); // alphabetical without classes.txt
        assertEquals(List.of("brush_hair/b#2 (x)!.avi", "wave/w1.avi"), train.videos().stream().map(LabeledVideo::id).toList());
        assertEquals(List.of(0, 1), train.videos().stream().map(LabeledVideo::label).toList());
        // w4.avi is listed but absent: counted, reported with file and line, left out
        assertEquals(1, train.missing().size());
        assertEquals(videos.resolve("wave/w4.avi"), train.missing().get(0).path());
        assertEquals(splits.resolve("wave_test_split1.txt"), train.missing().get(0).annotationFile());
        assertEquals(4, train.missing().get(0).line());
        Hmdb51Dataset test = Hmdb51Dataset.builder(videos).optSplitDir(splits).optSubset(Hmdb51Dataset.Subset.TEST).build();
        assertEquals(List.of("brush_hair/b1.avi", "wave/w2.avi"), test.videos().stream().map(LabeledVideo::id).toList());
        assertEquals(1, Hmdb51Dataset.builder(videos).optSplitDir(splits).optSubset(Hmdb51Dataset.Subset.UNUSED).build().size());
        assertEquals(List.of("wave/w1.avi"), Hmdb51Dataset.builder(videos).optSplitDir(splits).optSplit(2).optSubset(Hmdb51Dataset.Subset.TEST)
                .build().videos().stream().map(LabeledVideo::id).toList());
        assertError(splits.resolve("wave_test_split1.txt"), 4, "not found",
                () -> Hmdb51Dataset.builder(videos).optSplitDir(splits).optFailOnMissing(true).build());
    }

    @Test
    void badSplitFilesNameFileAndLine() throws Exception {
        Path videos = dir.resolve("v");
        Path splits = dir.resolve("s");
        touch(videos, "run/r1.avi", "run/r2.avi");
        Path f = write(splits.resolve("run_test_split1.txt"), "r1.avi 1 ", "r2.avi 3 ");
        assertError(f, 2, "tag must be 0 (unused), 1 (train) or 2 (test), got '3'", () -> Hmdb51Dataset.builder(videos).optSplitDir(splits).build());
        write(f, "r1.avi 1 ", "", "r2.avi 1 extra");
        assertError(f, 3, "got 'extra'", () -> Hmdb51Dataset.builder(videos).optSplitDir(splits).build());
        write(f, "r1.avi 1 ", "r2.avi");
        assertError(f, 2, "expected '<video> <0|1|2>', got 'r2.avi'", () -> Hmdb51Dataset.builder(videos).optSplitDir(splits).build());
        write(f, "r1.avi 1", "r2.avi 2", "r1.avi 2");
        assertError(f, 3, "listed twice (first on line 1)", () -> Hmdb51Dataset.builder(videos).optSplitDir(splits).build());
        write(f, "r1.avi 1");
        assertError(f, 0, "class 'run' is not in the class list",
                () -> Hmdb51Dataset.builder(videos).optSplitDir(splits).optClassNames(List.of("walk")).build());
        assertError(splits.resolve("walk_test_split1.txt"), 0, "split file of class 'walk' not found",
                () -> Hmdb51Dataset.builder(videos).optSplitDir(splits).optClassNames(List.of("run", "walk")).build());
        assertError(splits, 0, "no split files *_test_split2.txt", () -> Hmdb51Dataset.builder(videos).optSplitDir(splits).optSplit(2).build());
        assertError(videos.resolve("splits"), 0, "split folder not found", () -> Hmdb51Dataset.builder(videos).build());
    }
}
