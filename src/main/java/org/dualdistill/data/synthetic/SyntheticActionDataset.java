package org.dualdistill.data.synthetic;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.dualdistill.video.EncoderOptions;
import org.dualdistill.video.VideoCodec;
import org.dualdistill.video.VideoEncoder;

/**
 * Generates the project's embedded default dataset: synthetic action videos whose class can only be told from the
 * temporal order of their frames, written as real video files through FFmpeg in HMDB51's layout.
 *
 * <p>Layout under {@code root}:
 * <pre>
 * classes.txt                              class folder names, one per line, in label order
 * move_left/move_left_000.avi ...          one folder per class (as HMDB51)
 * splits/move_left_test_split1.txt ...     HMDB51 split files: lines "&lt;video&gt; &lt;tag&gt; " with tag
 *                                          1 = train, 2 = test, 0 = unused (HMDB51 ends lines with a space too)
 * </pre>
 *
 * <p>Content (see {@link ActionClass}): pairs of classes that are each other's time reversal (moving left/right,
 * up/down, rotating clockwise/counter-clockwise, growing/shrinking, approaching/separating). Every video also has a
 * textured background (gratings, checkers or smooth blobs) that may drift, small distractor objects moving in random
 * directions, camera shake, flicker and pixel noise, with random shapes, colours, sizes, speeds and durations. All
 * of these are time-symmetric in distribution, so no single frame reveals the class.
 *
 * <p>Determinism: the content of video {@code i} of class {@code c} depends only on ({@code seed}, c, i) and the size
 * and distractor settings; with one encoder thread per video (as here) the files are byte-identical between runs,
 * whatever {@link SyntheticConfig#threads()} is. Thread-safe: {@code generate} keeps no state between calls (do not
 * run two generations into the same folder at once).
 */
public final class SyntheticActionDataset {
    /** Name of the folder with the split files. */
    public static final String SPLIT_DIR = "splits";
    /** Name of the class list file. */
    public static final String CLASSES_FILE = "classes.txt";

    private SyntheticActionDataset() {
    }

    /**
     * Writes the dataset.
     *
     * @param root folder to write into (created if missing; existing files with the same names are replaced)
     * @param cfg  the settings
     * @return what was written
     * @throws IOException if a file cannot be written or FFmpeg cannot encode ({@code VideoEncodeException})
     */
    public static SyntheticDataset generate(Path root, SyntheticConfig cfg) throws IOException {
        return generate(root, cfg, null);
    }

    /**
     * Writes the dataset, reporting each video as it is done.
     *
     * @param root   folder to write into
     * @param cfg    the settings
     * @param onDone called on the calling thread once per finished video, in job order (progress), or null
     * @return what was written
     * @throws IOException if a file cannot be written or FFmpeg cannot encode
     */
    public static SyntheticDataset generate(Path root, SyntheticConfig cfg, java.util.function.Consumer<SyntheticVideo> onDone)
            throws IOException {
        if (root == null || cfg == null) {
            throw new IllegalArgumentException("root and cfg must not be null");
        }
        List<ActionClass> classes = cfg.classes();
        Files.createDirectories(root.resolve(SPLIT_DIR));
        for (ActionClass c : classes) {
            Files.createDirectories(root.resolve(c.folderName()));
        }
        int n = cfg.videosPerClass();
        List<int[]> tags = new ArrayList<>(); // per class: tags[video * splits + (k-1)]
        for (ActionClass c : classes) {
            tags.add(splitTags(cfg, c, n));
        }
        List<Job> jobs = new ArrayList<>();
        for (ActionClass c : classes) {
            for (int i = 0; i < n; i++) {
                long seed = videoSeed(cfg.seed(), c.label(), i);
                int frames = cfg.minFrames() + new SplittableRandom(seed ^ 0x5DEECE66DL).nextInt(cfg.maxFrames() - cfg.minFrames() + 1);
                Path file = root.resolve(c.folderName()).resolve(String.format(Locale.ROOT, "%s_%03d%s", c.folderName(), i,
                        cfg.format().extension()));
                int[] t = new int[cfg.splits()];
                for (int k = 0; k < t.length; k++) {
                    t[k] = tags.get(cfg.labelOf(c))[i * cfg.splits() + k];
                }
                jobs.add(new Job(new SyntheticVideo(file, c, cfg.labelOf(c), frames, seed, t), cfg));
            }
        }
        RenderJobs.runAll(jobs, cfg.threads(), onDone == null ? null : i -> onDone.accept(jobs.get(i).video),
                "synthetic-dataset", "synthetic video generation failed", "interrupted while generating the synthetic dataset");
        List<SyntheticVideo> videos = jobs.stream().map(j -> j.video).toList();
        writeSplits(root, cfg, classes, videos);
        StringBuilder names = new StringBuilder();
        for (ActionClass c : classes) {
            names.append(c.folderName()).append('\n');
        }
        Files.writeString(root.resolve(CLASSES_FILE), names, StandardCharsets.UTF_8);
        return new SyntheticDataset(root, cfg, classes, videos);
    }

