package org.dualdistill.report;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A self-contained HTML page: a title, free-text paragraphs, tables (each with an optional heading and notes) and images
 * referenced by relative file name.
 * Text is HTML-escaped. Stateless and thread-safe.
 */
public final class HtmlReport {
    private HtmlReport() {
    }

    /** An image on the page. @param file file name relative to the page @param caption caption under it */
    public record Figure(String file, String caption) {
    }

    /**
     * A table with a heading and optional notes under it.
     *
     * @param heading shown above the table (h2), or null for none
     * @param header  column names
     * @param rows    rows, each as long as the header
     * @param notes   paragraphs shown under the table
     */
    public record Table(String heading, List<String> header, List<List<String>> rows, List<String> notes) {
        /** Checks the row lengths and copies. */
        public Table {
            header = List.copyOf(header);
            rows = rows.stream().map(List::copyOf).toList();
            notes = notes == null ? List.of() : List.copyOf(notes);
            for (List<String> row : rows) {
                if (row.size() != header.size()) {
                    throw new IllegalArgumentException("row has " + row.size() + " cells, header " + header.size());
                }
            }
        }
    }

    /**
     * Writes the page with one table.
     *
     * @param file       the HTML file (parent folders are created)
     * @param title      page title
     * @param paragraphs text shown above the table
     * @param header     table column names
     * @param rows       table rows (each as long as the header)
     * @param figures    images, in order
     * @throws IOException on write failure
     */
    public static void write(Path file, String title, List<String> paragraphs, List<String> header, List<List<String>> rows,
                             List<Figure> figures) throws IOException {
        write(file, title, paragraphs, List.of(new Table(null, header, rows, List.of())), figures);
    }

    /**
     * Writes the page: title, paragraphs, the tables in order, then the figures.
     *
     * @param file       the HTML file (parent folders are created)
     * @param title      page title
     * @param paragraphs text shown above the tables
     * @param tables     tables, in order
     * @param figures    images, in order
     * @throws IOException on write failure
     */
    public static void write(Path file, String title, List<String> paragraphs, List<Table> tables, List<Figure> figures)
            throws IOException {
        StringBuilder b = new StringBuilder();
        b.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>").append(esc(title))
                .append("</title>\n<style>\nbody{font-family:sans-serif;margin:2em;max-width:1100px}\n")
                .append("table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:4px 10px;text-align:right}\n")
                .append("td:first-child,th:first-child{text-align:left}th{background:#eee}\n")
                .append("figure{margin:1.5em 0}img{max-width:100%;border:1px solid #ddd}\n</style>\n</head>\n<body>\n<h1>")
                .append(esc(title)).append("</h1>\n");
        for (String p : paragraphs) {
            b.append("<p>").append(esc(p)).append("</p>\n");
        }
        for (Table t : tables) {
            if (t.heading() != null) {
                b.append("<h2>").append(esc(t.heading())).append("</h2>\n");
            }
            b.append("<table>\n<tr>");
            for (String h : t.header()) {
                b.append("<th>").append(esc(h)).append("</th>");
            }
            b.append("</tr>\n");
            for (List<String> row : t.rows()) {
                b.append("<tr>");
                for (String c : row) {
                    b.append("<td>").append(esc(c)).append("</td>");
                }
                b.append("</tr>\n");
            }
            b.append("</table>\n");
            for (String n : t.notes()) {
                b.append("<p>").append(esc(n)).append("</p>\n");
            }
        }
        for (Figure f : figures) {
            b.append("<figure><img src=\"").append(esc(f.file())).append("\" alt=\"").append(esc(f.caption()))
                    .append("\"><figcaption>").append(esc(f.caption())).append("</figcaption></figure>\n");
        }
        b.append("</body>\n</html>\n");
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Files.writeString(file, b, StandardCharsets.UTF_8);
    }

    /** @param s text @return s with &amp;, &lt;, &gt; and quotes escaped */
    public static String esc(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '&' -> b.append("&amp;");
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '"' -> b.append("&quot;");
                case '\'' -> b.append("&#39;");
                default -> b.append(c);
            }
        }
        return b.toString();
    }
}
