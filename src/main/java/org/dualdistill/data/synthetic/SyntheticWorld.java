package org.dualdistill.data.synthetic;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import org.dualdistill.data.AnnotationException;
import org.dualdistill.data.Hmdb51Dataset;
import org.dualdistill.video.EncoderOptions;
import org.dualdistill.video.VideoCodec;
import org.dualdistill.video.VideoEncoder;

/**
 * The two-stage synthetic world of the benchmark (design: docs/benchmark-world.md): a large SOURCE set on which teachers
 * pretrain and a small TARGET set with train / validation / test, both with a LOCAL family (one object's motion) and a
 * RELATION family (the relative phase of two far-apart objects, which neither object shows alone).
 *
 * <p>Layout under {@code root}:
 * <pre>
 * world.json                               settings ({@link WorldConfig#stamp()}), classes and families per stage
 * source/classes.txt                       HMDB51 layout, read by {@link Hmdb51Dataset}: class names in label order,
 * source/families.txt                      "&lt;class&gt; &lt;local|relation&gt;" per label
 * source/&lt;class&gt;/&lt;class&gt;_0000.avi ...
 * source/splits/&lt;class&gt;_test_split1.txt     tag 1 train, 2 test
 * target/...                               the same; split 1 tags 1 train, 0 validation, 2 test
 * </pre>
 * Loaders: {@link #train}, {@link #validation} and {@link #test} (validation = HMDB51's "unused" tag 0).
 *
 * <p>Determinism: video i of class c in a stage depends only on (seed, stage, c, i) and the size, noise and frame
 * settings; with one encoder thread per video, files are byte-identical between runs whatever
 * {@link WorldConfig#threads()} is. Thread-safe: {@code generate} keeps no state (do not run two into one folder).
 */
public final class SyntheticWorld {
    /** The world's manifest file. */
    public static final String MANIFEST = "world.json";
    /** Per stage: the family of each label. */
    public static final String FAMILIES_FILE = "families.txt";

    private SyntheticWorld() {
    }

    /**
     * Writes the world.
     *
     * @param root folder to write into (created if missing; files with the same names are replaced)
     * @param cfg  the settings
     * @return what was written
     * @throws IOException if a file cannot be written or FFmpeg cannot encode ({@code VideoEncodeException})
     */
    public static World generate(Path root, WorldConfig cfg) throws IOException {
        if (root == null || cfg == null) {
            throw new IllegalArgumentException("root and cfg must not be null");
        }
        List<Job> jobs = new ArrayList<>();
        WorldStage source = plan(root, cfg, WorldDomain.SOURCE, jobs);
        WorldStage target = plan(root, cfg, WorldDomain.TARGET, jobs);
        RenderJobs.runAll(jobs, cfg.threads(), null, "synthetic-world", "synthetic world generation failed",
                "interrupted while generating the synthetic world");
        for (WorldStage s : List.of(source, target)) {
            writeStageFiles(s);
        }
        writeManifest(root, cfg, source, target);
        return new World(root, cfg, source, target);
    }

    /**
     * @param stageRoot {@code <world>/target} (or {@code source})
     * @return split 1, tag 1
     * @throws IOException on unreadable or malformed split files
     */
    public static Hmdb51Dataset train(Path stageRoot) throws IOException {
        return Hmdb51Dataset.builder(stageRoot).optSplit(1).optFailOnMissing(true).build();
    }

    /**
     * @param stageRoot {@code <world>/target}
     * @return split 1, tag 0: the validation set (empty for the source)
     * @throws IOException on unreadable or malformed split files
     */
    public static Hmdb51Dataset validation(Path stageRoot) throws IOException {
        return Hmdb51Dataset.builder(stageRoot).optSplit(1).optSubset(Hmdb51Dataset.Subset.UNUSED).optFailOnMissing(true).build();
    }

    /**
     * @param stageRoot {@code <world>/target} (or {@code source})
     * @return split 1, tag 2
     * @throws IOException on unreadable or malformed split files
     */
    public static Hmdb51Dataset test(Path stageRoot) throws IOException {
        return Hmdb51Dataset.builder(stageRoot).optSplit(1).optSubset(Hmdb51Dataset.Subset.TEST).optFailOnMissing(true).build();
    }

