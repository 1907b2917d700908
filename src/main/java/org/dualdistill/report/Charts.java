package org.dualdistill.report;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import javax.imageio.ImageIO;

/**
 * PNG charts drawn with java.awt in headless mode and written with {@link ImageIO}: line curves (loss per epoch per
 * run), a confusion matrix heat map and a bar chart with optional error bars. Stateless and thread-safe.
 */
public final class Charts {
    private static final Color[] PALETTE = {new Color(0x1f77b4), new Color(0xff7f0e), new Color(0x2ca02c),
            new Color(0xd62728), new Color(0x9467bd), new Color(0x8c564b), new Color(0xe377c2), new Color(0x7f7f7f),
            new Color(0xbcbd22), new Color(0x17becf)};
    private static final int W = 900;
    private static final int H = 520;

    static {
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
    }

    private Charts() {
    }

    /**
     * Line chart, one polyline per series (x = 1..n).
     *
     * @param file   PNG to write (parent folders are created)
     * @param title  chart title
     * @param xLabel x axis label
     * @param yLabel y axis label
     * @param series name -> y values, in legend order; non-finite values are skipped
     * @throws IOException on write failure
     */
    public static void lines(Path file, String title, String xLabel, String yLabel, Map<String, double[]> series)
            throws IOException {
        BufferedImage img = canvas();
        Graphics2D g = graphics(img);
        int left = 70;
        int right = 230;
        int top = 50;
        int bottom = 60;
        int pw = W - left - right;
        int ph = H - top - bottom;
        double min = Double.POSITIVE_INFINITY;
        double max = Double.NEGATIVE_INFINITY;
        int n = 1;
        for (double[] ys : series.values()) {
            n = Math.max(n, ys.length);
            for (double y : ys) {
                if (Double.isFinite(y)) {
                    min = Math.min(min, y);
                    max = Math.max(max, y);
                }
            }
        }
        if (!Double.isFinite(min)) {
            min = 0;
            max = 1;
        }
        if (max - min < 1e-9) {
            max = min + 1;
        }
        double pad = (max - min) * 0.05;
        min -= pad;
        max += pad;
        title(g, title);
        axes(g, left, top, pw, ph, xLabel, yLabel, min, max);
        for (int i = 1; i <= n; i++) {
            int x = left + (n == 1 ? pw / 2 : (int) Math.round((i - 1) * (double) pw / (n - 1)));
            g.setColor(Color.DARK_GRAY);
            g.drawLine(x, top + ph, x, top + ph + 4);
            if (n <= 20 || i % Math.max(1, n / 10) == 0) {
                center(g, Integer.toString(i), x, top + ph + 18);
            }
        }
        int k = 0;
        g.setStroke(new BasicStroke(2f));
        for (Map.Entry<String, double[]> e : series.entrySet()) {
            Color c = PALETTE[k % PALETTE.length];
            g.setColor(c);
            double[] ys = e.getValue();
            int px = -1;
            int py = -1;
            for (int i = 0; i < ys.length; i++) {
                if (!Double.isFinite(ys[i])) {
                    px = -1;
                    continue;
                }
                int x = left + (n == 1 ? pw / 2 : (int) Math.round(i * (double) pw / (n - 1)));
                int y = top + ph - (int) Math.round((ys[i] - min) / (max - min) * ph);
                g.fillOval(x - 3, y - 3, 6, 6);
                if (px >= 0) {
                    g.drawLine(px, py, x, y);
                }
                px = x;
                py = y;
            }
            int ly = top + 10 + k * 20;
            g.fillRect(W - right + 15, ly - 8, 14, 10);
            g.setColor(Color.BLACK);
            g.drawString(e.getKey(), W - right + 35, ly + 1);
            k++;
        }
        write(img, g, file);
    }

    /**
     * DATW's mean teacher weights per class family over training: one line per (teacher, family), e.g.
     * "vit | relation", so the report shows which teacher DATW trusts on which family.
     *
     * @param file     PNG to write (parent folders are created)
     * @param teachers teacher names, e.g. {@code ["vit", "cnn"]}
     * @param families family names, e.g. {@code ["local", "relation"]}
     * @param weights  [teacher][family][epoch] mean weight of that teacher over the training samples of that family in
     *                 that epoch (in [0, 1]; non-finite values are skipped)
     * @throws IllegalArgumentException if the shapes do not match the names
     * @throws IOException              on write failure
     */
    public static void teacherWeightsPerFamily(Path file, List<String> teachers, List<String> families, double[][][] weights)
            throws IOException {
        teacherWeightsPerFamily(file, "DATW: mean teacher weight per family", teachers, families, weights);
    }

