package org.dualdistill.data;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Kinetics-400 (and -600/-700, which share the format): an annotation CSV with the header
 * {@code label,youtube_id,time_start,time_end,split} (further columns such as {@code is_cc} are ignored) over a folder
 * of clips. Each clip file is found by a configurable pattern over the columns, by default
 * {@code {youtube_id}_{time_start:06d}_{time_end:06d}.mp4} (the name the common download scripts give the 10 s cuts);
 * {@code {label}/...} selects per-class sub-folders.
 *
 * <p>Labels: the sorted distinct labels of the file (the usual Kinetics order) or a given list. With
 * {@link Builder#optTrimmed optTrimmed(false)} the files are whole YouTube videos and each example is the segment
 * {@code [time_start, time_end)}. Rows can be filtered by the {@code split} column.
 *
 * <p>Errors: a missing column, a wrong field count, an empty label or id, bad or reversed times, or a label not in a
 * given class list raise {@link AnnotationException} naming file and line. Missing clips (common: YouTube removals)
 * are counted ({@link #missing()}), or fatal with {@link Builder#optFailOnMissing}.
 */
public final class Kinetics400Dataset extends ListDataset {
    /** The default clip file name. */
    public static final String DEFAULT_PATTERN = "{youtube_id}_{time_start:06d}_{time_end:06d}.mp4";

    private Kinetics400Dataset(String name, List<LabeledVideo> videos, List<String> classes, List<MissingVideo> missing) {
        super(name, videos, classes, missing);
    }

    /**
     * @param annotations the CSV file
     * @param videoDir    the folder the file pattern is resolved against
     * @return a builder
     */
    public static Builder builder(Path annotations, Path videoDir) {
        return new Builder(annotations, videoDir);
    }

    /** Builder; {@code opt*} methods set optional fields. Not thread-safe. */
    public static final class Builder {
        private final Path csvFile;
        private final Path videoDir;
        private String pattern = DEFAULT_PATTERN;
        private String split;
        private List<String> classNames;
        private boolean trimmed = true;
        private boolean failOnMissing;

        private Builder(Path csvFile, Path videoDir) {
            if (csvFile == null || videoDir == null) {
                throw new IllegalArgumentException("annotations and videoDir must not be null");
            }
            this.csvFile = csvFile;
            this.videoDir = videoDir;
        }

        /**
         * @param pattern the clip file name relative to the video folder, with {@code {column}} and
         *                {@code {column:06d}} fields
         * @return this
         */
        public Builder optFilePattern(String pattern) {
            new FilePattern(pattern);
            this.pattern = pattern;
            return this;
        }

        /**
         * @param split keep only rows whose {@code split} column equals this (e.g. {@code "train"}); null keeps all
         * @return this
         */
        public Builder optSplit(String split) {
            this.split = split;
            return this;
        }

        /**
         * @param names the class names in label order (e.g. the official 400), instead of the file's sorted labels
         * @return this
         */
        public Builder optClassNames(List<String> names) {
            this.classNames = List.copyOf(names);
            return this;
        }

        /**
         * @param trimmed true (default) if each file is already cut to {@code [time_start, time_end)}; false if the
         *                files are whole videos and the times select the segment
         * @return this
         */
        public Builder optTrimmed(boolean trimmed) {
            this.trimmed = trimmed;
            return this;
        }

        /**
         * @param fail whether a listed clip that does not exist is an error
         * @return this
         */
        public Builder optFailOnMissing(boolean fail) {
            this.failOnMissing = fail;
            return this;
        }

        /**
         * Reads the annotations.
         *
         * @return the dataset
         * @throws AnnotationException on malformed annotations (naming file and line) or missing clips when asked
         * @throws IOException         if the file cannot be read
         */
        public Kinetics400Dataset build() throws IOException {
            Csv csv = Csv.read(csvFile);
            Map<String, Integer> cols = csv.header("label", "youtube_id", "time_start", "time_end");
            FilePattern fp = new FilePattern(pattern);
            fp.checkColumns(cols, csv);
            if (split != null && !cols.containsKey("split")) {
                throw new AnnotationException(csvFile, csv.rows.get(0).line(), "cannot select split '" + split + "': no 'split' column");
            }
            int nCols = csv.rows.get(0).fields().size();
            record Entry(String label, String file, long start, long end, long line) {
            }
            List<Entry> entries = new ArrayList<>();
            for (Csv.Row r : csv.rows.subList(1, csv.rows.size())) {
                csv.requireFields(r, nCols);
                if (split != null && !split.equals(r.get(cols.get("split")))) {
                    continue;
                }
                String label = csv.nonEmpty(r, cols.get("label"), "label");
                csv.nonEmpty(r, cols.get("youtube_id"), "youtube_id");
                long start = Annotations.seconds(r.get(cols.get("time_start")), csvFile, r.line(), "time_start");
                long end = Annotations.seconds(r.get(cols.get("time_end")), csvFile, r.line(), "time_end");
                if (end <= start) {
                    throw new AnnotationException(csvFile, r.line(), "time_end must be after time_start, got " + r.get(cols.get("time_start")) + " and "
                            + r.get(cols.get("time_end")));
                }
                entries.add(new Entry(label, fp.apply(csv, r, cols), start, end, r.line()));
            }
            List<String> classes = classNames;
            if (classes == null) {
                TreeSet<String> s = new TreeSet<>();
                entries.forEach(e -> s.add(e.label()));
                classes = List.copyOf(s);
            }
            Map<String, Integer> index = new HashMap<>();
            for (int i = 0; i < classes.size(); i++) {
                index.put(classes.get(i), i);
            }
            List<LabeledVideo> videos = new ArrayList<>();
            Annotations.MissingFiles missing = new Annotations.MissingFiles();
            Map<String, Long> ids = new HashMap<>();
            for (Entry e : entries) {
                Integer label = index.get(e.label());
                if (label == null) {
                    throw new AnnotationException(csvFile, e.line(), "label '" + e.label() + "' is not in the class list");
                }
                String id = trimmed ? e.file() : e.file() + "@" + e.start() + "-" + e.end();
                Long first = ids.putIfAbsent(id, e.line());
                if (first != null) {
                    throw new AnnotationException(csvFile, e.line(), "clip " + id + " is listed twice (first on line " + first + ")");
                }
                Path file = videoDir.resolve(e.file());
                if (missing.check(file, csvFile, e.line())) {
                    videos.add(trimmed ? LabeledVideo.of(id, file, label) : new LabeledVideo(id, file, label, e.start(), e.end(), List.of()));
                }
            }
            String name = "kinetics " + csvFile.getFileName() + (split == null ? "" : " " + split);
            missing.finish(name, failOnMissing, entries.size());
            return new Kinetics400Dataset(name, videos, classes, missing.missing());
        }
    }
}
