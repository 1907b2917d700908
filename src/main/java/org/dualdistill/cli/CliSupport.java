package org.dualdistill.cli;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.data.DataLoader;
import org.dualdistill.data.Hmdb51Dataset;
import org.dualdistill.data.VideoDataset;
import org.dualdistill.distill.DistillationObjective;
import org.dualdistill.export.ExportedStudent;
import org.dualdistill.export.ModelCard;
import org.dualdistill.export.StudentExport;
import org.dualdistill.model.VideoModel;
import org.dualdistill.model.io.SafeTensors;
import org.dualdistill.model.mvit.MViT;
import org.dualdistill.model.mvit.MViTConfig;
import org.dualdistill.model.x3d.X3d;
import org.dualdistill.train.Checkpoint;
import org.dualdistill.train.TrainConfig;
import org.dualdistill.video.ClipSampler;
import org.dualdistill.video.MultiViewSampler;
import org.dualdistill.video.VideoTransform;
import org.dualdistill.video.ViewSpec;

/**
 * What the training and evaluation subcommands share, so that {@code train-teacher}, {@code distill},
 * {@code evaluate} and {@code export} build exactly the same reduced models, read configs and datasets the same way,
 * and agree on the teacher file and checkpoint conventions.
 *
 * <p>The CLI's models are fixed reductions: the student is X3D with width 0.5, depth 0.5 and a 64-wide head, the CNN
 * teacher the same at width 1.0; the ViT teacher is a two-block MViT of width 16 that sees twice the student's frames. A trained teacher
 * is one safetensors file whose {@code __metadata__} records its arch, classes, frames, crop and class names, so a
 * mismatch with the distillation run is reported by name before any weight is touched.
 *
 * <p>Stateless; every method is safe to call from any thread (the models it returns are not thread-safe).
 */
final class CliSupport {
    /** Student / CNN-teacher X3D reduction. */
    static final double X3D_WIDTH = 0.5;
    static final double X3D_DEPTH = 0.5;
    static final long X3D_HEAD = 64;
    /** The CNN teacher is twice as wide as the student (the paper's X3D-M teacher is wider than its X3D-S student). */
    static final double X3D_TEACHER_WIDTH = 1.0;

    /** Teacher-file metadata keys (strings in the safetensors header). */
    static final String META_KIND = "dualdistill.kind";
    static final String META_ARCH = "dualdistill.arch";
    static final String META_CLASSES = "dualdistill.numClasses";
    static final String META_FRAMES = "dualdistill.frames";
    static final String META_CROP = "dualdistill.crop";
    static final String META_CLASS_NAMES = "dualdistill.classNames";
    static final String TEACHER_KIND = "teacher";

    private static final ObjectMapper JSON = new ObjectMapper();

    private CliSupport() {
    }

    /** A user-facing failure: the command prints {@code <command>: <message>} and exits with 2. */
    static final class CliException extends Exception {
        CliException(String message) {
            super(message);
        }

        CliException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /**
     * @param command the subcommand name
     * @param message what went wrong (names the file and the reason)
     * @return 2, the exit code of every user error
     */
    static int fail(String command, String message) {
        System.err.println(command + ": " + message);
        return 2;
    }