    /**
     * As {@link #teacherWeightsPerFamily(Path, List, List, double[][][])}, with a title (e.g. naming the row).
     *
     * @param title chart title
     * @throws IOException on write failure
     */
    public static void teacherWeightsPerFamily(Path file, String title, List<String> teachers, List<String> families,
                                               double[][][] weights) throws IOException {
        if (teachers == null || families == null || weights == null || weights.length != teachers.size()) {
            throw new IllegalArgumentException("weights need one entry per teacher: " + (teachers == null ? "null" : teachers.size())
                    + " teachers, " + (weights == null ? "null" : weights.length) + " entries");
        }
        Map<String, double[]> series = new java.util.LinkedHashMap<>();
        for (int t = 0; t < teachers.size(); t++) {
            if (weights[t] == null || weights[t].length != families.size()) {
                throw new IllegalArgumentException("teacher " + teachers.get(t) + ": need one series per family (" + families.size() + "), got "
                        + (weights[t] == null ? "null" : weights[t].length));
            }
            for (int f = 0; f < families.size(); f++) {
                if (weights[t][f] == null) {
                    throw new IllegalArgumentException("teacher " + teachers.get(t) + ", family " + families.get(f) + ": null series");
                }
                series.put(teachers.get(t) + " | " + families.get(f), weights[t][f].clone());
            }
        }
        lines(file, title, "epoch", "mean weight", series);
    }

    /**
     * Bar chart.
     *
     * @param file   PNG to write
     * @param title  chart title
     * @param yLabel y axis label
     * @param labels bar labels
     * @param values bar heights (non-finite drawn as 0)
     * @param errors half-lengths of error bars (same length as values), or null
     * @param yMax   top of the y axis, or NaN for the largest value plus 10%
     * @throws IOException on write failure
     */
    public static void bars(Path file, String title, String yLabel, List<String> labels, double[] values, double[] errors,
                            double yMax) throws IOException {
        if (labels.size() != values.length || (errors != null && errors.length != values.length)) {
            throw new IllegalArgumentException("labels, values and errors must have the same length");
        }
        BufferedImage img = canvas();
        Graphics2D g = graphics(img);
        int left = 70;
        int right = 20;
        int top = 50;
        int bottom = 110;
        int pw = W - left - right;
        int ph = H - top - bottom;
        double max = yMax;
        if (!Double.isFinite(max)) {
            max = 0;
            for (int i = 0; i < values.length; i++) {
                double v = finite(values[i]) + (errors == null ? 0 : finite(errors[i]));
                max = Math.max(max, v);
            }
            max = max <= 0 ? 1 : max * 1.1;
        }
        title(g, title);
        axes(g, left, top, pw, ph, "", yLabel, 0, max);
        int n = Math.max(1, values.length);
        double slot = (double) pw / n;
        int bw = (int) Math.max(4, slot * 0.6);
        for (int i = 0; i < values.length; i++) {
            double v = finite(values[i]);
            int cx = left + (int) Math.round(slot * (i + 0.5));
            int h = (int) Math.round(Math.min(v, max) / max * ph);
            g.setColor(PALETTE[i % PALETTE.length]);
            g.fillRect(cx - bw / 2, top + ph - h, bw, h);
            g.setColor(Color.BLACK);
            if (errors != null && finite(errors[i]) > 0) {
                int e = (int) Math.round(finite(errors[i]) / max * ph);
                g.drawLine(cx, top + ph - h - e, cx, top + ph - h + e);
                g.drawLine(cx - 5, top + ph - h - e, cx + 5, top + ph - h - e);
                g.drawLine(cx - 5, top + ph - h + e, cx + 5, top + ph - h + e);
            }
            center(g, String.format(Locale.ROOT, "%.1f", v), cx, top + ph - h - 6);
            wrapLabel(g, labels.get(i), cx, top + ph + 18, (int) slot - 4);
        }
        write(img, g, file);
    }

