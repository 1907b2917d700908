package org.dualdistill.data;

import static org.dualdistill.data.AnnotationFiles.assertError;
import static org.dualdistill.data.AnnotationFiles.touch;
import static org.dualdistill.data.AnnotationFiles.write;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EpicKitchensDatasetTest {
    private static final String HEADER = "narration_id,participant_id,video_id,narration_timestamp,start_timestamp,stop_timestamp,start_frame,"
            + "stop_frame,narration,verb,verb_class,noun,noun_class,all_nouns,all_noun_classes";

    @TempDir
    Path dir;

    private static String row(String id, String video, String start, String stop, int sf, int ef, int verb, int noun) {
        String participant = video.substring(0, video.indexOf('_'));
        return id + "," + participant + "," + video + ",00:00:00.00," + start + "," + stop + "," + sf + "," + ef
                + ",open tap,open," + verb + ",tap," + noun + ",\"['tap', 'water']\",\"[" + noun + ", 27]\"";
    }

    @Test
    void readsSegmentsWithVerbNounAndActionTargets() throws Exception {
        Path root = dir.resolve("EPIC-KITCHENS");
        touch(root, "P01/videos/P01_01.MP4", "P02/videos/P02_03.MP4");
        Path csv = write(dir.resolve("EPIC_100_train.csv"), HEADER,
                row("P01_01_0", "P01_01", "00:00:01.089", "00:00:02.629", 54, 131, 3, 10),
                row("P01_01_1", "P01_01", "00:01:05.5", "00:01:07.25", 3275, 3362, 96, 299),
                row("P02_03_7", "P02_03", "01:00:00.000", "01:00:00.001", 216000, 216000, 0, 0),
                row("P09_09_0", "P09_09", "00:00:01.00", "00:00:02.00", 50, 100, 1, 1),
                row("P09_09_1", "P09_09", "00:00:03.00", "00:00:04.00", 150, 200, 1, 2));
        EpicKitchensDataset ds = EpicKitchensDataset.builder(csv, root).build();
        assertEquals(97 * 300, ds.numClasses());
        assertEquals(3, ds.size());
        LabeledVideo a = ds.get(0);
        assertEquals("P01_01_0", a.id());
        assertEquals(root.resolve("P01/videos/P01_01.MP4"), a.path());
        assertEquals(1_089_000, a.startUs());
        assertEquals(2_629_000, a.endUs());
        assertEquals(3 * 300 + 10, a.label());
        assertEquals(List.of(3, 10), a.extraLabels());
        assertEquals(65_500_000, ds.get(1).startUs());
        assertEquals(96 * 300 + 299, ds.get(1).label());
        assertEquals(3_600_000_000L, ds.get(2).startUs());
        assertEquals(2, ds.numExtraLabels());
        // a missing video counts once, however many segments it has
        assertEquals(1, ds.missing().size());
        assertEquals(5, ds.missing().get(0).line());
        assertEquals(List.of(3, 96, 0), EpicKitchensDataset.builder(csv, root).optTarget(EpicKitchensDataset.Target.VERB).build().videos().stream()
                .map(LabeledVideo::label).toList());
        EpicKitchensDataset nouns = EpicKitchensDataset.builder(csv, root).optTarget(EpicKitchensDataset.Target.NOUN).build();
        assertEquals(List.of(10, 299, 0), nouns.videos().stream().map(LabeledVideo::label).toList());
        assertEquals("noun_299", nouns.classNames().get(299));
        touch(root, "P01_01.mp4");
        assertEquals(2, EpicKitchensDataset.builder(csv, root).optFilePattern("{video_id}.mp4").build().size());
    }

    @Test
    void badLinesNameFileAndLine() throws Exception {
        Path root = dir.resolve("r");
        Path csv = dir.resolve("EPIC_100_validation.csv");
        write(csv, HEADER, row("a", "P01_01", "00:00:01.5", "00:00:01.5", 1, 2, 0, 0));
        assertError(csv, 2, "stop_timestamp must be after start_timestamp", () -> EpicKitchensDataset.builder(csv, root).build());
        write(csv, HEADER, row("a", "P01_01", "00:00:61.0", "00:01:02.0", 1, 2, 0, 0));
        assertError(csv, 2, "start_timestamp must be a timestamp HH:MM:SS.fff, got '00:00:61.0'", () -> EpicKitchensDataset.builder(csv, root).build());
        write(csv, HEADER, row("a", "P01_01", "0:00:01", "0:00:02", 9, 2, 0, 0));
        assertError(csv, 2, "stop_frame 2 is before start_frame 9", () -> EpicKitchensDataset.builder(csv, root).build());
        write(csv, HEADER, row("a", "P01_01", "0:00:01", "0:00:02", 1, 2, 97, 0));
        assertError(csv, 2, "class out of range: verb_class 97", () -> EpicKitchensDataset.builder(csv, root).build());
        write(csv, HEADER, row("a", "P01_01", "0:00:01", "0:00:02", 1, 2, 1, 0), row("a", "P01_01", "0:00:03", "0:00:04", 3, 4, 1, 0));
        assertError(csv, 3, "narration_id 'a' is listed twice (first on line 2)", () -> EpicKitchensDataset.builder(csv, root).build());
        write(csv, HEADER, row("a", "P01_01", "0:00:01", "0:00:02", 1, 2, 1, 0).replace(",1,tap,", ",x,tap,"));
        assertError(csv, 2, "verb_class must be a non-negative integer, got 'x'", () -> EpicKitchensDataset.builder(csv, root).build());
        // the test-set file has no classes
        Path test = write(dir.resolve("EPIC_100_test_timestamps.csv"), "narration_id,participant_id,video_id,narration_timestamp,start_timestamp,"
                + "stop_timestamp,start_frame,stop_frame", "P01_101_0,P01,P01_101,00:00:00.00,00:00:00.75,00:00:01.20,37,60");
        assertError(test, 1, "missing column 'verb_class'", () -> EpicKitchensDataset.builder(test, root).build());
    }
}
