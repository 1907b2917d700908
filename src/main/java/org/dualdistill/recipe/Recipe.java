package org.dualdistill.recipe;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Module;
import org.dualdistill.data.DataLoader;
import org.dualdistill.data.Hmdb51Dataset;
import org.dualdistill.data.VideoDataset;
import org.dualdistill.distill.DistillationObjective;
import org.dualdistill.distill.Teacher;
import org.dualdistill.export.ExportedStudent;
import org.dualdistill.export.ModelCard;
import org.dualdistill.export.StudentExport;
import org.dualdistill.model.ModelPreset;
import org.dualdistill.model.ModelView;
import org.dualdistill.model.ModelZoo;
import org.dualdistill.model.VideoModel;
import org.dualdistill.model.io.SafeTensors;
import org.dualdistill.model.x3d.X3d;
import org.dualdistill.train.Checkpoint;
import org.dualdistill.train.CosineSchedule;
import org.dualdistill.train.Optimizers;
import org.dualdistill.train.TrainConfig;
import org.dualdistill.train.Trainer;
import org.dualdistill.train.TrainingOptimizer;
import org.dualdistill.video.ClipSampler;
import org.dualdistill.video.MultiViewSampler;
import org.dualdistill.video.VideoTransform;
import org.dualdistill.video.ViewSpec;

/**
 * The one place that turns a {@link TrainConfig} into a run: the registry presets and their views
 * ({@link #plan}), the datasets, the multi-view samplers and loaders, the models on their device, the frozen
 * {@link Teacher}s loaded from their files (refused by name when they do not fit), the
 * {@link DistillationObjective}, the optimizer and schedule, and a configured {@link Trainer.Builder}.
 * {@code distill}, {@code train-teacher}, {@code ablation}, {@code demo} and {@code evaluate} are thin callers.
 *
 * <p>Views in a distillation batch: the student's view is the reference (its window of {@code frames x stride},
 * its scale jitter and crop, flip with {@code data.flipProbability}); every teacher takes its own frames evenly over
 * the same window and the same region resized to its own crop, with its own normalization (see
 * {@link MultiViewSampler}).
 *
 * <p>Stateless; the methods are thread-safe, the objects they return are not (unless documented).
 */
public final class Recipe {
    private Recipe() {
    }

    // ---------------------------------------------------------------- config

    /**
     * A config from the layers the CLI stacks: a base preset, then a JSON or YAML file, then overrides in order.
     *
     * @param base      the defaults
     * @param file      config file, or null
     * @param overrides {@code key.path=value} strings (the CLI's shorthand flags come last)
     * @return the validated config
     * @throws RecipeException naming the file and the key path
     */
    public static TrainConfig config(TrainConfig base, Path file, List<String> overrides) throws RecipeException {
        try {
            if (file == null) {
                return base.withOverrides(overrides);
            }
            if (!Files.isRegularFile(file)) {
                throw new RecipeException("--config file not found: " + file.toAbsolutePath());
            }
            return TrainConfig.load(base, file, overrides);
        } catch (IllegalArgumentException | IOException e) {
            throw new RecipeException(e.getMessage(), e);
        }
    }

    // ---------------------------------------------------------------- plan