    /**
     * Renders the frames of one video without encoding them.
     *
     * @param actionClass the class
     * @param seed        the scene seed ({@link SyntheticVideo#seed()})
     * @param frames      number of frames
     * @param cfg         size and distractor settings (counts, format and splits are ignored)
     * @return {@code frames} RGB24 images of {@code height * width * 3} bytes, rows top to bottom
     */
    public static List<byte[]> renderFrames(ActionClass actionClass, long seed, int frames, SyntheticConfig cfg) {
        if (frames < 1) {
            throw new IllegalArgumentException("frames must be >= 1, got " + frames);
        }
        Scene scene = Scene.sample(actionClass, seed, frames, cfg);
        List<byte[]> out = new ArrayList<>(frames);
        for (int t = 0; t < frames; t++) {
            out.add(scene.render(t));
        }
        return out;
    }

    /** One video to render and encode. */
    private static final class Job implements RenderJobs.Job {
        final SyntheticVideo video;
        final SyntheticConfig cfg;

        Job(SyntheticVideo video, SyntheticConfig cfg) {
            this.video = video;
            this.cfg = cfg;
        }

        @Override
        public void run() throws IOException {
            Scene scene = Scene.sample(video.actionClass(), video.seed(), video.frames(), cfg);
            VideoCodec codec = switch (cfg.format()) {
                case MPEG4_AVI -> VideoCodec.MPEG4;
                case H264_MP4 -> VideoCodec.H264;
                case MJPEG_AVI -> VideoCodec.MJPEG;
            };
            EncoderOptions o = EncoderOptions.builder(codec, cfg.width(), cfg.height()).optFrameRate(cfg.frameRate()).optQuality(cfg.quality())
                    .optGopSize(12).optThreads(1).build();
            RenderJobs.encode(scene, video.frames(), video.file(), o);
        }
    }

    /** Tags of every video of one class in every split: per split a seeded shuffle, the first part train, then test. */
    private static int[] splitTags(SyntheticConfig cfg, ActionClass c, int n) {
        int splits = cfg.splits();
        int[] tags = new int[n * splits];
        int train = (int) Math.max(1, Math.round(cfg.trainFraction() * n));
        int test = (int) Math.max(1, Math.min(n - 1, Math.round(cfg.testFraction() * n)));
        if (train + test > n) {
            train = n - test;
        }
        for (int k = 0; k < splits; k++) {
            int[] order = new int[n];
            for (int i = 0; i < n; i++) {
                order[i] = i;
            }
            SplittableRandom rnd = new SplittableRandom(videoSeed(cfg.seed(), c.label(), 1_000_000 + k));
            for (int i = n - 1; i > 0; i--) {
                int j = rnd.nextInt(i + 1);
                int tmp = order[i];
                order[i] = order[j];
                order[j] = tmp;
            }
            for (int r = 0; r < n; r++) {
                int tag = r < train ? 1 : r < train + test ? 2 : 0;
                tags[order[r] * splits + k] = tag;
            }
        }
        return tags;
    }

    private static void writeSplits(Path root, SyntheticConfig cfg, List<ActionClass> classes, List<SyntheticVideo> videos) throws IOException {
        for (ActionClass c : classes) {
            for (int k = 1; k <= cfg.splits(); k++) {
                StringBuilder sb = new StringBuilder();
                for (SyntheticVideo v : videos) {
                    if (v.actionClass() == c) {
                        sb.append(v.name()).append(' ').append(v.tag(k)).append(" \n");
                    }
                }
                Files.writeString(root.resolve(SPLIT_DIR).resolve(c.folderName() + "_test_split" + k + ".txt"), sb, StandardCharsets.UTF_8);
            }
        }
    }

    /** @return a well-mixed seed for (master seed, class, index) (SplitMix64 finalizer over a combination) */
    static long videoSeed(long seed, int label, int index) {
        long z = seed * 0x9E3779B97F4A7C15L + label * 0xBF58476D1CE4E5B9L + index * 0x94D049BB133111EBL + 0x2545F4914F6CDD1DL;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
