package org.dualdistill.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.bytedeco.pytorch.global.torch;
import org.dualdistill.data.DataLoader;
import org.dualdistill.data.Hmdb51Dataset;
import org.dualdistill.model.VideoModel;
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
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Trains one teacher (the reduced MViT or the reduced X3D that {@code distill} builds) with cross-entropy on an
 * HMDB51-layout folder, evaluates it on the test split and saves it as one safetensors file whose metadata records
 * arch, classes, frames and crop, for {@code distill --vit-teacher/--cnn-teacher}. Settings resolve as in
 * {@code distill} (demo preset, {@code --config}, {@code --set}, explicit options); the MViT sees
 * {@code 2 x data.clipLength} frames, the X3D {@code data.clipLength}.
 */
@Command(name = "train-teacher", mixinStandardHelpOptions = true,
        description = "Train a reduced MViT or X3D teacher with cross-entropy and save it as safetensors for distill.")
final class TrainTeacherCommand implements Callable<Integer> {
    private static final String VIEW = "teacher";

    @Mixin
    TrainingOptions opts = new TrainingOptions();
    @Option(names = "--arch", required = true, description = "mvit (the ViT teacher) or x3d (the CNN teacher)")
    String arch;
    @Mixin PretrainedInitOptions pretrained = new PretrainedInitOptions();
    @Option(names = "--out", required = true, paramLabel = "FILE", description = "output .safetensors file")
    Path out;

    @Override
    public Integer call() {
        CliSupport.TeacherArch a = switch (arch.toLowerCase(Locale.ROOT)) {
            case "mvit", "vit" -> CliSupport.TeacherArch.MVIT;
            case "x3d", "cnn" -> CliSupport.TeacherArch.X3D;
            default -> null;
        };
        if (a == null) {
            return CliSupport.fail("train-teacher", "--arch must be mvit or x3d, got \"" + arch + "\"");
        }
        try {
            TrainConfig cfg = opts.config();
            Hmdb51Dataset train = opts.dataset(Hmdb51Dataset.Subset.TRAIN);
            Hmdb51Dataset test = opts.dataset(Hmdb51Dataset.Subset.TEST);
            return train(a, cfg, train, test);
        } catch (CliSupport.CliException | org.dualdistill.train.NonFiniteException
                 | org.dualdistill.data.UnusableDataException e) {
            return CliSupport.fail("train-teacher", e.getMessage());
        } catch (IOException | RuntimeException e) {
            return CliSupport.fail("train-teacher", "training failed: " + e.getMessage());
        }
    }

    private int train(CliSupport.TeacherArch a, TrainConfig cfg, Hmdb51Dataset trainSet, Hmdb51Dataset testSet)
            throws IOException {
        TrainConfig.Data d = cfg.data();
        int t = d.clipLength();
        int frames = a.frames(t);
        int crop = d.crop();
        long s = cfg.run().seed();
        int workers = Math.max(1, d.workers());
        MultiViewSampler views = MultiViewSampler.builder(ClipSampler.random(frames, d.frameStride()),
                CliSupport.trainTransform(d)).addView(ViewSpec.of(VIEW, frames, crop)).build();
        MultiViewSampler testViews = MultiViewSampler.builder(ClipSampler.uniform(frames, d.frameStride(), 1, 1),
                org.dualdistill.video.VideoTransform.center(crop)).addView(ViewSpec.of(VIEW, frames, crop)).build();
        torch.manual_seed(s); // before the model exists: its initialization is seeded
        try (VideoModel model = a.build(trainSet.numClasses(), t, crop);
             DataLoader loader = DataLoader.builder(trainSet, views).optBatchSize(d.batchSize()).optWorkers(workers)
                     .optSeed(s).optMaxSkippedFraction(d.maxSkippedFraction()).build();
             DataLoader testLoader = CliSupport.testLoader(testSet, testViews, d.batchSize(), workers, s)) {
            pretrained.apply(model);
            List<Trainer.EpochStats> history;
            try (TrainingOptimizer opt = Optimizers.create(cfg.optimizer(), List.of(model.module()))) {
                CosineSchedule schedule = CosineSchedule.of(cfg.optimizer(), cfg.schedule(), loader.batchesPerEpoch());
                try (Trainer trainer = Trainer.builder(model, opt, schedule, loader).studentView(VIEW)
                        .clipGradNorm(cfg.optimizer().clipGradNorm()).labelSmoothing(cfg.objective().labelSmoothing())
                        .progress(cfg.run().logEvery(), System.err)
                        .onNonFinite(cfg.run().onNonFinite(), cfg.run().maxNonFiniteSkips())
                        .configJson(cfg.toJson()).build()) {
                    System.err.printf(Locale.ROOT, "train-teacher: %s, %d classes, %d training videos, %d epochs%n",
                            a.key(), trainSet.numClasses(), trainSet.size(), cfg.schedule().epochs());
                    history = trainer.fit(cfg.schedule().epochs());
                }
            }
            EvalResult r = Evaluator.evaluate(model, testLoader, VIEW, true, 0);
            CliSupport.saveTeacher(out, model, new CliSupport.TeacherInfo(a, trainSet.numClasses(), frames, crop,
                    trainSet.classNames()));
            double last = history.get(history.size() - 1).meanLoss();
            System.out.printf(Locale.ROOT, "%-6s %6s %12s %7s %7s%n", "arch", "epochs", "loss[last]", "top-1", "top-5");
            System.out.printf(Locale.ROOT, "%-6s %6d %12.4f %6.1f%% %6.1f%%%n", a.key(), history.size(), last,
                    100 * r.top1(), 100 * r.top5());
            System.out.println("wrote " + out.toAbsolutePath());
            return Double.isFinite(last) ? 0 : 1;
        }
    }
}