    /**
     * Resolves a config against the registry and the dataset's classes, and checks the teachers' files.
     *
     * @param cfg             the config
     * @param classNames      the dataset's classes in label order
     * @param allowUntrained  whether a teacher without a weights file may start randomly initialized (smoke tests)
     * @return the plan
     * @throws RecipeException for an unknown arch, a bad view, a missing or unfit teacher file (named), or a device
     *                         that is not there
     */
    public static RunPlan plan(TrainConfig cfg, List<String> classNames, boolean allowUntrained) throws RecipeException {
        long classes = cfg.model().numClasses();
        if (classes != 0 && classes != classNames.size()) {
            throw new RecipeException("model.numClasses is " + classes + " but the dataset has " + classNames.size()
                    + " classes " + classNames);
        }
        RunPlan p = resolve(cfg, classNames.size(), classNames);
        List<String> missing = new ArrayList<>();
        for (RunPlan.Member t : p.teachers()) {
            if (t.weights() == null) {
                missing.add("teachers." + cfg.teachers().indexOf(cfg.teacher(t.role())) + " (" + t.role() + ": "
                        + t.preset().name() + ")");
                continue;
            }
            TeacherFile.Info info = TeacherFile.read(t.weights());
            List<String> problems = TeacherFile.mismatches(info, t.preset().name(), classNames, t.view());
            if (!problems.isEmpty()) {
                throw new RecipeException(info.file() + ": the " + t.role() + " teacher does not fit this run: "
                        + String.join(", ", problems));
            }
        }
        if (!missing.isEmpty() && !allowUntrained) {
            throw new RecipeException("no weights for " + String.join(" and ", missing) + ": set teachers.N.weights "
                    + "(--vit-teacher/--cnn-teacher) to a train-teacher file, or pass --allow-untrained-teachers to "
                    + "distill from random teachers (smoke tests only)");
        }
        return p;
    }

    /**
     * Rebuilds the plan of a saved config (a checkpoint's): every value is explicit there, so no dataset is needed.
     *
     * @param saved a config written by a run
     * @return the plan (teacher files are not checked)
     * @throws RecipeException for an unknown arch, a bad view or a device that is not there
     */
    public static RunPlan planSaved(TrainConfig saved) throws RecipeException {
        if (saved.model().numClasses() < 1) {
            throw new RecipeException("saved config has model.numClasses 0: not a config written by a run");
        }
        return resolve(saved, saved.model().numClasses(), List.of());
    }

    private static RunPlan resolve(TrainConfig cfg, long classes, List<String> classNames) throws RecipeException {
        RunPlan.Member model = member("model", "model", cfg.model().arch(), cfg.model().view(), "");
        List<RunPlan.Member> teachers = new ArrayList<>();
        List<TrainConfig.Teacher> resolvedTeachers = new ArrayList<>();
        for (int i = 0; i < cfg.teachers().size(); i++) {
            TrainConfig.Teacher t = cfg.teachers().get(i);
            RunPlan.Member m = member(t.role(), "teachers." + i, t.arch(), t.view(), t.weights());
            teachers.add(m);
            resolvedTeachers.add(new TrainConfig.Teacher(t.role(), m.preset().name(), t.weights(), TrainConfig.View.of(m.view())));
        }
        String device = Devices.resolve(cfg.run().device());
        TrainConfig.Run r = cfg.run();
        TrainConfig resolved = new TrainConfig(
                new TrainConfig.Model(model.preset().name(), classes, TrainConfig.View.of(model.view())), resolvedTeachers,
                cfg.data(), cfg.objective(), cfg.optimizer(), cfg.schedule(),
                new TrainConfig.Run(r.outputDir(), r.seed(), device, r.precision(), r.logEvery(), r.checkpointEvery(), r.maxSteps(),
                        r.onNonFinite(), r.maxNonFiniteSkips()));
        return new RunPlan(resolved, model, teachers, device, classNames);
    }

    private static RunPlan.Member member(String role, String key, String arch, TrainConfig.View v, String weights)
            throws RecipeException {
        ModelPreset preset;
        try {
            preset = ModelZoo.get(arch);
        } catch (IllegalArgumentException e) {
            throw new RecipeException(key + ".arch: " + e.getMessage(), e);
        }
        ModelView view;
        try {
            view = v.resolve(preset.view());
        } catch (IllegalArgumentException e) {
            throw new RecipeException(key + "." + e.getMessage(), e);
        }
        if ("x3d".equals(preset.family()) && view.crop() < org.dualdistill.model.x3d.X3d.MIN_CROP) {
            throw new RecipeException(key + ".view.crop: must be >= " + org.dualdistill.model.x3d.X3d.MIN_CROP + " for "
                    + preset.name() + " (X3D's five stride-2 stages), got " + view.crop());
        }
        Path w = weights == null || weights.isEmpty() ? null : TeacherFile.resolve(Path.of(weights));
        return new RunPlan.Member(role, preset, view, w);
    }