    /** Writes a small output file (creating its folder) through a temporary sibling, so readers never see half. */
    static void writeFile(Path file, byte[] bytes) throws IOException {
        Path target = file.toAbsolutePath();
        Files.createDirectories(target.getParent());
        Path tmp = Files.createTempFile(target.getParent(), "." + target.getFileName(), ".tmp");
        try {
            Files.write(tmp, bytes);
            org.dualdistill.internal.AtomicFiles.replace(tmp, target);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    // ---------------------------------------------------------------- models

    /** @return the CLI's reduced X3D (student, CNN teacher); caller must close */
    static X3d x3d(long classes, int t, int crop, double dropout) {
        return X3d.builder().widthFactor(X3D_WIDTH).depthFactor(X3D_DEPTH).headDimOut(X3D_HEAD).numClasses(classes)
                .dropout(dropout).clipLength(t).crop(crop).build();
    }

    /** @return the CLI's CNN teacher: the reduced X3D at {@link #X3D_TEACHER_WIDTH}; caller must close */
    static X3d cnnTeacher(long classes, int t, int crop) {
        return X3d.builder().widthFactor(X3D_TEACHER_WIDTH).depthFactor(X3D_DEPTH).headDimOut(X3D_HEAD).numClasses(classes)
                .dropout(0.2).clipLength(t).crop(crop).build();
    }

    /** @return the CLI's reduced MViT for clips of {@code frames} frames (the ViT teacher); caller must close */
    static MViT mvit(long classes, int frames, int crop) {
        return new MViT(MViTConfig.builder().depth(2).embedDim(16).numHeads(1).stageStarts(1).numFrames(frames)
                .cropSize(crop).numClasses(classes).dropPathRate(0).kvStrideAdaptive(1, kvStride(crop), kvStride(crop))
                .build());
    }

    /**
     * Spatial kv-pooling stride of the reduced MViT: MViTv2-S's 8 suits its 56x56 token grid; on the 8x8 grid of a
     * 32-pixel crop it let keys and values see only the top-left tokens (15 of 64 token positions had no influence on
     * the output, and the teacher stayed at chance), so the stride scales with the grid: crop / 16, at least 1.
     */
    static long kvStride(int crop) {
        return Math.max(1, crop / 16);
    }

    /** Teacher architectures {@code train-teacher} can build. */
    enum TeacherArch {
        /** Reduced MViT; sees 2 x clipLength frames. */
        MVIT,
        /** Reduced X3D; sees clipLength frames. */
        X3D;

        int frames(int clipLength) {
            return this == MVIT ? 2 * clipLength : clipLength;
        }

        VideoModel build(long classes, int clipLength, int crop) {
            return this == MVIT ? mvit(classes, frames(clipLength), crop) : cnnTeacher(classes, clipLength, crop);
        }

        String key() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** The distillation objective of a run's config for this student and its two teachers; caller must close. */
    static DistillationObjective objective(TrainConfig.Objective o, X3d student, VideoModel vit, VideoModel cnn, int t, int crop) {
        DistillationObjective.Builder b = DistillationObjective.builder().studentChannels(channels(student, t, crop))
                .vitChannels(channels(vit, 2 * t, crop)).cnnChannels(channels(cnn, t, crop))
                .alphaCe(o.alphaCe()).alphaKd(o.alphaKd()).sddWeight(o.sddWeight()).rkdWeight(o.rkdWeight())
                .hintWeight(o.hintWeight()).rkdDistanceWeight(o.rkdDistanceWeight()).rkdAngleWeight(o.rkdAngleWeight());
        if (o.alignDim() > 0) {
            b.dim(o.alignDim());
        }
        if (o.alignSeed() != 0) {
            b.seed(o.alignSeed());
        }
        b.datw().weighting(o.weighting()).scoreMode(o.scoreMode()).normalization(o.normalization())
                .temperature(o.temperature()).tauConf(o.tauConf()).tauWeight(o.tauWeight()).labelSmoothing(o.labelSmoothing());
        return b.build();
    }

    /** Feature-map channels of a model for a clip of {@code t} frames, by one no-grad forward. */
    static long channels(VideoModel m, int t, int crop) {
        try (PointerScope s = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            m.module().eval();
            return m.forward(torch.zeros(1, 3, t, crop, crop)).features().size(1);
        }
    }

    // ---------------------------------------------------------------- config and data

    /**
     * The embedded demo preset, then the config file (JSON or YAML), then {@code --set} overrides, then the explicit
     * options.
     *
     * @throws CliException naming the file and the key path on any error
     */
    static TrainConfig resolveConfig(Path config, List<String> sets, Integer epochs, Integer batch, Double lr, Long seed)
            throws CliException {
        List<String> overrides = new ArrayList<>(sets == null ? List.of() : sets);
        if (epochs != null) {
            overrides.add("schedule.epochs=" + epochs);
        }
        if (batch != null) {
            overrides.add("data.batchSize=" + batch);
        }
        if (lr != null) {
            overrides.add("optimizer.lr=" + lr);
        }
        if (seed != null) {
            overrides.add("run.seed=" + seed);
        }
        TrainConfig base = TrainConfig.embeddedDemo();
        try {
            if (config == null) {
                return base.withOverrides(overrides);
            }
            if (!Files.isRegularFile(config)) {
                throw new CliException("--config file not found: " + config.toAbsolutePath());
            }
            return TrainConfig.load(base, config, overrides); // messages name the file, then the key path
        } catch (IllegalArgumentException | IOException e) {
            throw new CliException(e.getMessage(), e);
        }
    }

    /**
     * @return one subset of one split of an HMDB51-layout folder, non-empty
     * @throws CliException when the folder is missing, unreadable or the subset is empty
     */
    static Hmdb51Dataset dataset(Path data, int split, Hmdb51Dataset.Subset subset) throws CliException {
        if (data == null || !Files.isDirectory(data)) {
            throw new CliException("--data folder not found: " + (data == null ? "(none)" : data.toAbsolutePath()));
        }
        Hmdb51Dataset ds;
        try {
            ds = Hmdb51Dataset.builder(data).optSplit(split).optSubset(subset).build();
        } catch (IOException | RuntimeException e) {
            throw new CliException("cannot read the dataset in " + data.toAbsolutePath() + ": " + e.getMessage(), e);
        }
        if (ds.size() == 0) {
            throw new CliException(data.toAbsolutePath() + ": split " + split + " has no "
                    + subset.name().toLowerCase(java.util.Locale.ROOT) + " videos");
        }
        return ds;
    }

    /** Training augmentation of the CLI: random window, random short side in [crop, 1.15 crop], random crop. */
    static VideoTransform trainTransform(TrainConfig.Data d) {
        return VideoTransform.of(d.crop(), Math.round(d.crop() * 1.15f), VideoTransform.Crop.RANDOM, d.flipProbability());
    }

    /**
     * Test-time views: {@code clips} evenly spaced windows ({@link ClipSampler#uniform}) x 1 centre or 3 crops, short
     * side scaled to {@code shortSide}, as {@link org.dualdistill.inference.VideoClassifier} does.
     */
    static MultiViewSampler testViews(Geometry g, int clips, int crops) {
        VideoTransform tr = crops == 3 ? VideoTransform.threeCrop(g.shortSide()) : VideoTransform.center(g.shortSide());
        return MultiViewSampler.builder(ClipSampler.uniform(g.clipLength(), g.frameStride(), clips, crops), tr)
                .addView(new ViewSpec("student", g.clipLength(), g.crop(), g.crop(), g.mean(), g.std())).build();
    }

    /** @return a deterministic, unshuffled loader over {@code ds}; caller must close */
    static DataLoader testLoader(VideoDataset ds, MultiViewSampler views, int batch, int workers, long seed) {
        return DataLoader.builder(ds, views).optBatchSize(batch).optWorkers(Math.max(1, workers)).optShuffle(false)
                .optSeed(seed).build();
    }

    /** Input geometry and normalization of a student. */
    record Geometry(int clipLength, int frameStride, int crop, int shortSide, float[] mean, float[] std) {
        /** The training views' geometry: short side scaled to the crop, Kinetics normalization (as ViewSpec.of). */
        static Geometry of(TrainConfig.Data d) {
            float[] m = {0.45f, 0.45f, 0.45f};
            float[] s = {0.225f, 0.225f, 0.225f};
            return new Geometry(d.clipLength(), d.frameStride(), d.crop(), d.crop(), m, s);
        }

        static Geometry of(ModelCard card) {
            ModelCard.Input in = card.input();
            return new Geometry(in.clipLength(), in.frameStride(), in.crop(), in.shortSide(), card.mean(), card.std());
        }
    }

    // ---------------------------------------------------------------- teacher files

    /** What a teacher file says about itself. */
    record TeacherInfo(TeacherArch arch, long numClasses, int frames, int crop, List<String> classNames) {
        Map<String, String> metadata() {
            Map<String, String> m = new LinkedHashMap<>();
            m.put(META_KIND, TEACHER_KIND);
            m.put(META_ARCH, arch.key());
            m.put(META_CLASSES, Long.toString(numClasses));
            m.put(META_FRAMES, Integer.toString(frames));
            m.put(META_CROP, Integer.toString(crop));
            try {
                m.put(META_CLASS_NAMES, JSON.writeValueAsString(classNames));
            } catch (JsonProcessingException e) {
                throw new IllegalStateException(e);
            }
            return m;
        }
    }

    /** Writes a teacher's parameters and buffers with its {@link TeacherInfo} as safetensors metadata. */
    static void saveTeacher(Path file, VideoModel teacher, TeacherInfo info) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        SafeTensors.save(teacher.module(), file, info.metadata());
    }

    /**
     * Reads the teacher metadata of a file written by {@code train-teacher}.
     *
     * @throws CliException when the file is missing, not safetensors, or not a dualdistill teacher
     */
    static TeacherInfo readTeacher(Path file) throws CliException {
        Map<String, String> meta = safetensorsMetadata(file);
        if (!TEACHER_KIND.equals(meta.get(META_KIND))) {
            throw new CliException(file + ": not a teacher written by train-teacher (no " + META_KIND + "=teacher in "
                    + "its safetensors metadata)");
        }
        try {
            TeacherArch arch = TeacherArch.valueOf(meta.get(META_ARCH).toUpperCase(java.util.Locale.ROOT));
            List<String> names = JSON.readValue(meta.get(META_CLASS_NAMES), new TypeReference<List<String>>() { });
            return new TeacherInfo(arch, Long.parseLong(meta.get(META_CLASSES)), Integer.parseInt(meta.get(META_FRAMES)),
                    Integer.parseInt(meta.get(META_CROP)), names);
        } catch (RuntimeException | JsonProcessingException e) {
            throw new CliException(file + ": bad teacher metadata " + meta + ": " + e.getMessage(), e);
        }
    }

    /**
     * Builds the teacher a distillation run expects and loads {@code file} into it strictly.
     *
     * @param file       a file written by {@code train-teacher}
     * @param expected   the arch the run's slot takes ({@code --vit-teacher}: MVIT, {@code --cnn-teacher}: X3D)
     * @param classNames the run's classes, in label order
     * @param clipLength the run's student clip length
     * @param crop       the run's crop
     * @param option     the option name, for messages
     * @return the loaded teacher; caller must close
     * @throws CliException naming the file and what does not match, before or while loading
     */
    static VideoModel loadTeacher(Path file, TeacherArch expected, List<String> classNames, int clipLength, int crop,
                                  String option) throws CliException {
        TeacherInfo info = readTeacher(file);
        List<String> problems = new ArrayList<>();
        if (info.arch() != expected) {
            problems.add("arch " + info.arch().key() + " (" + option + " takes " + expected.key() + ")");
        }
        if (!info.classNames().equals(classNames)) {
            problems.add("classes " + info.classNames() + " (dataset has " + classNames + ")");
        }
        if (info.frames() != expected.frames(clipLength)) {
            problems.add(info.frames() + " frames (this run feeds " + expected.frames(clipLength) + ")");
        }
        if (info.crop() != crop) {
            problems.add("crop " + info.crop() + " (this run uses " + crop + ")");
        }
        if (!problems.isEmpty()) {
            throw new CliException(file + ": teacher does not fit this run: " + String.join(", ", problems));
        }
        VideoModel m = expected.build(classNames.size(), clipLength, crop);
        try {
            SafeTensors.loadInto(m.module(), file, SafeTensors.Mode.STRICT, null);
            m.module().eval();
            return m;
        } catch (IOException | RuntimeException e) {
            m.close();
            throw new CliException(file + ": cannot load the teacher weights (strict): " + e.getMessage(), e);
        }
    }

    /** @return the {@code __metadata__} of a safetensors file (empty when it has none) */
    static Map<String, String> safetensorsMetadata(Path file) throws CliException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            while (len.hasRemaining() && ch.read(len) >= 0) {
                // read the 8-byte header length
            }
            if (len.hasRemaining()) {
                throw new CliException(file + ": not a safetensors file (shorter than its 8-byte header length)");
            }
            long n = len.flip().getLong();
            if (n <= 1 || n > 100_000_000L || 8 + n > ch.size()) {
                throw new CliException(file + ": not a safetensors file (header length " + n + ", file " + ch.size()
                        + " bytes)");
            }
            ByteBuffer h = ByteBuffer.allocate((int) n);
            while (h.hasRemaining() && ch.read(h) >= 0) {
                // read the JSON header
            }
            JsonNode root = JSON.readTree(new String(h.array(), StandardCharsets.UTF_8));
            JsonNode meta = root == null ? null : root.get("__metadata__");
            Map<String, String> out = new LinkedHashMap<>();
            if (meta != null && meta.isObject()) {
                meta.fields().forEachRemaining(e -> out.put(e.getKey(), e.getValue().asText()));
            }
            return out;
        } catch (NoSuchFileException e) {
            throw new CliException("file not found: " + file.toAbsolutePath(), e);
        } catch (JsonProcessingException e) {
            throw new CliException(file + ": not a safetensors file (header is not JSON: " + e.getOriginalMessage() + ")", e);
        } catch (IOException e) {
            throw new CliException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    // ---------------------------------------------------------------- students from checkpoints and exports

    /**
     * A student loaded for evaluation or export; owns the model.
     *
     * @param model      the student, eval mode
     * @param geometry   its input geometry and normalization
     * @param classNames class names when known (exports), else null
     * @param source     the checkpoint or export folder actually read
     * @param kind       {@code checkpoint} or {@code export}
     */
    record LoadedStudent(X3d model, Geometry geometry, List<String> classNames, Path source, String kind)
            implements AutoCloseable {
        @Override
        public void close() {
            model.close();
        }
    }

    /**
     * Loads a student from a checkpoint folder (one with {@code manifest.json}, or a folder of {@code epoch-*}
     * checkpoints, whose latest is taken) or an export folder (one with {@code model.json}).
     *
     * @throws CliException naming the folder or file and the reason
     */
    static LoadedStudent loadStudent(Path dir) throws CliException {
        if (dir == null || !Files.exists(dir)) {
            throw new CliException("model folder not found: " + (dir == null ? "(none)" : dir.toAbsolutePath()));
        }
        if (!Files.isDirectory(dir)) {
            throw new CliException(dir + ": not a folder (expected a checkpoint or an export folder)");
        }
        if (Files.exists(dir.resolve(StudentExport.CARD))) {
            try {
                ExportedStudent e = StudentExport.load(dir);
                return new LoadedStudent(e.model(), Geometry.of(e.card()), e.card().classNames(), dir, "export");
            } catch (IOException | RuntimeException e) {
                throw new CliException(e.getMessage(), e);
            }
        }
        Path ckpt = latestCheckpoint(dir);
        if (ckpt == null) {
            throw new CliException(dir + ": neither a checkpoint (no " + Checkpoint.MANIFEST + ") nor an export (no "
                    + StudentExport.CARD + ")");
        }
        return loadCheckpoint(ckpt);
    }

    /** @return {@code dir} when it is a checkpoint, else its last {@code epoch-*} checkpoint, else null */
    static Path latestCheckpoint(Path dir) throws CliException {
        if (Files.exists(dir.resolve(Checkpoint.MANIFEST))) {
            return dir;
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().startsWith("epoch-"))
                    .filter(p -> Files.exists(p.resolve(Checkpoint.MANIFEST))).sorted().reduce((a, b) -> b).orElse(null);
        } catch (IOException e) {
            throw new CliException(dir + ": cannot list: " + e.getMessage(), e);
        }
    }

    private static LoadedStudent loadCheckpoint(Path dir) throws CliException {
        TrainConfig cfg;
        try {
            String json = Checkpoint.configJson(dir); // verifies every file against the manifest first
            if (json == null) {
                throw new CliException(dir + ": checkpoint has no config.json, so the student cannot be rebuilt");
            }
            cfg = TrainConfig.parse(TrainConfig.embeddedDemo(), json, TrainConfig.Format.JSON, List.of());
        } catch (IOException | IllegalArgumentException e) {
            throw new CliException(e.getMessage(), e);
        }
        TrainConfig.Student s = cfg.student();
        TrainConfig.Data d = cfg.data();
        X3d model = X3d.builder().widthFactor(s.widthFactor()).depthFactor(s.depthFactor()).headDimOut(s.headDimOut())
                .numClasses(s.numClasses()).dropout(0).clipLength(d.clipLength()).crop(d.crop()).build();
        try {
            Checkpoint.load(dir, model.module(), null, null);
            model.module().eval();
        } catch (IOException | RuntimeException e) {
            model.close();
            throw new CliException(e.getMessage(), e);
        }
        return new LoadedStudent(model, Geometry.of(d), null, dir, "checkpoint");
    }

    /**
     * The config overrides that make a checkpoint's config describe the CLI's student exactly (so {@code evaluate}
     * and {@code export} can rebuild it).
     */
    static List<String> studentOverrides(long classes) {
        return List.of("student.numClasses=" + classes, "student.widthFactor=" + X3D_WIDTH,
                "student.depthFactor=" + X3D_DEPTH, "student.headDimOut=" + X3D_HEAD);
    }
}
