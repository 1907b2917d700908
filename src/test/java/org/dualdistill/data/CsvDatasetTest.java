package org.dualdistill.data;

import static org.dualdistill.data.AnnotationFiles.assertError;
import static org.dualdistill.data.AnnotationFiles.touch;
import static org.dualdistill.data.AnnotationFiles.write;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The generic CSV and folder-per-class forms. */
class CsvDatasetTest {
    @TempDir
    Path dir;

    @Test
    void indexLabelsNameLabelsSegmentsAndHeader() throws Exception {
        touch(dir, "clips/a.mp4", "clips/b.avi", "other/c.mkv");
        Path ints = write(dir.resolve("ints.csv"), "path,label,start,end", "clips/a.mp4,2", "clips/b.avi,0,1.5,3", "clips/b.avi,0,3,4.25",
                "clips/none.mp4,1", dir.resolve("other/c.mkv") + ",1");
        CsvDataset ds = CsvDataset.builder(ints).build();
        assertEquals(List.of("0", "1", "2"), ds.classNames());
        assertEquals(List.of("clips/a.mp4", "clips/b.avi@1500000-3000000", "clips/b.avi@3000000-4250000", dir.resolve("other/c.mkv").toString()),
                ds.videos().stream().map(LabeledVideo::id).toList());
        assertEquals(List.of(2, 0, 0, 1), ds.videos().stream().map(LabeledVideo::label).toList());
        assertEquals(1_500_000, ds.get(1).startUs());
        assertEquals(4_250_000, ds.get(2).endUs());
        assertEquals(dir.resolve("clips/a.mp4"), ds.get(0).path());
        assertEquals(1, ds.missing().size());
        assertEquals(5, ds.missing().get(0).line());

        Path names = write(dir.resolve("names.csv"), "clips/a.mp4,walk", "clips/b.avi,run");
        assertEquals(List.of("run", "walk"), CsvDataset.builder(names).build().classNames());
        CsvDataset given = CsvDataset.builder(names).optClassNames(List.of("walk", "run", "jump")).build();
        assertEquals(List.of(0, 1), given.videos().stream().map(LabeledVideo::label).toList());
        Path elsewhere = write(dir.resolve("lists/rel.csv"), "a.mp4,0");
        assertEquals(dir.resolve("clips/a.mp4"), CsvDataset.builder(elsewhere).optRoot(dir.resolve("clips")).build().get(0).path());
    }

    @Test
    void badLinesNameFileAndLine() throws Exception {
        Path csv = dir.resolve("bad.csv");
        write(csv, "a.mp4,1", "b.mp4,1,2");
        assertError(csv, 2, "expected 'path,label' or 'path,label,start,end', got 3 fields", () -> CsvDataset.builder(csv).build());
        write(csv, "a.mp4,0", "b.mp4,-1");
        assertError(csv, 2, "label must be a class index >= 0 or a class name, got '-1'", () -> CsvDataset.builder(csv).build());
        write(csv, "a.mp4,0,5,2");
        assertError(csv, 1, "end must be after start", () -> CsvDataset.builder(csv).build());
        write(csv, "a.mp4,0,x,2");
        assertError(csv, 1, "start must be a non-negative number of seconds, got 'x'", () -> CsvDataset.builder(csv).build());
        write(csv, "a.mp4,walk", ",run");
        assertError(csv, 2, "path is empty", () -> CsvDataset.builder(csv).build());
        write(csv, "a.mp4,walk", "b.mp4,swim");
        assertError(csv, 2, "label 'swim' is not in the class list", () -> CsvDataset.builder(csv).optClassNames(List.of("walk")).build());
        write(csv, "a.mp4,3");
        assertError(csv, 1, "label 3 is not below the number of classes 2", () -> CsvDataset.builder(csv).optClassNames(List.of("x", "y")).build());
        write(csv, "a.mp4,1", "a.mp4,1");
        assertError(csv, 2, "listed twice (first on line 1)", () -> CsvDataset.builder(csv).build());
        touch(dir, "a.mp4");
        write(csv, "a.mp4,1", "gone.mp4,0");
        assertError(csv, 2, "not found, e.g. " + dir.resolve("gone.mp4"), () -> CsvDataset.builder(csv).optFailOnMissing(true).build());
        assertError(dir.resolve("nothing.csv"), 0, "", () -> {
            throw new AnnotationException(dir.resolve("nothing.csv"), 0, "placeholder");
        });
    }

    @Test
    void folderPerClass() throws Exception {
        Path root = dir.resolve("folders");
        touch(root, "walk/2.mp4", "walk/1.AVI", "walk/notes.txt", "run/x.webm", ".hidden/y.mp4", "walk/.z.mp4");
        touch(root, "empty/.keep");
        FolderDataset ds = FolderDataset.load(root);
        assertEquals(List.of("empty", "run", "walk"), ds.classNames());
        assertEquals(List.of("run/x.webm", "walk/1.AVI", "walk/2.mp4"), ds.videos().stream().map(LabeledVideo::id).toList());
        assertEquals(List.of(1, 2, 2), ds.videos().stream().map(LabeledVideo::label).toList());
        assertError(dir.resolve("missing"), 0, "not a folder", () -> FolderDataset.load(dir.resolve("missing")));
    }
}