    // ---------------------------------------------------------------- data

    /**
     * @param cfg    the config ({@code data.root}, {@code data.split})
     * @param subset train or test
     * @return the non-empty subset
     * @throws RecipeException when the folder is missing or unreadable, or the subset is empty
     */
    public static Hmdb51Dataset dataset(TrainConfig cfg, Hmdb51Dataset.Subset subset) throws RecipeException {
        String root = cfg.data().root();
        if (root.isEmpty()) {
            throw new RecipeException("no dataset: give --data DIR (data.root)");
        }
        Path data = Path.of(root);
        if (!Files.isDirectory(data)) {
            throw new RecipeException("--data folder not found: " + data.toAbsolutePath());
        }
        int split = cfg.data().split();
        Hmdb51Dataset ds;
        try {
            ds = Hmdb51Dataset.builder(data).optSplit(split).optSubset(subset).build();
        } catch (IOException | RuntimeException e) {
            throw new RecipeException("cannot read the dataset in " + data.toAbsolutePath() + ": " + e.getMessage(), e);
        }
        if (ds.size() == 0) {
            throw new RecipeException(data.toAbsolutePath() + ": split " + split + " has no "
                    + subset.name().toLowerCase(Locale.ROOT) + " videos");
        }
        return ds;
    }

    /**
     * The training views: the model's (named {@code student}, the reference) and each teacher's (named by role).
     *
     * @param plan       the plan
     * @param fixedViews random window but a fixed centre crop and no flip, so views repeat and a teacher cache pays
     *                   off; false = the model's scale jitter, random crop and {@code data.flipProbability}
     * @return the sampler
     */
    public static MultiViewSampler trainSampler(RunPlan plan, boolean fixedViews) {
        ModelView v = plan.model().view();
        VideoTransform tr = fixedViews ? VideoTransform.center(v.crop())
                : VideoTransform.of(v.trainShortSideMin(), v.trainShortSideMax(), VideoTransform.Crop.RANDOM,
                plan.config().data().flipProbability());
        MultiViewSampler.Builder b = MultiViewSampler.builder(ClipSampler.random(v.frames(), v.frameStride()), tr)
                .addView(spec(plan.model()));
        for (RunPlan.Member t : plan.teachers()) {
            b.addView(spec(t));
        }
        return b.build();
    }

    /**
     * Test views: {@code clips} evenly spaced windows of the model's view x 1 centre or 3 crops, short side scaled to
     * its test short side (as {@link org.dualdistill.inference.VideoClassifier} does).
     *
     * @param plan          the plan
     * @param clips         windows per video (>= 1)
     * @param crops         1 or 3
     * @param withTeachers  also render each teacher's view (to score the teachers on the same clips)
     * @return the sampler
     */
    public static MultiViewSampler testSampler(RunPlan plan, int clips, int crops, boolean withTeachers) {
        ModelView v = plan.model().view();
        VideoTransform tr = crops == 3 ? VideoTransform.threeCrop(v.testShortSide()) : VideoTransform.center(v.testShortSide());
        MultiViewSampler.Builder b = MultiViewSampler.builder(ClipSampler.uniform(v.frames(), v.frameStride(), clips, crops), tr)
                .addView(spec(plan.model()));
        if (withTeachers) {
            for (RunPlan.Member t : plan.teachers()) {
                b.addView(spec(t));
            }
        }
        return b.build();
    }

    /**
     * @param v     a model's view
     * @param clips windows per video (>= 1)
     * @param crops 1 or 3
     * @return test views of that one model, named {@code student}
     */
    public static MultiViewSampler testSampler(ModelView v, int clips, int crops) {
        VideoTransform tr = crops == 3 ? VideoTransform.threeCrop(v.testShortSide()) : VideoTransform.center(v.testShortSide());
        return MultiViewSampler.builder(ClipSampler.uniform(v.frames(), v.frameStride(), clips, crops), tr)
                .addView(new ViewSpec("student", v.frames(), v.crop(), v.crop(), v.meanArray(), v.stdArray())).build();
    }