    /**
     * Reads a stage's {@code families.txt}.
     *
     * @param stageRoot a stage folder
     * @return the family of each label, in label order
     * @throws IOException if the file is missing, or {@link AnnotationException} naming the line if it is malformed
     */
    public static List<ClassFamily> families(Path stageRoot) throws IOException {
        Path f = stageRoot.resolve(FAMILIES_FILE);
        List<String> lines;
        try {
            lines = Files.readAllLines(f, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new AnnotationException(f, 0, "families file not found (is this a SyntheticWorld stage folder?)");
        }
        List<ClassFamily> out = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty()) {
                continue;
            }
            String[] tok = line.split("\\s+");
            if (tok.length != 2) {
                throw new AnnotationException(f, i + 1, "expected '<class> <local|relation>', got '" + line + "'");
            }
            try {
                out.add(ClassFamily.ofKey(tok[1]));
            } catch (IllegalArgumentException e) {
                throw new AnnotationException(f, i + 1, e.getMessage());
            }
        }
        return out;
    }

    /**
     * Renders the frames of one video without encoding them.
     *
     * @param worldClass the class
     * @param domain     the stage's appearance domain
     * @param seed       the scene seed ({@link WorldVideo#seed()})
     * @param frames     number of frames (&gt;= 1)
     * @param cfg        size, noise and shake (counts are ignored)
     * @return {@code frames} RGB24 images of {@code height * width * 3} bytes, rows top to bottom
     */
    public static List<byte[]> renderFrames(WorldClass worldClass, WorldDomain domain, long seed, int frames, WorldConfig cfg) {
        if (frames < 1) {
            throw new IllegalArgumentException("frames must be >= 1, got " + frames);
        }
        Scene scene = WorldScene.sample(worldClass, domain, seed, frames, cfg, Double.NaN);
        List<byte[]> out = new ArrayList<>(frames);
        for (int t = 0; t < frames; t++) {
            out.add(scene.render(t));
        }
        return out;
    }

    /** @return the seed of video {@code index} of {@code cls} in {@code domain} */
    static long videoSeed(WorldConfig cfg, WorldDomain domain, WorldClass cls, int index) {
        return SyntheticActionDataset.videoSeed(cfg.seed() ^ (domain == WorldDomain.SOURCE ? 0x5D1CE5L : 0x7A26E7L),
                100 + cls.ordinal(), index);
    }

    private static WorldStage plan(Path root, WorldConfig cfg, WorldDomain domain, List<Job> jobs) throws IOException {
        Path stageRoot = root.resolve(domain.folderName());
        Files.createDirectories(stageRoot.resolve(SyntheticActionDataset.SPLIT_DIR));
        List<WorldClass> classes = cfg.classes(domain);
        int n = cfg.videosPerClass(domain);
        List<WorldVideo> videos = new ArrayList<>();
        for (int label = 0; label < classes.size(); label++) {
            WorldClass c = classes.get(label);
            Files.createDirectories(stageRoot.resolve(c.folderName()));
            int[] tags = tags(cfg, domain, c, n);
            for (int i = 0; i < n; i++) {
                long seed = videoSeed(cfg, domain, c, i);
                int frames = cfg.minFrames() + new SplittableRandom(seed ^ 0x5DEECE66DL).nextInt(cfg.maxFrames() - cfg.minFrames() + 1);
                Path file = stageRoot.resolve(c.folderName()).resolve(String.format(Locale.ROOT, "%s_%04d.avi", c.folderName(), i));
                WorldVideo v = new WorldVideo(file, c, label, frames, seed, tags[i]);
                videos.add(v);
                jobs.add(new Job(v, domain, cfg));
            }
        }
        return new WorldStage(stageRoot, domain, classes, videos);
    }

    /** Tags of one class's videos: a seeded shuffle, then train (1), validation (0), test (2) in that order. */
    private static int[] tags(WorldConfig cfg, WorldDomain domain, WorldClass c, int n) {
        int train = domain == WorldDomain.SOURCE ? cfg.sourceTrain() : cfg.targetTrain();
        int val = domain == WorldDomain.SOURCE ? 0 : cfg.targetValidation();
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        SplittableRandom rnd = new SplittableRandom(videoSeed(cfg, domain, c, 1_000_000));
        for (int i = n - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int tmp = order[i];
            order[i] = order[j];
            order[j] = tmp;
        }
        int[] tags = new int[n];
        for (int r = 0; r < n; r++) {
            tags[order[r]] = r < train ? 1 : r < train + val ? 0 : 2;
        }
        return tags;
    }

    private static void writeStageFiles(WorldStage s) throws IOException {
        StringBuilder names = new StringBuilder();
        StringBuilder fams = new StringBuilder();
        for (WorldClass c : s.classes()) {
            names.append(c.folderName()).append('\n');
            fams.append(c.folderName()).append(' ').append(c.family().key()).append('\n');
            StringBuilder split = new StringBuilder();
            for (WorldVideo v : s.videos()) {
                if (v.worldClass() == c) {
                    split.append(v.name()).append(' ').append(v.tag()).append(" \n");
                }
            }
            Files.writeString(s.root().resolve(SyntheticActionDataset.SPLIT_DIR).resolve(c.folderName() + "_test_split1.txt"), split,
                    StandardCharsets.UTF_8);
        }
        Files.writeString(s.root().resolve(SyntheticActionDataset.CLASSES_FILE), names, StandardCharsets.UTF_8);
        Files.writeString(s.root().resolve(FAMILIES_FILE), fams, StandardCharsets.UTF_8);
    }

    private static void writeManifest(Path root, WorldConfig cfg, WorldStage source, WorldStage target) throws IOException {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("stamp", cfg.stamp());
        m.put("design", "docs/benchmark-world.md");
        m.put("width", cfg.width());
        m.put("height", cfg.height());
        m.put("frames", List.of(cfg.minFrames(), cfg.maxFrames()));
        m.put("seed", cfg.seed());
        for (WorldStage s : List.of(source, target)) {
            Map<String, Object> st = new LinkedHashMap<>();
            List<Map<String, Object>> cls = new ArrayList<>();
            for (WorldClass c : s.classes()) {
                Map<String, Object> e = new LinkedHashMap<>();
                e.put("name", c.folderName());
                e.put("family", c.family().key());
                cls.add(e);
            }
            st.put("classes", cls);
            st.put("train", s.videos(1).size());
            st.put("validation", s.videos(0).size());
            st.put("test", s.videos(2).size());
            m.put(s.domain().folderName(), st);
        }
        byte[] json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsBytes(m);
        Files.write(root.resolve(MANIFEST), json);
    }

    /** One video to render and encode. */
    private record Job(WorldVideo video, WorldDomain domain, WorldConfig cfg) implements RenderJobs.Job {
        @Override
        public void run() throws IOException {
            Scene scene = WorldScene.sample(video.worldClass(), domain, video.seed(), video.frames(), cfg, Double.NaN);
            EncoderOptions o = EncoderOptions.builder(VideoCodec.MPEG4, cfg.width(), cfg.height()).optFrameRate(cfg.frameRate())
                    .optQuality(cfg.quality()).optGopSize(12).optThreads(1).build();
            RenderJobs.encode(scene, video.frames(), video.file(), o);
        }
    }
}
