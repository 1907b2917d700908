package org.dualdistill.data;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A small CSV reader for annotation files that keeps line numbers for error messages: comma-separated fields,
 * double-quoted fields with {@code ""} escapes and embedded commas (EPIC-KITCHENS' {@code all_nouns} column), UTF-8
 * with or without BOM, LF or CRLF; blank lines are skipped. A field cannot span lines.
 */
final class Csv {
    /** One data line. */
    record Row(long line, List<String> fields) {
        String get(int i) {
            return i < fields.size() ? fields.get(i) : "";
        }
    }

    final Path file;
    final List<Row> rows;

    private Csv(Path file, List<Row> rows) {
        this.file = file;
        this.rows = rows;
    }

    static Csv read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new NoSuchFileException(file.toString(), null, "annotation file not found");
        }
        List<Row> rows = new ArrayList<>();
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String s;
            long n = 0;
            while ((s = r.readLine()) != null) {
                n++;
                if (n == 1 && !s.isEmpty() && s.charAt(0) == '\uFEFF') {
                    s = s.substring(1);
                }
                if (s.isBlank()) {
                    continue;
                }
                rows.add(new Row(n, split(file, n, s)));
            }
        }
        return new Csv(file, rows);
    }

    private static List<String> split(Path file, long line, String s) throws AnnotationException {
        List<String> out = new ArrayList<>();
        StringBuilder f = new StringBuilder();
        int i = 0;
        int n = s.length();
        while (true) {
            f.setLength(0);
            if (i < n && s.charAt(i) == '"') {
                i++;
                while (true) {
                    if (i >= n) {
                        throw new AnnotationException(file, line, "unterminated quoted field (fields cannot span lines)");
                    }
                    char c = s.charAt(i++);
                    if (c == '"') {
                        if (i < n && s.charAt(i) == '"') {
                            f.append('"');
                            i++;
                        } else {
                            break;
                        }
                    } else {
                        f.append(c);
                    }
                }
                if (i < n && s.charAt(i) != ',') {
                    throw new AnnotationException(file, line, "unexpected character '" + s.charAt(i) + "' after a quoted field");
                }
            } else {
                while (i < n && s.charAt(i) != ',') {
                    f.append(s.charAt(i++));
                }
            }
            out.add(f.toString().strip());
            if (i >= n) {
                return out;
            }
            i++; // the comma
        }
    }

    /**
     * Interprets the first row as a header.
     *
     * @param required column names that must be present
     * @return column name (lower case) to index
     */
    Map<String, Integer> header(String... required) throws AnnotationException {
        if (rows.isEmpty()) {
            throw new AnnotationException(file, 0, "empty annotation file (expected a header line with " + String.join(",", required) + ")");
        }
        Row h = rows.get(0);
        Map<String, Integer> cols = new HashMap<>();
        for (int i = 0; i < h.fields().size(); i++) {
            cols.putIfAbsent(h.fields().get(i).toLowerCase(Locale.ROOT), i);
        }
        for (String r : required) {
            if (!cols.containsKey(r)) {
                throw new AnnotationException(file, h.line(), "missing column '" + r + "' in header " + h.fields() + " (need "
                        + String.join(",", required) + ")");
            }
        }
        return cols;
    }

    /** @throws AnnotationException unless the row has exactly {@code n} fields */
    void requireFields(Row r, int n) throws AnnotationException {
        if (r.fields().size() != n) {
            throw new AnnotationException(file, r.line(), "expected " + n + " fields, got " + r.fields().size() + ": " + r.fields());
        }
    }

    /** @return the field as a non-negative int */
    int nonNegativeInt(Row r, int col, String name) throws AnnotationException {
        String v = r.get(col);
        try {
            int x = Integer.parseInt(v);
            if (x >= 0) {
                return x;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new AnnotationException(file, r.line(), name + " must be a non-negative integer, got '" + v + "'");
    }

    /** @return the field, which must not be empty */
    String nonEmpty(Row r, int col, String name) throws AnnotationException {
        String v = r.get(col);
        if (v.isEmpty()) {
            throw new AnnotationException(file, r.line(), name + " is empty");
        }
        return v;
    }
}
