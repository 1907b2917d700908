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
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.data.DataLoader;
import org.dualdistill.data.Hmdb51Dataset;
import org.dualdistill.distill.DistillationObjective;
import org.dualdistill.model.VideoModel;
import org.dualdistill.model.mvit.MViT;
import org.dualdistill.model.mvit.MViTConfig;
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
import org.dualdistill.video.VideoTransform;
import org.dualdistill.video.ViewSpec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Trains a reduced X3D student on an HMDB51-layout folder (e.g. one written by {@code generate}) by DATW + SDD + RKD
 * distillation from two freshly initialized reduced teachers (a small MViT and a small X3D), or with
 * {@code --ce-only} by plain cross-entropy, then evaluates it on the test split of split 1.
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

    @Override
    public Integer call() {
        if (!Files.isDirectory(data)) {
            return fail("--data folder not found: " + data.toAbsolutePath());
        }
        if (config != null && !Files.isRegularFile(config)) {
            return fail("--config file not found: " + config.toAbsolutePath());
        }
        TrainConfig cfg;
        try {
            cfg = resolveConfig();
        } catch (IllegalArgumentException | IOException e) {
            return fail(e.getMessage());
        }
        Hmdb51Dataset train;
        Hmdb51Dataset test;
        try {
            train = Hmdb51Dataset.builder(data).optSplit(split).build();
            test = Hmdb51Dataset.builder(data).optSplit(split).optSubset(Hmdb51Dataset.Subset.TEST).build();
        } catch (IOException | RuntimeException e) {
            return fail("cannot read the dataset in " + data.toAbsolutePath() + ": " + e.getMessage());
        }
        if (train.size() == 0 || test.size() == 0) {
            return fail(data.toAbsolutePath() + ": split " + split + " has " + train.size() + " training and "
                    + test.size() + " test videos; need at least one of each");
        }
        try {
            return train(cfg, train, test);
        } catch (IOException | RuntimeException e) {
            return fail("training failed: " + e.getMessage());
        }
    }

    private TrainConfig resolveConfig() throws IOException {
        List<String> overrides = new ArrayList<>(sets);
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
        if (config == null) {
            return base.withOverrides(overrides);
        }
        return TrainConfig.load(base, config, overrides); // messages name the file, then the key path
    }

    private int train(TrainConfig cfg, Hmdb51Dataset trainSet, Hmdb51Dataset testSet) throws IOException {
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
                VideoTransform.of(crop, Math.round(crop * 1.15f), VideoTransform.Crop.RANDOM, d.flipProbability())).addView(ViewSpec.of("student", t, crop));
        if (!ceOnly) {
            views.addView(ViewSpec.of("vit", 2 * t, crop)).addView(ViewSpec.of("cnn", t, crop));
        }
        MultiViewSampler testViews = MultiViewSampler.builder(ClipSampler.constantPerVideo(t, d.frameStride(), 1, 1),
                VideoTransform.center(crop)).addView(ViewSpec.of("student", t, crop)).build();

        torch.manual_seed(s); // before any model exists: every initialization is seeded
        try (X3d student = x3d(classes, t, crop, 0.0);
             MViT vit = ceOnly ? null : new MViT(MViTConfig.builder().depth(2).embedDim(16).numHeads(1).stageStarts(1)
                     .numFrames(2 * t).cropSize(crop).numClasses(classes).dropPathRate(0).build());
             X3d cnn = ceOnly ? null : x3d(classes, t, crop, 0.5);
             DistillationObjective objective = ceOnly ? null : objective(cfg.objective(), student, vit, cnn, t, crop);
             DataLoader loader = DataLoader.builder(trainSet, views.build()).optBatchSize(d.batchSize()).optWorkers(workers)
                     .optSeed(s).build();
             DataLoader testLoader = DataLoader.builder(testSet, testViews).optBatchSize(d.batchSize()).optWorkers(workers)
                     .optShuffle(false).optSeed(s).build()) {
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
            return Double.isFinite(last) ? 0 : 1;
        }
    }

    static X3d x3d(long classes, int t, int crop, double dropout) {
        return X3d.builder().widthFactor(0.5).depthFactor(0.5).headDimOut(64).numClasses(classes).dropout(dropout)
                .clipLength(t).crop(crop).build();
    }

    static DistillationObjective objective(TrainConfig.Objective o, X3d student, MViT vit, X3d cnn, int t, int crop) {
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

    private static int fail(String message) {
        System.err.println("distill: " + message);
        return 2;
    }
}
