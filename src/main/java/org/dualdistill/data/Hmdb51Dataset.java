package org.dualdistill.data;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * HMDB51: one folder of videos per class, and three train/test splits given as one text file per class and split,
 * {@code <class>_test_split<k>.txt}, with lines {@code <video file name> <tag>} where tag 1 = train, 2 = test,
 * 0 = unused (the lines of the official files end with a space).
 *
 * <p>The split files live in a separate folder: the official {@code testTrainMulti_7030_splits} download, or
 * {@code splits/} as written by {@link org.dualdistill.data.synthetic.SyntheticActionDataset}; both are found under the
 * video root, any other folder can be given ({@link Builder#optSplitDir}). Class order (= labels): the root's
 * {@code classes.txt} if present (the synthetic dataset writes one), else the class names of the split files sorted
 * alphabetically (the usual HMDB51 order), or a list given with {@link Builder#optClassNames}.
 *
 * <p>Errors: a malformed line, a tag other than 0/1/2, a video listed twice, a split file for a class not in the
 * class list, or a class without a split file raise {@link AnnotationException} naming file and line. Missing videos
 * are counted ({@link #missing()}), or fatal with {@link Builder#optFailOnMissing}.
 */
public final class Hmdb51Dataset extends ListDataset {
    private static final Pattern SPLIT_FILE = Pattern.compile("(.+)_test_split(\\d+)\\.txt");

    /** Which videos of a split. */
    public enum Subset {
        /** Tag 0: in neither set. */
        UNUSED(0),
        /** Tag 1. */
        TRAIN(1),
        /** Tag 2. */
        TEST(2);

        private final int tag;

        Subset(int tag) {
            this.tag = tag;
        }

        /** @return the tag in the split files */
        public int tag() {
            return tag;
        }
    }

    private Hmdb51Dataset(String name, List<LabeledVideo> videos, List<String> classes, List<MissingVideo> missing) {
        super(name, videos, classes, missing);
    }

    /**
     * @param videoRoot the folder with one sub-folder of videos per class
     * @return a builder for split 1, train
     */
    public static Builder builder(Path videoRoot) {
        return new Builder(videoRoot);
    }

    /** Builder; {@code opt*} methods set optional fields. Not thread-safe. */
    public static final class Builder {
        private final Path root;
        private Path splitDir;
        private int split = 1;
        private Subset subset = Subset.TRAIN;
        private List<String> classNames;
        private boolean failOnMissing;

        private Builder(Path root) {
            if (root == null) {
                throw new IllegalArgumentException("videoRoot must not be null");
            }
            this.root = root;
        }

        /**
         * @param dir the folder with the {@code <class>_test_split<k>.txt} files
         * @return this
         */
        public Builder optSplitDir(Path dir) {
            this.splitDir = dir;
            return this;
        }

        /**
         * @param split 1, 2 or 3
         * @return this
         */
        public Builder optSplit(int split) {
            if (split < 1) {
                throw new IllegalArgumentException("split must be >= 1, got " + split);
            }
            this.split = split;
            return this;
        }

        /**
         * @param subset train, test or unused videos
         * @return this
         */
        public Builder optSubset(Subset subset) {
            if (subset == null) {
                throw new IllegalArgumentException("subset must not be null");
            }
            this.subset = subset;
            return this;
        }

        /**
         * @param names class folder names in label order
         * @return this
         */
        public Builder optClassNames(List<String> names) {
            this.classNames = List.copyOf(names);
            return this;
        }

        /**
         * @param fail whether a listed video that does not exist is an error (default: counted and left out)
         * @return this
         */
        public Builder optFailOnMissing(boolean fail) {
            this.failOnMissing = fail;
            return this;
        }

        /**
         * Reads the split files.
         *
         * @return the dataset
         * @throws AnnotationException on malformed split files (naming file and line) or missing videos when asked
         * @throws IOException         if a folder or file cannot be read
         */
        public Hmdb51Dataset build() throws IOException {
            Path dir = splitDir != null ? splitDir : defaultSplitDir(root);
            if (!Files.isDirectory(dir)) {
                throw new AnnotationException(dir, 0, "split folder not found (give it with optSplitDir)");
            }
            Map<String, Path> files = new HashMap<>();
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
                for (Path p : ds) {
                    Matcher m = SPLIT_FILE.matcher(p.getFileName().toString());
                    if (m.matches() && Integer.parseInt(m.group(2)) == split) {
                        files.put(m.group(1), p);
                    }
                }
            }
            if (files.isEmpty()) {
                throw new AnnotationException(dir, 0, "no split files *_test_split" + split + ".txt");
            }
            List<String> classes = classNames;
            Path classFile = root.resolve("classes.txt");
            if (classes == null && Files.isRegularFile(classFile)) {
                classes = Files.readAllLines(classFile, StandardCharsets.UTF_8).stream().map(String::strip).filter(s -> !s.isEmpty()).toList();
            }
            if (classes == null) {
                classes = List.copyOf(new TreeSet<>(files.keySet()));
            }
            for (String c : files.keySet()) {
                if (!classes.contains(c)) {
                    throw new AnnotationException(files.get(c), 0, "class '" + c + "' is not in the class list " + classes);
                }
            }
            List<LabeledVideo> videos = new ArrayList<>();
            Annotations.MissingFiles missing = new Annotations.MissingFiles();
            int listed = 0;
            for (int label = 0; label < classes.size(); label++) {
                String c = classes.get(label);
                Path f = files.get(c);
                if (f == null) {
                    throw new AnnotationException(dir.resolve(c + "_test_split" + split + ".txt"), 0, "split file of class '" + c + "' not found");
                }
                List<String> lines = Files.readAllLines(f, StandardCharsets.UTF_8);
                Map<String, Integer> seen = new HashMap<>();
                for (int i = 0; i < lines.size(); i++) {
                    String line = lines.get(i).strip();
                    if (line.isEmpty()) {
                        continue;
                    }
                    // the tag is the last token; the name is everything before it (names may hold spaces)
                    int cut = Math.max(line.lastIndexOf(' '), line.lastIndexOf('\t'));
                    if (cut <= 0) {
                        throw new AnnotationException(f, i + 1, "expected '<video> <0|1|2>', got '" + line + "'");
                    }
                    String[] tok = {line.substring(0, cut).strip(), line.substring(cut + 1)};
                    if (!tok[1].equals("0") && !tok[1].equals("1") && !tok[1].equals("2")) {
                        throw new AnnotationException(f, i + 1, "tag must be 0 (unused), 1 (train) or 2 (test), got '" + tok[1] + "'");
                    }
                    Integer first = seen.putIfAbsent(tok[0], i + 1);
                    if (first != null) {
                        throw new AnnotationException(f, i + 1, "video '" + tok[0] + "' is listed twice (first on line " + first + ")");
                    }
                    if (Integer.parseInt(tok[1]) != subset.tag()) {
                        continue;
                    }
                    listed++;
                    Path video = root.resolve(c).resolve(tok[0]);
                    if (missing.check(video, f, i + 1)) {
                        videos.add(LabeledVideo.of(c + "/" + tok[0], video, label));
                    }
                }
            }
            String name = "hmdb51 split " + split + " " + subset.name().toLowerCase(java.util.Locale.ROOT);
            missing.finish(name, failOnMissing, listed);
            return new Hmdb51Dataset(name, videos, classes, missing.missing());
        }
    }

    private static Path defaultSplitDir(Path root) {
        for (String n : new String[] {"splits", "testTrainMulti_7030_splits"}) {
            if (Files.isDirectory(root.resolve(n))) {
                return root.resolve(n);
            }
        }
        return root.resolve("splits");
    }
}