    private static ViewSpec spec(RunPlan.Member m) {
        ModelView v = m.view();
        return new ViewSpec(m.viewName(), v.frames(), v.crop(), v.crop(), v.meanArray(), v.stdArray());
    }

    /**
     * @param dropLast drop a last partial batch (when the dataset has more than one batch), so every step has the
     *                 full batch (RKD needs at least 2 clips)
     * @return the shuffled training loader of {@code ds} (shard {@code rank} of {@code world}); caller must close
     */
    public static DataLoader trainLoader(RunPlan plan, VideoDataset ds, MultiViewSampler views, int rank, int world,
                                         boolean dropLast) {
        return trainLoader(plan, ds, views, rank, world, dropLast, null);
    }

    /**
     * As {@link #trainLoader(RunPlan, VideoDataset, MultiViewSampler, int, int, boolean)}, also writing every unusable
     * video and its reason to {@code skipList} (the run folder's list file; null = none).
     *
     * @return the loader; caller must close
     */
    public static DataLoader trainLoader(RunPlan plan, VideoDataset ds, MultiViewSampler views, int rank, int world,
                                         boolean dropLast, Path skipList) {
        TrainConfig.Data d = plan.config().data();
        return DataLoader.builder(ds, views).optBatchSize(d.batchSize()).optWorkers(d.workers())
                .optDropLast(dropLast && ds.size() > d.batchSize()).optMaxSkippedFraction(d.maxSkippedFraction())
                .optSkipList(skipList).optSeed(plan.config().run().seed()).optShard(rank, world)
                .optPinMemory(plan.device().startsWith("cuda")).build();
    }

    /** @return the deterministic, unshuffled test loader (shard {@code rank} of {@code world}); caller must close */
    public static DataLoader testLoader(RunPlan plan, VideoDataset ds, MultiViewSampler views, int rank, int world) {
        TrainConfig.Data d = plan.config().data();
        return DataLoader.builder(ds, views).optBatchSize(d.batchSize()).optWorkers(d.workers()).optShuffle(false)
                .optSeed(plan.config().run().seed()).optShard(rank, world).optShardPadding(false)
                .optMaxSkippedFraction(d.maxSkippedFraction()).optPinMemory(plan.device().startsWith("cuda")).build();
    }

    // ---------------------------------------------------------------- models

    /**
     * Builds a member's architecture (randomly initialized from LibTorch's generator: seed it first) on a device.
     *
     * @return the model; caller must close
     */
    public static VideoModel build(RunPlan plan, RunPlan.Member m, Device device) {
        VideoModel model = m.preset().build(plan.numClasses(), m.view());
        if (device != null && !device.is_cpu()) {
            model.module().to(device, false);
        }
        return model;
    }

    /**
     * The frozen teachers of a plan, loaded strictly from their files (already checked by {@link #plan}) or randomly
     * initialized where the plan has no file.
     *
     * @param plan   the plan
     * @param device where they run
     * @param log    one line per teacher, or null
     * @return the teachers; closing the set closes their models
     * @throws RecipeException naming the file when its weights do not load
     */
    public static TeacherSet teachers(RunPlan plan, Device device, java.io.PrintStream log) throws RecipeException {
        TeacherSet set = new TeacherSet();
        try {
            for (RunPlan.Member t : plan.teachers()) {
                VideoModel m = t.preset().build(plan.numClasses(), t.view());
                set.add(m);
                if (t.weights() != null) {
                    try {
                        SafeTensors.loadInto(m.module(), t.weights(), SafeTensors.Mode.STRICT, null);
                    } catch (IOException | RuntimeException e) {
                        throw new RecipeException(t.weights() + ": cannot load the " + t.role() + " teacher "
                                + t.preset().name() + " (strict): " + e.getMessage(), e);
                    }
                }
                if (device != null && !device.is_cpu()) {
                    m.module().to(device, false);
                }
                set.teachers.add(Teacher.of(t.role() + ": " + t.preset().name(), m, t.viewName(), null));
                if (log != null) {
                    log.println("teacher " + t.role() + ": " + t.preset().name() + " at " + t.view().summary() + ", "
                            + (t.weights() == null ? "UNTRAINED (random weights)" : "weights " + t.weights()));
                }
            }
            return set;
        } catch (RecipeException | RuntimeException e) {
            set.close();
            throw e;
        }
    }

