package org.dualdistill.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.data.DataLoader;
import org.dualdistill.data.Hmdb51Dataset;
import org.dualdistill.distill.DistillationObjective;
import org.dualdistill.export.ModelCard;
import org.dualdistill.export.StudentExport;
import org.dualdistill.model.VideoModel;
import org.dualdistill.model.x3d.X3d;
import org.dualdistill.train.CosineSchedule;
import org.dualdistill.train.EvalResult;
import org.dualdistill.train.Evaluator;
import org.dualdistill.train.Optimizers;
import org.dualdistill.train.TrainConfig;
import org.dualdistill.train.Trainer;
import org.dualdistill.train.TrainingOptimizer;
import org.dualdistill.video.ClipSampler;
import org.dualdistill.video.MultiViewSampler;
import org.dualdistill.video.ViewSpec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Trains a reduced X3D student on an HMDB51-layout folder (e.g. one written by {@code generate}) by DATW + SDD + RKD
 * distillation from two reduced teachers (a small MViT and a small X3D), freshly initialized or loaded from
 * {@code train-teacher} files ({@code --vit-teacher/--cnn-teacher}, checked against the run and loaded strictly), or
 * with {@code --ce-only} by plain cross-entropy, then evaluates it on the test split (one centred clip per video, as
 * {@code evaluate} and {@code VideoClassifier} do) and, with {@code --export}, writes a {@code StudentExport} folder.
 * The checkpoint's config records the student's real architecture (classes, width, depth, head), so
 * {@code evaluate} and {@code export} can rebuild it.
 *
 * <p>Settings come from the embedded demo preset ({@link TrainConfig#embeddedDemo()}), then {@code --config FILE.json|FILE.yaml}
 * (any subset of its tree), then {@code --set key.path=value} overrides, then the explicit options
 * {@code --epochs/--batch/--lr/--seed}. What is used from the tree: {@code schedule.*}, {@code optimizer.*},
 * {@code data.clipLength/frameStride/crop/batchSize/workers}, {@code objective.*} weights, {@code run.seed/logEvery/
 * checkpointEvery}; the architectures are fixed to the reduced ones.
 */
@Command(name = "distill", mixinStandardHelpOptions = true,
        description = "Distill a reduced X3D student from reduced MViT + X3D teachers (DATW+SDD+RKD) on an HMDB51-layout folder.")
final class DistillCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Option(names = "--data", required = true, paramLabel = "DIR", description = "HMDB51-layout folder (class folders + splits/)")
    Path data;
    @Option(names = "--epochs", description = "epochs (default: schedule.epochs of the config)")
    Integer epochs;
    @Option(names = "--batch", description = "clips per step (default: data.batchSize of the config)")
    Integer batch;
    @Option(names = "--lr", description = "peak learning rate (default: optimizer.lr of the config)")
    Double lr;
    @Option(names = "--seed", description = "master seed for LibTorch and the samplers (default: run.seed of the config)")
    Long seed;
    @Option(names = "--out", paramLabel = "DIR", description = "writes metrics.jsonl and checkpoints/ here (default: nothing written)")
    Path out;
    @Option(names = "--config", paramLabel = "FILE.json|FILE.yaml", description = "JSON or YAML config applied onto the embedded demo preset")
    Path config;
    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "config override, repeatable (e.g. optimizer.lr=0.01)")
    List<String> sets = new ArrayList<>();
    @Option(names = "--ce-only", description = "plain cross-entropy training, no teachers")
    boolean ceOnly;
    @Option(names = "--split", description = "HMDB51 split number (default ${DEFAULT-VALUE})")
    int split = 1;
    @Option(names = "--vit-teacher", paramLabel = "FILE", description = "ViT teacher from train-teacher --arch mvit (default: freshly initialized)")
    Path vitTeacher;
    @Option(names = "--cnn-teacher", paramLabel = "FILE", description = "CNN teacher from train-teacher --arch x3d (default: freshly initialized)")
    Path cnnTeacher;
    @Option(names = "--export", paramLabel = "DIR", description = "export the trained student here (model.safetensors + model.json)")
    Path export;

    @Override
    public Integer call() {
        if (ceOnly && (vitTeacher != null || cnnTeacher != null)) {
            return fail("--ce-only trains without teachers; drop --vit-teacher/--cnn-teacher");
        }
        TrainConfig cfg;
        Hmdb51Dataset train;
        Hmdb51Dataset test;
        try {
            cfg = CliSupport.resolveConfig(config, sets, epochs, batch, lr, seed);
            train = CliSupport.dataset(data, split, Hmdb51Dataset.Subset.TRAIN);
            test = CliSupport.dataset(data, split, Hmdb51Dataset.Subset.TEST);
            // the checkpoint's config then describes the student exactly, so evaluate/export can rebuild it
            cfg = cfg.withOverrides(CliSupport.studentOverrides(train.numClasses()));
        } catch (CliSupport.CliException e) {
            return fail(e.getMessage());
        }
        try {
            return train(cfg, train, test);
        } catch (CliSupport.CliException e) {
            return fail(e.getMessage());
        } catch (IOException | RuntimeException e) {
            return fail("training failed: " + e.getMessage());
        }
    }

    private int train(TrainConfig cfg, Hmdb51Dataset trainSet, Hmdb51Dataset testSet) throws IOException, CliSupport.CliException {
        TrainConfig.Data d = cfg.data();
        int t = d.clipLength();
        int crop = d.crop();
        long classes = trainSet.numClasses();
        long s = cfg.run().seed();
        int epochCount = cfg.schedule().epochs();
        int workers = Math.max(1, d.workers());
        Path metrics = out == null ? null : out.resolve("metrics.jsonl");
        if (out != null) {
            Files.createDirectories(out);
            Files.deleteIfExists(metrics);
        }

        MultiViewSampler.Builder views = MultiViewSampler.builder(ClipSampler.random(t, d.frameStride()),
                CliSupport.trainTransform(d)).addView(ViewSpec.of("student", t, crop));
        if (!ceOnly) {
            views.addView(ViewSpec.of("vit", 2 * t, crop)).addView(ViewSpec.of("cnn", t, crop));
        }
        MultiViewSampler testViews = CliSupport.testViews(CliSupport.Geometry.of(d), 1, 1);

        torch.manual_seed(s); // before any model exists: every initialization is seeded
        try (X3d student = x3d(classes, t, crop, 0.0);
             VideoModel vit = ceOnly ? null : teacher(vitTeacher, CliSupport.TeacherArch.MVIT, trainSet, t, crop);
             VideoModel cnn = ceOnly ? null : teacher(cnnTeacher, CliSupport.TeacherArch.X3D, trainSet, t, crop);
             DistillationObjective objective = ceOnly ? null : objective(cfg.objective(), student, vit, cnn, t, crop);
             DataLoader loader = DataLoader.builder(trainSet, views.build()).optBatchSize(d.batchSize()).optWorkers(workers)
                     .optSeed(s).build();
             DataLoader testLoader = CliSupport.testLoader(testSet, testViews, d.batchSize(), workers, s)) {
            List<Module> mods = new ArrayList<>();
            mods.add(student.module());
            if (objective != null) {
                mods.addAll(objective.trainableModules());
            }
            List<Trainer.EpochStats> history;
            try (TrainingOptimizer opt = Optimizers.create(cfg.optimizer(), mods)) {
                CosineSchedule schedule = CosineSchedule.of(cfg.optimizer(), cfg.schedule(), loader.batchesPerEpoch());
                Trainer.Builder tb = Trainer.builder(student, opt, schedule, loader).studentView("student")
                        .clipGradNorm(cfg.optimizer().clipGradNorm()).metrics(metrics)
                        .progress(cfg.run().logEvery(), System.err).configJson(cfg.toJson());
                if (out != null) {
                    tb.checkpoints(out.resolve("checkpoints"), cfg.run().checkpointEvery());
                }
                if (!ceOnly) {
                    tb.distill(objective, List.of(vit, cnn), List.of("vit", "cnn"));
                }
                try (Trainer trainer = tb.build()) {
                    history = trainer.fit(epochCount);
                }
            }
            EvalResult r = Evaluator.evaluate(student, testLoader, "student", true, 0);
            long clips = 0;
            double secs = 0;
            for (Trainer.EpochStats e : history) {
                clips += e.clips();
                secs += e.seconds();
            }
            double cps = clips / Math.max(secs, 1e-9);
            double first = history.get(0).meanLoss();
            double last = history.get(history.size() - 1).meanLoss();
            if (metrics != null) {
                Map<String, Object> rec = new LinkedHashMap<>();
                rec.put("type", "eval");
                rec.put("split", "test");
                rec.put("videos", r.samples());
                rec.put("top1", r.top1());
                rec.put("top5", r.top5());
                rec.put("meanClassAccuracy", r.meanClassAccuracy());
                Files.writeString(metrics, JSON.writeValueAsString(rec) + "\n", StandardCharsets.UTF_8,
                        StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            }
            PrintStream o = System.out;
            o.printf(Locale.ROOT, "%-8s %6s %6s %12s %12s %7s %7s %9s%n", "mode", "epochs", "train", "loss[first]",
                    "loss[last]", "top-1", "top-5", "clips/s");
            o.printf(Locale.ROOT, "%-8s %6d %6d %12.4f %12.4f %6.1f%% %6.1f%% %9.1f%n", ceOnly ? "ce" : "distill",
                    history.size(), trainSet.size(), first, last, 100 * r.top1(), 100 * r.top5(), cps);
            if (out != null) {
                o.println("wrote " + metrics.toAbsolutePath() + " and " + out.resolve("checkpoints").toAbsolutePath());
            }
            if (export != null) {
                ModelCard card = StudentExport.write(export, student, ModelCard.builder(student.config(), trainSet.classNames())
                        .optInput(t, d.frameStride(), crop, crop).addMetric("top1", r.top1()).addMetric("top5", r.top5())
                        .addMetric("meanClassAccuracy", r.meanClassAccuracy()).build());
                o.println("exported the student to " + export.toAbsolutePath() + " (sha256 " + card.weightsSha256() + ")");
            }
            return Double.isFinite(last) ? 0 : 1;
        }
    }

    /** @return the CLI's reduced X3D ({@link CliSupport#x3d}); caller must close */
    static X3d x3d(long classes, int t, int crop, double dropout) {
        return CliSupport.x3d(classes, t, crop, dropout);
    }

    /** A teacher from a train-teacher file (strict), or a fresh one when {@code file} is null; caller must close. */
    private static VideoModel teacher(Path file, CliSupport.TeacherArch arch, Hmdb51Dataset train, int t, int crop)
            throws CliSupport.CliException {
        if (file == null) {
            return arch.build(train.numClasses(), t, crop);
        }
        VideoModel m = CliSupport.loadTeacher(file, arch, train.classNames(), t, crop,
                arch == CliSupport.TeacherArch.MVIT ? "--vit-teacher" : "--cnn-teacher");
        System.err.println("distill: loaded the " + arch.key() + " teacher from " + file);
        return m;
    }

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
        return CliSupport.channels(m, t, crop);
    }

    private static int fail(String message) {
        return CliSupport.fail("distill", message);
    }
}
