package org.dualdistill.cli;

import static org.dualdistill.testing.CliRun.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.dualdistill.testing.CliRun;
import org.dualdistill.testing.CliRun.Result;

/** {@code demo} end to end through {@link Main#run} at the smallest settings, twice (the second reuses the teachers). */
class DemoCommandTest {
    @TempDir
    Path dir;


    private String[] args() {
        return new String[] {"demo", "--quick", "--out", dir.resolve("run").toString(), "--classes", "3",
                "--videos-per-class", "4", "--epochs", "1", "--teacher-epochs", "1", "--seeds", "1", "--batch", "4"};
    }

    private static Map<Path, FileTime> cacheFiles(Path cache) throws Exception {
        Map<Path, FileTime> m = new HashMap<>();
        try (Stream<Path> s = Files.list(cache)) {
            for (Path p : s.toList()) {
                m.put(p.getFileName(), Files.getLastModifiedTime(p));
            }
        }
        return m;
    }

    @Test
    void demoPrintsTheSevenRowTableWritesTheReportAndReusesCachedTeachers() throws Exception {
        Result r = run(args());
        assertEquals(0, r.code(), r.out() + r.err());
        for (String v : DemoCommand.VARIANTS) {
            Matcher m = Pattern.compile("(?m)^" + Pattern.quote(v) + "\\s+(\\d+\\.\\d)\\s").matcher(r.out());
            assertTrue(m.find(), "row " + v + " missing in:\n" + r.out());
            double top1 = Double.parseDouble(m.group(1));
            assertTrue(top1 >= 0 && top1 <= 100, v + ": " + top1);
        }
        assertTrue(r.out().contains("trained vit teacher"), r.out());
        Path report = dir.resolve("run/report");
        String html = Files.readString(report.resolve("index.html"));
        for (String png : List.of("curves.png", "confusion.png", "ablation.png")) {
            BufferedImage img = ImageIO.read(report.resolve(png).toFile());
            assertNotNull(img, png);
            assertTrue(img.getWidth() > 0, png);
            assertTrue(html.contains("src=\"" + png + "\""), png);
        }
        assertTrue(html.contains("DATW + SDD + RKD"));

        Path cache = dir.resolve("run/data/cache");
        Map<Path, FileTime> before = cacheFiles(cache);
        assertEquals(2, before.size(), before.toString());
        Result again = run(args());
        assertEquals(0, again.code(), again.out() + again.err());
        assertTrue(again.out().contains("reusing cached vit teacher"), again.out());
        assertTrue(again.out().contains("reusing cached cnn teacher"), again.out());
        assertTrue(again.out().contains("reusing dataset"), again.out());
        assertEquals(before, cacheFiles(cache));
    }

    @Test
    void badSettingsAreAOneLineError() {
        Result r = run("demo", "--out", dir.toString(), "--classes", "1");
        assertEquals(2, r.code());
        assertTrue(r.err().startsWith("demo: "), r.err());
    }
}