    /** Frozen teachers and the models they own; closes the models. Not thread-safe. */
    public static final class TeacherSet implements AutoCloseable {
        private final List<VideoModel> models = new ArrayList<>();
        private final List<Teacher> teachers = new ArrayList<>();

        private void add(VideoModel m) {
            models.add(m);
        }

        /** @return the teachers, in plan order */
        public List<Teacher> list() {
            return List.copyOf(teachers);
        }

        /** @return the teacher whose view is {@code role}, or null */
        public Teacher get(String role) {
            for (Teacher t : teachers) {
                if (t.view().equals(role)) {
                    return t;
                }
            }
            return null;
        }

        @Override
        public void close() {
            for (VideoModel m : models) {
                m.close();
            }
            models.clear();
            teachers.clear();
        }
    }

    /**
     * The distillation objective of a config for a student and its teachers: channels from the models' feature taps,
     * the ViT and CNN teachers' positions from their roles.
     *
     * @param o        the objective settings
     * @param student  the student (borrowed)
     * @param view     the student's view
     * @param teachers the teachers, in the order the trainer will pass their outputs
     * @param views    the teachers' views, same order
     * @return the objective; caller must close
     */
    public static DistillationObjective objective(TrainConfig.Objective o, VideoModel student, ModelView view,
                                                  List<Teacher> teachers, List<ModelView> views) {
        DistillationObjective.Builder b = DistillationObjective.builder()
                .studentChannels(ModelZoo.featureChannels(student, view))
                .alphaCe(o.alphaCe()).alphaKd(o.alphaKd()).sddWeight(o.sddWeight()).rkdWeight(o.rkdWeight())
                .hintWeight(o.hintWeight()).rkdDistanceWeight(o.rkdDistanceWeight()).rkdAngleWeight(o.rkdAngleWeight());
        for (int i = 0; i < teachers.size(); i++) {
            Teacher t = teachers.get(i);
            long c = ModelZoo.featureChannels(t.model(), views.get(i));
            if (t.view().equals("vit")) {
                b.vitTeacher(i).vitChannels(c);
            } else if (t.view().equals("cnn")) {
                b.cnnTeacher(i).cnnChannels(c);
            }
        }
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

    /** @return the plan's objective for its student and teacher set; caller must close */
    public static DistillationObjective objective(RunPlan plan, VideoModel student, TeacherSet teachers) {
        List<ModelView> views = new ArrayList<>();
        for (RunPlan.Member m : plan.teachers()) {
            views.add(m.view());
        }
        return objective(plan.config().objective(), student, plan.model().view(), teachers.list(), views);
    }

    /** @return every module a run trains: the model, then the objective's trainable modules (SDB, hint) */
    public static List<Module> trainableModules(VideoModel model, DistillationObjective objective, Device device) {
        List<Module> mods = new ArrayList<>();
        mods.add(model.module());
        if (objective != null) {
            for (Module m : objective.trainableModules()) {
                if (device != null && !device.is_cpu()) {
                    m.to(device, false);
                }
                mods.add(m);
            }
        }
        return mods;
    }

    /** @return the config's optimizer over {@code modules} (on their device); caller must close */
    public static TrainingOptimizer optimizer(TrainConfig cfg, List<Module> modules) {
        return Optimizers.create(cfg.optimizer(), modules);
    }

    /** @return the config's schedule for a loader of {@code stepsPerEpoch} batches */
    public static CosineSchedule schedule(TrainConfig cfg, long stepsPerEpoch) {
        return CosineSchedule.of(cfg.optimizer(), cfg.schedule(), stepsPerEpoch);
    }

    /**
     * A trainer builder with everything the config decides: the model's view, gradient clipping, label smoothing,
     * progress cadence, device and precision (autocast), the step limit, the teachers and objective, and the
     * resolved config to save with each checkpoint.
     *
     * @param plan      the plan
     * @param model     the model being trained (borrowed)
     * @param objective the objective, or null for cross-entropy
     * @param teachers  the teachers (with an objective)
     * @param opt       the optimizer (borrowed)
     * @param schedule  the schedule
     * @param loader    the training loader (borrowed)
     * @param device    the device the models live on
     * @return the builder; add metrics, checkpoints, a cache or a gradient sync, then build
     */
    public static Trainer.Builder trainer(RunPlan plan, VideoModel model, DistillationObjective objective,
                                          List<Teacher> teachers, TrainingOptimizer opt, CosineSchedule schedule,
                                          DataLoader loader, Device device) {
        TrainConfig c = plan.config();
        Trainer.Builder tb = Trainer.builder(model, opt, schedule, loader).studentView("student")
                .clipGradNorm(c.optimizer().clipGradNorm()).labelSmoothing(c.objective().labelSmoothing())
                .progress(c.run().logEvery(), System.err).configJson(c.toJson()).maxSteps(c.run().maxSteps())
                .onNonFinite(c.run().onNonFinite(), c.run().maxNonFiniteSkips());
        if (device != null && !device.is_cpu()) {
            tb.device(device);
        }
        org.bytedeco.pytorch.global.torch.ScalarType dt = Devices.autocastDtype(plan.device(), c.run().precision());
        if (dt != null) {
            tb.autocast(plan.device().startsWith("cuda") ? org.bytedeco.pytorch.global.torch.DeviceType.CUDA
                    : org.bytedeco.pytorch.global.torch.DeviceType.CPU, dt);
        }
        if (objective != null) {
            tb.distill(objective, teachers);
        }
        return tb;
    }

    // ---------------------------------------------------------------- checkpoints and exports

    /**
     * @param dir a checkpoint folder, or a run's checkpoint root
     * @return {@code dir} when it is a checkpoint, else its most recent {@code epoch-*} or {@code step-*} checkpoint
     *         (by the time its manifest was written), else null
     * @throws RecipeException when the folder cannot be listed
     */
    public static Path latestCheckpoint(Path dir) throws RecipeException {
        if (Files.exists(dir.resolve(Checkpoint.MANIFEST))) {
            return dir;
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().matches("(epoch|step)-\\d+"))
                    .filter(p -> Files.exists(p.resolve(Checkpoint.MANIFEST)))
                    .max(Comparator.comparing((Path p) -> mtime(p.resolve(Checkpoint.MANIFEST))).thenComparing(p -> p))
                    .orElse(null);
        } catch (IOException e) {
            throw new RecipeException(dir + ": cannot list: " + e.getMessage(), e);
        }
    }

