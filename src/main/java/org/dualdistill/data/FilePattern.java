package org.dualdistill.data;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A file-name template over annotation columns: {@code {column}} inserts a field as written, {@code {column:06d}}
 * formats it as an integer with {@link String#format} ({@code %06d}), e.g. Kinetics'
 * {@code "{youtube_id}_{time_start:06d}_{time_end:06d}.mp4"}. Immutable.
 */
final class FilePattern {
    private static final Pattern FIELD = Pattern.compile("\\{([A-Za-z0-9_]+)(?::([0-9]*d))?}");

    private final String pattern;
    private final List<Object> parts = new ArrayList<>(); // String literal or Field

    private record Field(String column, String format) {
    }

    FilePattern(String pattern) {
        if (pattern == null || pattern.isBlank()) {
            throw new IllegalArgumentException("file pattern must not be blank");
        }
        this.pattern = pattern;
        Matcher m = FIELD.matcher(pattern);
        int last = 0;
        while (m.find()) {
            parts.add(pattern.substring(last, m.start()));
            parts.add(new Field(m.group(1).toLowerCase(Locale.ROOT), m.group(2)));
            last = m.end();
        }
        parts.add(pattern.substring(last));
        String rest = FIELD.matcher(pattern).replaceAll("");
        if (rest.indexOf('{') >= 0 || rest.indexOf('}') >= 0) {
            throw new IllegalArgumentException("file pattern " + pattern + ": use {column} or {column:06d}");
        }
    }

    /** @throws AnnotationException if the pattern names a column the header lacks */
    void checkColumns(Map<String, Integer> cols, Csv csv) throws AnnotationException {
        for (Object p : parts) {
            if (p instanceof Field f && !cols.containsKey(f.column())) {
                throw new AnnotationException(csv.file, csv.rows.get(0).line(), "file pattern " + pattern + " refers to column '" + f.column()
                        + "', which the header " + csv.rows.get(0).fields() + " lacks");
            }
        }
    }

    String apply(Csv csv, Csv.Row row, Map<String, Integer> cols) throws AnnotationException {
        StringBuilder sb = new StringBuilder();
        for (Object p : parts) {
            if (p instanceof Field f) {
                String v = row.get(cols.get(f.column()));
                if (v.isEmpty()) {
                    throw new AnnotationException(csv.file, row.line(), "column '" + f.column() + "' is empty (needed by the file pattern)");
                }
                if (f.format() == null) {
                    sb.append(v);
                } else {
                    long x;
                    try {
                        x = new BigDecimal(v).longValueExact();
                    } catch (NumberFormatException | ArithmeticException e) {
                        throw new AnnotationException(csv.file, row.line(), "column '" + f.column() + "' must be an integer for {" + f.column() + ":"
                                + f.format() + "}, got '" + v + "'");
                    }
                    sb.append(String.format(Locale.ROOT, "%" + f.format(), x));
                }
            } else {
                sb.append((String) p);
            }
        }
        return sb.toString();
    }

    @Override
    public String toString() {
        return pattern;
    }
}
