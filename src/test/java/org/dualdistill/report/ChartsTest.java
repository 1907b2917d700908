package org.dualdistill.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ChartsTest {
    @TempDir
    Path dir;

    private static BufferedImage read(Path p) throws Exception {
        BufferedImage img = ImageIO.read(p.toFile());
        assertNotNull(img, p + " is not a readable image");
        assertTrue(img.getWidth() > 0 && img.getHeight() > 0);
        return img;
    }

    private static boolean hasNonWhite(BufferedImage img) {
        for (int y = 0; y < img.getHeight(); y += 3) {
            for (int x = 0; x < img.getWidth(); x += 3) {
                if ((img.getRGB(x, y) & 0xffffff) != 0xffffff) {
                    return true;
                }
            }
        }
        return false;
    }

    @Test
    void linesWritesAReadablePngEvenWithNaNsAndOnePoint() throws Exception {
        Map<String, double[]> s = new LinkedHashMap<>();
        s.put("a", new double[] {2.0, 1.5, Double.NaN, 0.7});
        s.put("b", new double[] {1.0});
        Path p = dir.resolve("sub/curves.png");
        Charts.lines(p, "loss", "epoch", "loss", s);
        assertTrue(hasNonWhite(read(p)));
        Charts.lines(dir.resolve("empty.png"), "none", "x", "y", Map.of());
        read(dir.resolve("empty.png"));
    }

    @Test
    void barsAndConfusionWriteReadablePngs() throws Exception {
        Path b = dir.resolve("bars.png");
        Charts.bars(b, "top-1", "%", List.of("student alone", "DATW + SDD + RKD"), new double[] {40, Double.NaN},
                new double[] {2, 0}, 100);
        assertTrue(hasNonWhite(read(b)));
        Charts.bars(dir.resolve("auto.png"), "t", "y", List.of("x"), new double[] {0}, null, Double.NaN);
        read(dir.resolve("auto.png"));
        assertThrows(IllegalArgumentException.class,
                () -> Charts.bars(dir.resolve("bad.png"), "t", "y", List.of("x"), new double[] {1, 2}, null, 1));
        Path c = dir.resolve("confusion.png");
        Charts.confusion(c, "cm", new long[][] {{3, 1, 0}, {0, 0, 0}, {1, 1, 2}}, List.of("wave", "jump"));
        BufferedImage img = read(c);
        assertEquals(img.getWidth(), img.getHeight());
        assertTrue(hasNonWhite(img));
    }

    @Test
    void htmlReportEscapesTextAndReferencesFigures() throws Exception {
        Path f = dir.resolve("r/index.html");
        HtmlReport.write(f, "a <b> & c", List.of("p1 \"q\""), List.of("m", "v"), List.of(List.of("x<y", "1.0")),
                List.of(new HtmlReport.Figure("ablation.png", "bars")));
        String html = Files.readString(f);
        assertTrue(html.contains("a &lt;b&gt; &amp; c"));
        assertTrue(html.contains("<td>x&lt;y</td>"));
        assertTrue(html.contains("<img src=\"ablation.png\""));
        assertThrows(IllegalArgumentException.class, () -> HtmlReport.write(f, "t", List.of(), List.of("a", "b"),
                List.of(List.of("only one")), List.of()));
    }

    @Test
    void teacherWeightsPerFamilyWritesAPngAndChecksShapes() throws Exception {
        double[][][] w = {
            {{0.5, 0.45, 0.4}, {0.5, 0.6, 0.7}},
            {{0.5, 0.55, 0.6}, {0.5, 0.4, Double.NaN}},
        };
        Path p = dir.resolve("weights/datw-weights.png");
        Charts.teacherWeightsPerFamily(p, List.of("vit", "cnn"), List.of("local", "relation"), w);
        BufferedImage img = read(p);
        assertTrue(hasNonWhite(img));
        assertThrows(IllegalArgumentException.class,
                () -> Charts.teacherWeightsPerFamily(dir.resolve("x.png"), List.of("vit"), List.of("local", "relation"), w));
        assertThrows(IllegalArgumentException.class,
                () -> Charts.teacherWeightsPerFamily(dir.resolve("x.png"), List.of("vit", "cnn"), List.of("local"), w));
    }
}
