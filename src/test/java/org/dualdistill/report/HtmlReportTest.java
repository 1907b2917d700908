package org.dualdistill.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HtmlReportTest {
    @TempDir
    Path dir;

    @Test
    void writesEveryTableWithHeadingAndNotesInOrderEscaped() throws Exception {
        Path f = dir.resolve("r/index.html");
        HtmlReport.write(f, "T<1>", List.of("intro & more"), List.of(
                new HtmlReport.Table("Rows", List.of("row", "top-1"), List.of(List.of("DATW + SDD", "51.2")), List.of("p < 0.05")),
                new HtmlReport.Table("Per family", List.of("row", "local"), List.of(List.of("x", "1")), null)),
                List.of(new HtmlReport.Figure("a.png", "cap")));
        String html = Files.readString(f);
        assertTrue(html.contains("<title>T&lt;1&gt;</title>"), html);
        assertTrue(html.contains("<p>intro &amp; more</p>"), html);
        int rows = html.indexOf("<h2>Rows</h2>");
        int fam = html.indexOf("<h2>Per family</h2>");
        assertTrue(rows > 0 && fam > rows, html);
        assertTrue(html.indexOf("<p>p &lt; 0.05</p>") > rows && html.indexOf("<p>p &lt; 0.05</p>") < fam, html);
        assertEquals(2, html.split("<table>", -1).length - 1);
        assertTrue(html.contains("<img src=\"a.png\""), html);
    }

    @Test
    void aRowOfTheWrongLengthIsRefused() {
        assertThrows(IllegalArgumentException.class,
                () -> new HtmlReport.Table("x", List.of("a", "b"), List.of(List.of("1")), List.of()));
    }
}