    /**
     * Confusion-matrix heat map, rows = true class, columns = predicted class, shaded by row-normalized share.
     *
     * @param file      PNG to write
     * @param title     chart title
     * @param confusion [true][predicted] counts (square)
     * @param classes   class names (may be shorter than the matrix; indices are used then)
     * @throws IOException on write failure
     */
    public static void confusion(Path file, String title, long[][] confusion, List<String> classes) throws IOException {
        int c = confusion.length;
        BufferedImage img = new BufferedImage(W, W, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = graphics(img);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, W, W);
        title(g, title);
        int left = 160;
        int top = 80;
        int size = W - left - 40;
        int cell = Math.max(1, size / Math.max(1, c));
        for (int i = 0; i < c; i++) {
            long rowSum = 0;
            for (long v : confusion[i]) {
                rowSum += v;
            }
            for (int j = 0; j < c; j++) {
                double share = rowSum == 0 ? 0 : confusion[i][j] / (double) rowSum;
                int shade = 255 - (int) Math.round(share * 200);
                g.setColor(new Color(shade, shade, 255));
                g.fillRect(left + j * cell, top + i * cell, cell, cell);
                g.setColor(Color.GRAY);
                g.drawRect(left + j * cell, top + i * cell, cell, cell);
                g.setColor(share > 0.6 ? Color.WHITE : Color.BLACK);
                if (cell >= 18) {
                    center(g, Long.toString(confusion[i][j]), left + j * cell + cell / 2, top + i * cell + cell / 2 + 5);
                }
            }
            g.setColor(Color.BLACK);
            String name = i < classes.size() ? classes.get(i) : Integer.toString(i);
            FontMetrics fm = g.getFontMetrics();
            g.drawString(name, left - 8 - fm.stringWidth(name), top + i * cell + cell / 2 + 5);
        }
        g.setColor(Color.BLACK);
        for (int j = 0; j < c; j++) {
            String name = j < classes.size() ? classes.get(j) : Integer.toString(j);
            Graphics2D r = (Graphics2D) g.create();
            r.translate(left + j * cell + cell / 2 + 4, top - 6);
            r.rotate(-Math.PI / 4);
            r.drawString(name, 0, 0);
            r.dispose();
        }
        center(g, "predicted", left + c * cell / 2, Math.min(W - 10, top + c * cell + 25));
        Graphics2D r = (Graphics2D) g.create();
        r.translate(20, top + c * cell / 2);
        r.rotate(-Math.PI / 2);
        r.drawString("true", 0, 0);
        r.dispose();
        write(img, g, file);
    }

    private static double finite(double v) {
        return Double.isFinite(v) ? v : 0;
    }

    private static BufferedImage canvas() {
        BufferedImage img = new BufferedImage(W, H, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, W, H);
        g.dispose();
        return img;
    }

    private static Graphics2D graphics(BufferedImage img) {
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        return g;
    }

    private static void title(Graphics2D g, String title) {
        Font f = g.getFont();
        g.setFont(f.deriveFont(Font.BOLD, 16f));
        g.setColor(Color.BLACK);
        g.drawString(title, 20, 28);
        g.setFont(f);
    }

    private static void axes(Graphics2D g, int left, int top, int pw, int ph, String xLabel, String yLabel,
                             double min, double max) {
        g.setColor(new Color(0xeeeeee));
        for (int i = 0; i <= 5; i++) {
            int y = top + ph - i * ph / 5;
            g.drawLine(left, y, left + pw, y);
        }
        g.setColor(Color.DARK_GRAY);
        g.drawLine(left, top, left, top + ph);
        g.drawLine(left, top + ph, left + pw, top + ph);
        FontMetrics fm = g.getFontMetrics();
        for (int i = 0; i <= 5; i++) {
            int y = top + ph - i * ph / 5;
            String s = String.format(Locale.ROOT, "%.2f", min + (max - min) * i / 5);
            g.drawString(s, left - 6 - fm.stringWidth(s), y + 4);
        }
        if (!xLabel.isEmpty()) {
            center(g, xLabel, left + pw / 2, top + ph + 40);
        }
        Graphics2D r = (Graphics2D) g.create();
        r.translate(16, top + ph / 2 + fm.stringWidth(yLabel) / 2);
        r.rotate(-Math.PI / 2);
        r.drawString(yLabel, 0, 0);
        r.dispose();
    }

    private static void center(Graphics2D g, String s, int x, int y) {
        g.drawString(s, x - g.getFontMetrics().stringWidth(s) / 2, y);
    }

    private static void wrapLabel(Graphics2D g, String s, int cx, int y, int width) {
        FontMetrics fm = g.getFontMetrics();
        StringBuilder line = new StringBuilder();
        int row = 0;
        for (String word : s.split(" ")) {
            String next = line.isEmpty() ? word : line + " " + word;
            if (fm.stringWidth(next) > width && !line.isEmpty()) {
                center(g, line.toString(), cx, y + row * 15);
                row++;
                line = new StringBuilder(word);
            } else {
                line = new StringBuilder(next);
            }
        }
        if (!line.isEmpty()) {
            center(g, line.toString(), cx, y + row * 15);
        }
    }

    private static void write(BufferedImage img, Graphics2D g, Path file) throws IOException {
        g.dispose();
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        if (!ImageIO.write(img, "png", file.toFile())) {
            throw new IOException("no PNG writer available for " + file);
        }
    }
}
