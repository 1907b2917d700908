package org.dualdistill.data;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * EPIC-KITCHENS-100 action segments: {@code EPIC_100_train.csv} / {@code EPIC_100_validation.csv} with the columns
 * {@code narration_id, participant_id, video_id, narration_timestamp, start_timestamp, stop_timestamp, start_frame,
 * stop_frame, narration, verb, verb_class, noun, noun_class, all_nouns, all_noun_classes} (quoted fields with commas
 * are fine). Each row is a segment {@code [start_timestamp, stop_timestamp)} of a long video, found by a configurable
 * pattern, by default {@code {participant_id}/videos/{video_id}.MP4} (the dataset's own layout).
 *
 * <p>Targets: the action is the pair (verb, noun), 97 verbs x 300 nouns. {@link LabeledVideo#label()} is the chosen
 * {@link Target}, with the action encoded as {@code verb * numNouns + noun}; {@link LabeledVideo#extraLabels()} is
 * always {@code [verb_class, noun_class]} (a batch carries them as {@code int64 [B, 2]}), so a model with verb and
 * noun heads can train on both.
 *
 * <p>Errors: a missing column, a wrong field count, malformed timestamps ({@code HH:MM:SS.ff}), a stop not after the
 * start, frames out of order, classes out of range or a duplicate narration id raise {@link AnnotationException}
 * naming file and line (the test-set file without classes is rejected for lacking {@code verb_class}). Missing videos
 * are counted once per file ({@link #missing()}), their segments left out, or fatal with
 * {@link Builder#optFailOnMissing}.
 */
public final class EpicKitchensDataset extends ListDataset {
    /** The default video file pattern. */
    public static final String DEFAULT_PATTERN = "{participant_id}/videos/{video_id}.MP4";

    /** What {@link LabeledVideo#label()} holds. */
    public enum Target {
        /** {@code verb_class}. */
        VERB,
        /** {@code noun_class}. */
        NOUN,
        /** {@code verb_class * numNouns + noun_class}. */
        ACTION
    }

    private EpicKitchensDataset(String name, List<LabeledVideo> videos, List<String> classes, List<MissingVideo> missing) {
        super(name, videos, classes, missing);
    }

    /**
     * @param annotations {@code EPIC_100_train.csv} or {@code EPIC_100_validation.csv}
     * @param videoRoot   the folder the file pattern is resolved against
     * @return a builder (target ACTION, 97 verbs, 300 nouns)
     */
    public static Builder builder(Path annotations, Path videoRoot) {
        return new Builder(annotations, videoRoot);
    }

    /** Builder; {@code opt*} methods set optional fields. Not thread-safe. */
    public static final class Builder {
        private final Path csvFile;
        private final Path root;
        private String pattern = DEFAULT_PATTERN;
        private Target target = Target.ACTION;
        private int numVerbs = 97;
        private int numNouns = 300;
        private boolean failOnMissing;

        private Builder(Path csvFile, Path root) {
            if (csvFile == null || root == null) {
                throw new IllegalArgumentException("annotations and videoRoot must not be null");
            }
            this.csvFile = csvFile;
            this.root = root;
        }

        /**
         * @param pattern the video file relative to the root, with {@code {column}} fields
         * @return this
         */
        public Builder optFilePattern(String pattern) {
            new FilePattern(pattern);
            this.pattern = pattern;
            return this;
        }

        /**
         * @param target what the label is
         * @return this
         */
        public Builder optTarget(Target target) {
            if (target == null) {
                throw new IllegalArgumentException("target must not be null");
            }
            this.target = target;
            return this;
        }

        /**
         * @param verbs number of verb classes (97 in EPIC-KITCHENS-100)
         * @param nouns number of noun classes (300)
         * @return this
         */
        public Builder optClassCounts(int verbs, int nouns) {
            if (verbs < 1 || nouns < 1 || (long) verbs * nouns > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("class counts must be >= 1, got " + verbs + " verbs, " + nouns + " nouns");
            }
            this.numVerbs = verbs;
            this.numNouns = nouns;
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
         * Reads the annotations.
         *
         * @return the dataset
         * @throws AnnotationException on malformed annotations (naming file and line) or missing videos when asked
         * @throws IOException         if the file cannot be read
         */
        public EpicKitchensDataset build() throws IOException {
            Csv csv = Csv.read(csvFile);
            Map<String, Integer> cols = csv.header("narration_id", "video_id", "start_timestamp", "stop_timestamp", "verb_class", "noun_class");
            FilePattern fp = new FilePattern(pattern);
            fp.checkColumns(cols, csv);
            int nCols = csv.rows.get(0).fields().size();
            Integer startFrame = cols.get("start_frame");
            Integer stopFrame = cols.get("stop_frame");
            List<LabeledVideo> videos = new ArrayList<>();
            Annotations.MissingFiles missing = new Annotations.MissingFiles();
            Map<String, Long> ids = new HashMap<>();
            for (Csv.Row r : csv.rows.subList(1, csv.rows.size())) {
                csv.requireFields(r, nCols);
                String id = csv.nonEmpty(r, cols.get("narration_id"), "narration_id");
                csv.nonEmpty(r, cols.get("video_id"), "video_id");
                long start = Annotations.timestamp(r.get(cols.get("start_timestamp")), csvFile, r.line(), "start_timestamp");
                long stop = Annotations.timestamp(r.get(cols.get("stop_timestamp")), csvFile, r.line(), "stop_timestamp");
                if (stop <= start) {
                    throw new AnnotationException(csvFile, r.line(), "stop_timestamp must be after start_timestamp, got "
                            + r.get(cols.get("start_timestamp")) + " and " + r.get(cols.get("stop_timestamp")));
                }
                if (startFrame != null && stopFrame != null) {
                    int a = csv.nonNegativeInt(r, startFrame, "start_frame");
                    int b = csv.nonNegativeInt(r, stopFrame, "stop_frame");
                    if (b < a) {
                        throw new AnnotationException(csvFile, r.line(), "stop_frame " + b + " is before start_frame " + a);
                    }
                }
                int verb = csv.nonNegativeInt(r, cols.get("verb_class"), "verb_class");
                int noun = csv.nonNegativeInt(r, cols.get("noun_class"), "noun_class");
                if (verb >= numVerbs || noun >= numNouns) {
                    throw new AnnotationException(csvFile, r.line(), "class out of range: verb_class " + verb + " (< " + numVerbs + "), noun_class "
                            + noun + " (< " + numNouns + ")");
                }
                Long first = ids.putIfAbsent(id, r.line());
                if (first != null) {
                    throw new AnnotationException(csvFile, r.line(), "narration_id '" + id + "' is listed twice (first on line " + first + ")");
                }
                Path file = root.resolve(fp.apply(csv, r, cols));
                if (missing.check(file, csvFile, r.line())) {
                    int label = switch (target) {
                        case VERB -> verb;
                        case NOUN -> noun;
                        case ACTION -> verb * numNouns + noun;
                    };
                    videos.add(new LabeledVideo(id, file, label, start, stop, List.of(verb, noun)));
                }
            }
            String name = "epic-kitchens " + csvFile.getFileName() + " " + target.name().toLowerCase(Locale.ROOT);
            missing.finish(name, failOnMissing, ids.size());
            return new EpicKitchensDataset(name, videos, classNames(target, numVerbs, numNouns), missing.missing());
        }
    }

    private static List<String> classNames(Target target, int verbs, int nouns) {
        List<String> out = new ArrayList<>();
        switch (target) {
            case VERB -> {
                for (int v = 0; v < verbs; v++) {
                    out.add("verb_" + v);
                }
            }
            case NOUN -> {
                for (int n = 0; n < nouns; n++) {
                    out.add("noun_" + n);
                }
            }
            case ACTION -> {
                for (int v = 0; v < verbs; v++) {
                    for (int n = 0; n < nouns; n++) {
                        out.add("verb_" + v + "+noun_" + n);
                    }
                }
            }
        }
        return out;
    }
}