    private static long mtime(Path p) {
        try {
            return Files.getLastModifiedTime(p).toMillis();
        } catch (IOException e) {
            return Long.MIN_VALUE;
        }
    }

    /**
     * A trained model read back for evaluation or export; owns the model.
     *
     * @param model      the model, eval mode, on its device
     * @param plan       the run's plan (from the checkpoint's config), or null for an export
     * @param view       its input view
     * @param classNames class names when known (exports), else null
     * @param source     the checkpoint or export folder actually read
     * @param kind       {@code checkpoint} or {@code export}
     */
    public record Loaded(VideoModel model, RunPlan plan, ModelView view, List<String> classNames, Path source, String kind)
            implements AutoCloseable {
        @Override
        public void close() {
            model.close();
        }
    }

    /**
     * Loads the model of a checkpoint folder (one with a manifest, or a folder of checkpoints: the most recent) or
     * of an export folder (one with {@code model.json}), rebuilt from the config saved with it.
     *
     * @param dir    the folder ({@code --model})
     * @param device where to put it (null = CPU)
     * @return the model; caller must close
     * @throws RecipeException naming the folder or file and the reason
     */
    public static Loaded load(Path dir, Device device) throws RecipeException {
        if (dir == null || !Files.exists(dir)) {
            throw new RecipeException("model folder not found: " + (dir == null ? "(none)" : dir.toAbsolutePath()));
        }
        if (!Files.isDirectory(dir)) {
            throw new RecipeException(dir + ": not a folder (expected a checkpoint or an export folder)");
        }
        if (Files.exists(dir.resolve(StudentExport.CARD))) {
            try {
                ExportedStudent e = StudentExport.load(dir);
                ModelCard c = e.card();
                ModelCard.Input in = c.input();
                ModelView v = new ModelView(in.clipLength(), in.frameStride(), in.crop(), in.shortSide(), in.shortSide(),
                        in.shortSide(), doubles(c.mean()), doubles(c.std()));
                if (device != null && !device.is_cpu()) {
                    e.model().module().to(device, false);
                }
                return new Loaded(e.model(), null, v, c.classNames(), dir, "export");
            } catch (IOException | RuntimeException e) {
                throw new RecipeException(e.getMessage(), e);
            }
        }
        Path ckpt = latestCheckpoint(dir);
        if (ckpt == null) {
            throw new RecipeException(dir + ": neither a checkpoint (no " + Checkpoint.MANIFEST + ") nor an export (no "
                    + StudentExport.CARD + ")");
        }
        RunPlan plan;
        try {
            String json = Checkpoint.configJson(ckpt); // verifies every file against the manifest first
            if (json == null) {
                throw new RecipeException(ckpt + ": checkpoint has no config.json, so its model cannot be rebuilt");
            }
            TrainConfig saved = TrainConfig.parse(TrainConfig.embeddedDemo(), json, TrainConfig.Format.JSON, List.of());
            if (device == null || device.is_cpu()) {
                saved = saved.withOverrides(List.of("run.device=cpu"));
            }
            plan = planSaved(saved);
        } catch (IOException | IllegalArgumentException e) {
            throw new RecipeException(ckpt + ": " + e.getMessage(), e);
        }
        VideoModel model = plan.model().preset().build(plan.numClasses(), plan.model().view());
        try {
            Checkpoint.load(ckpt, model.module(), null, null);
            if (device != null && !device.is_cpu()) {
                model.module().to(device, false);
            }
            model.module().eval();
        } catch (IOException | RuntimeException e) {
            model.close();
            throw new RecipeException(e.getMessage(), e);
        }
        return new Loaded(model, plan, plan.model().view(), null, ckpt, "checkpoint");
    }

