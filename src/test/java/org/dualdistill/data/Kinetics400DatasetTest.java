package org.dualdistill.data;

import static org.dualdistill.data.AnnotationFiles.assertError;
import static org.dualdistill.data.AnnotationFiles.touch;
import static org.dualdistill.data.AnnotationFiles.write;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class Kinetics400DatasetTest {
    private static final String HEADER = "label,youtube_id,time_start,time_end,split,is_cc";

    @TempDir
    Path dir;

    @Test
    void readsTheOfficialCsvWithTheDefaultFileNames() throws Exception {
        Path videos = dir.resolve("train");
        touch(videos, "--07WQ2iBlw_000001_000011.mp4", "-0Nx9ZZJyo8_000030_000040.mp4", "zzz_000005_000015.mp4");
        Path csv = write(dir.resolve("train.csv"), HEADER,
                "javelin throw,--07WQ2iBlw,1,11,train,0",
                "\"passing American football (in game)\",-0Nx9ZZJyo8,30,40,train,1",
                "abseiling,zzz,5,15,train,0",
                "abseiling,gone,0,10,train,0",
                "abseiling,valclip,0,10,val,0");
        Kinetics400Dataset ds = Kinetics400Dataset.builder(csv, videos).optSplit("train").build();
        assertEquals(List.of("abseiling", "javelin throw", "passing American football (in game)"), ds.classNames());
        assertEquals(List.of("--07WQ2iBlw_000001_000011.mp4", "-0Nx9ZZJyo8_000030_000040.mp4", "zzz_000005_000015.mp4"),
                ds.videos().stream().map(LabeledVideo::id).toList());
        assertEquals(List.of(1, 2, 0), ds.videos().stream().map(LabeledVideo::label).toList());
        assertEquals(videos.resolve("zzz_000005_000015.mp4"), ds.get(2).path());
        assertEquals(1, ds.missing().size()); // "gone"; the val row is filtered out before the check
        assertEquals(5, ds.missing().get(0).line());
        assertError(csv, 5, "gone_000000_000010.mp4", () -> Kinetics400Dataset.builder(csv, videos).optSplit("train").optFailOnMissing(true).build());
    }

    @Test
    void customPatternClassListAndUntrimmedVideos() throws Exception {
        Path videos = dir.resolve("k");
        touch(videos, "abseiling/aaa.mp4", "zumba/bbb.mp4");
        Path csv = write(dir.resolve("k.csv"), "label,youtube_id,time_start,time_end", "abseiling,aaa,12.5,22.5", "zumba,bbb,0,10");
        Kinetics400Dataset ds = Kinetics400Dataset.builder(csv, videos).optFilePattern("{label}/{youtube_id}.mp4").optTrimmed(false)
                .optClassNames(List.of("zumba", "x", "abseiling")).build();
        assertEquals(3, ds.numClasses());
        LabeledVideo a = ds.get(0);
        assertEquals(2, a.label());
        assertEquals(12_500_000, a.startUs());
        assertEquals(22_500_000, a.endUs());
        assertEquals(videos.resolve("abseiling/aaa.mp4"), a.path());
        assertEquals(0, ds.get(1).label());
        assertError(csv, 2, "label 'abseiling' is not in the class list",
                () -> Kinetics400Dataset.builder(csv, videos).optFilePattern("{label}/{youtube_id}.mp4").optClassNames(List.of("zumba")).build());
        assertThrows(IllegalArgumentException.class, () -> Kinetics400Dataset.builder(csv, videos).optFilePattern("{youtube_id.mp4"));
    }

    @Test
    void badLinesNameFileAndLine() throws Exception {
        Path v = dir.resolve("v");
        Path csv = dir.resolve("bad.csv");
        write(csv, "label,youtube_id,time_end,split");
        assertError(csv, 1, "missing column 'time_start'", () -> Kinetics400Dataset.builder(csv, v).build());
        write(csv, HEADER, "a,x,1,11,train,0", "a,y,1,11,train");
        assertError(csv, 3, "expected 6 fields, got 5", () -> Kinetics400Dataset.builder(csv, v).build());
        write(csv, HEADER, "a,x,1,11,train,0", "", "a,y,12,11,train,0");
        assertError(csv, 4, "time_end must be after time_start", () -> Kinetics400Dataset.builder(csv, v).build());
        write(csv, HEADER, "a,x,one,11,train,0");
        assertError(csv, 2, "time_start must be a non-negative number of seconds, got 'one'", () -> Kinetics400Dataset.builder(csv, v).build());
        write(csv, HEADER, ",x,1,11,train,0");
        assertError(csv, 2, "label is empty", () -> Kinetics400Dataset.builder(csv, v).build());
        write(csv, HEADER, "a,x,1.5,11,train,0");
        assertError(csv, 2, "must be an integer for {time_start:06d}", () -> Kinetics400Dataset.builder(csv, v).build());
        write(csv, HEADER, "a,x,1,11,train,0", "b,x,1,11,train,0");
        assertError(csv, 3, "listed twice (first on line 2)", () -> Kinetics400Dataset.builder(csv, v).build());
        write(csv, HEADER, "\"a,x,1,11,train,0");
        assertError(csv, 2, "unterminated quoted field", () -> Kinetics400Dataset.builder(csv, v).build());
        write(csv, HEADER);
        assertError(csv, 1, "refers to column 'video'", () -> Kinetics400Dataset.builder(csv, v).optFilePattern("{video}.mp4").build());
        Path noSplit = write(dir.resolve("nosplit.csv"), "label,youtube_id,time_start,time_end");
        assertError(noSplit, 1, "no 'split' column", () -> Kinetics400Dataset.builder(noSplit, v).optSplit("val").build());
    }
}
