package org.dualdistill.data;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

/**
 * A generic list of labelled videos: a CSV with lines {@code path,label} or {@code path,label,start,end}, optionally
 * under a header line starting with {@code path}. Paths are relative to a root folder (default: the CSV's folder) or
 * absolute; times are seconds ({@code 12.5}) and select a segment. Labels are either all integers (class indices;
 * names {@code "0".."max"} unless given) or class names (sorted alphabetically unless a list is given).
 *
 * <p>Errors: a wrong field count, an empty path or label, one of start/end without the other, bad or reversed times,
 * a negative index, or a label not in a given class list raise {@link AnnotationException} naming file and line;
 * missing videos are counted ({@link #missing()}), or fatal with {@link Builder#optFailOnMissing}.
 */
public final class CsvDataset extends ListDataset {
    private CsvDataset(String name, List<LabeledVideo> videos, List<String> classes, List<MissingVideo> missing) {
        super(name, videos, classes, missing);
    }

    /**
     * @param csv the annotation file
     * @return a builder
     */
    public static Builder builder(Path csv) {
        return new Builder(csv);
    }

    /** Builder; {@code opt*} methods set optional fields. Not thread-safe. */
    public static final class Builder {
        private final Path csvFile;
        private Path root;
        private List<String> classNames;
        private boolean failOnMissing;

        private record Entry(String path, String label, long start, long end, long line) {
        }

        private Builder(Path csvFile) {
            if (csvFile == null) {
                throw new IllegalArgumentException("csv must not be null");
            }
            this.csvFile = csvFile;
        }

        /**
         * @param root the folder relative paths are resolved against
         * @return this
         */
        public Builder optRoot(Path root) {
            this.root = root;
            return this;
        }

        /**
         * @param names the class names in label order
         * @return this
         */
        public Builder optClassNames(List<String> names) {
            this.classNames = List.copyOf(names);
            return this;
        }

        /**
         * @param fail whether a listed video that does not exist is an error
         * @return this
         */
        public Builder optFailOnMissing(boolean fail) {
            this.failOnMissing = fail;
            return this;
        }

        /**
         * Reads the file.
         *
         * @return the dataset
         * @throws AnnotationException on malformed lines (naming file and line) or missing videos when asked
         * @throws IOException         if the file cannot be read
         */
        public CsvDataset build() throws IOException {
            Csv csv = Csv.read(csvFile);
            List<Csv.Row> rows = csv.rows;
            if (!rows.isEmpty() && rows.get(0).get(0).toLowerCase(Locale.ROOT).equals("path")) {
                rows = rows.subList(1, rows.size());
            }
            Path base = root != null ? root : csvFile.toAbsolutePath().getParent();
            List<Entry> entries = new ArrayList<>();
            boolean allInts = true;
            for (Csv.Row r : rows) {
                int n = r.fields().size();
                if (n != 2 && n != 4) {
                    throw new AnnotationException(csvFile, r.line(), "expected 'path,label' or 'path,label,start,end', got " + n + " fields: "
                            + r.fields());
                }
                String path = csv.nonEmpty(r, 0, "path");
                String label = csv.nonEmpty(r, 1, "label");
                long start = 0;
                long end = LabeledVideo.TO_END;
                if (n == 4) {
                    start = Annotations.seconds(r.get(2), csvFile, r.line(), "start");
                    end = Annotations.seconds(r.get(3), csvFile, r.line(), "end");
                    if (end <= start) {
                        throw new AnnotationException(csvFile, r.line(), "end must be after start, got " + r.get(2) + " and " + r.get(3));
                    }
                }
                allInts &= label.matches("-?[0-9]+");
                entries.add(new Entry(path, label, start, end, r.line()));
            }
            List<String> classes = classNames;
            Map<String, Integer> byName = new HashMap<>();
            if (classes == null) {
                if (allInts) {
                    int max = -1;
                    for (Entry e : entries) {
                        max = Math.max(max, parseIndex(e, csvFile));
                    }
                    List<String> names = new ArrayList<>();
                    for (int i = 0; i <= max; i++) {
                        names.add(Integer.toString(i));
                    }
                    classes = names;
                } else {
                    TreeSet<String> s = new TreeSet<>();
                    entries.forEach(e -> s.add(e.label()));
                    classes = List.copyOf(s);
                }
            }
            for (int i = 0; i < classes.size(); i++) {
                byName.put(classes.get(i), i);
            }
            boolean indices = allInts && (classNames == null || !byName.keySet().containsAll(entries.stream().map(Entry::label).toList()));
            List<LabeledVideo> videos = new ArrayList<>();
            Annotations.MissingFiles missing = new Annotations.MissingFiles();
            Map<String, Long> ids = new HashMap<>();
            for (Entry e : entries) {
                int label;
                if (indices) {
                    label = parseIndex(e, csvFile);
                    if (label >= classes.size()) {
                        throw new AnnotationException(csvFile, e.line(), "label " + label + " is not below the number of classes " + classes.size());
                    }
                } else {
                    Integer l = byName.get(e.label());
                    if (l == null) {
                        throw new AnnotationException(csvFile, e.line(), "label '" + e.label() + "' is not in the class list");
                    }
                    label = l;
                }
                String id = e.end() == LabeledVideo.TO_END ? e.path() : e.path() + "@" + e.start() + "-" + e.end();
                Long first = ids.putIfAbsent(id, e.line());
                if (first != null) {
                    throw new AnnotationException(csvFile, e.line(), "'" + id + "' is listed twice (first on line " + first + ")");
                }
                Path file = base.resolve(e.path());
                if (missing.check(file, csvFile, e.line())) {
                    videos.add(new LabeledVideo(id, file, label, e.start(), e.end(), List.of()));
                }
            }
            String name = "csv " + csvFile.getFileName();
            missing.finish(name, failOnMissing, entries.size());
            return new CsvDataset(name, videos, classes, missing.missing());
        }

        private static int parseIndex(Entry e, Path file) throws AnnotationException {
            try {
                int v = Integer.parseInt(e.label());
                if (v >= 0) {
                    return v;
                }
            } catch (NumberFormatException ex) {
                // reported below
            }
            throw new AnnotationException(file, e.line(), "label must be a class index >= 0 or a class name, got '" + e.label() + "'");
        }
    }
}