    private static List<Double> doubles(float[] f) {
        List<Double> out = new ArrayList<>();
        for (float x : f) {
            out.add((double) x);
        }
        return out;
    }

    /**
     * Writes an export of an X3D model with its card (class names, view, metrics) and the run's config
     * ({@code config.json}) next to it.
     *
     * @param dir        export folder
     * @param model      the trained model (borrowed); must be an X3D; moved to the CPU when it is on a GPU
     * @param view       its input view
     * @param classNames class names in label order
     * @param metrics    metric name to value, for the card
     * @param configJson the run's resolved config, or null
     * @return the card written
     * @throws RecipeException when the model is not an X3D or the folder cannot be written
     */
    public static ModelCard export(Path dir, VideoModel model, ModelView view, List<String> classNames,
                                   java.util.Map<String, Double> metrics, String configJson) throws RecipeException {
        if (!(model instanceof X3d x)) {
            throw new RecipeException("export: only X3D students can be exported (model.safetensors + model.json), got "
                    + model.getClass().getSimpleName());
        }
        if (x.module().parameters().get(0).is_cuda()) { // weights are written from host memory
            try (Device cpu = new Device("cpu")) {
                x.module().to(cpu, false);
            }
        }
        ModelCard.Builder card = ModelCard.builder(x.config(), classNames)
                .optInput(view.frames(), view.frameStride(), view.crop(), view.testShortSide())
                .optNormalization(view.meanArray(), view.stdArray());
        metrics.forEach(card::addMetric);
        try {
            ModelCard written = StudentExport.write(dir, x, card.build());
            if (configJson != null) {
                Files.writeString(dir.resolve("config.json"), configJson);
            }
            return written;
        } catch (IOException | RuntimeException e) {
            throw new RecipeException("cannot write the export " + dir + ": " + e.getMessage(), e);
        }
    }
}
