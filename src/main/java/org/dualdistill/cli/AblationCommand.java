package org.dualdistill.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.dualdistill.data.DataLoader;
import org.dualdistill.data.Hmdb51Dataset;
import org.dualdistill.distill.TeacherCache;
import org.dualdistill.model.VideoModel;
import org.dualdistill.model.mvit.MViT;
import org.dualdistill.model.x3d.X3d;
import org.dualdistill.train.Evaluator;
import org.dualdistill.train.TrainConfig;
import org.dualdistill.video.ClipSampler;
import org.dualdistill.video.MultiViewSampler;
import org.dualdistill.video.VideoTransform;
import org.dualdistill.video.ViewSpec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The seven-way ablation of {@code demo} ({@link AblationRunner}) on a user's HMDB51-layout folder with teachers
 * trained by {@code train-teacher}: student alone, KD from each teacher, uniform dual, DATW, DATW + SDD and
 * DATW + SDD + RKD, over several seeds; one table and a report folder.
 *
 * <p>Training views follow the config ({@code data.*}, random window, scale and crop, flip with
 * {@code data.flipProbability}); {@code --fixed-views} uses a random window with a fixed centre crop and no flip
 * instead, which lets the teacher-output cache (in memory, or in {@code --teacher-cache DIR}) serve the teachers after
 * the first computation of each window.
 */
@Command(name = "ablation", mixinStandardHelpOptions = true,
        description = "Run the 7-way distillation ablation (alone, KD ViT, KD CNN, uniform, DATW, +SDD, +RKD) on a dataset.")
final class AblationCommand implements Callable<Integer> {
    @Mixin
    TrainingOptions opts = new TrainingOptions();
    @Option(names = "--vit-teacher", required = true, paramLabel = "FILE", description = "ViT teacher from train-teacher --arch mvit")
    Path vitTeacher;
    @Option(names = "--cnn-teacher", required = true, paramLabel = "FILE", description = "CNN teacher from train-teacher --arch x3d")
    Path cnnTeacher;
    @Option(names = "--out", paramLabel = "DIR", description = "report folder (default ${DEFAULT-VALUE})")
    Path out = Path.of("runs", "ablation");
    @Option(names = "--seeds", description = "student seeds per variant (default ${DEFAULT-VALUE})")
    int seeds = 1;
    @Option(names = "--fixed-views", description = "random window, fixed centre crop, no flip: teacher outputs are cached")
    boolean fixedViews;
    @Option(names = "--teacher-cache", paramLabel = "DIR", description = "keep teacher outputs in DIR across runs (with --fixed-views)")
    Path cacheDir;

    @Override
    public Integer call() {
        if (seeds < 1) {
            return CliSupport.fail("ablation", "--seeds must be >= 1, got " + seeds);
        }
        if (cacheDir != null && !fixedViews) {
            return CliSupport.fail("ablation", "--teacher-cache needs --fixed-views (random crops never repeat)");
        }
        long t0 = System.nanoTime();
        try {
            TrainConfig cfg = opts.config();
            Hmdb51Dataset train = opts.dataset(Hmdb51Dataset.Subset.TRAIN);
            Hmdb51Dataset test = opts.dataset(Hmdb51Dataset.Subset.TEST);
            TrainConfig.Data d = cfg.data();
            int t = d.clipLength();
            int crop = d.crop();
            VideoTransform tr = fixedViews ? VideoTransform.center(crop) : CliSupport.trainTransform(d);
            MultiViewSampler views = MultiViewSampler.builder(ClipSampler.random(t, d.frameStride()), tr)
                    .addView(ViewSpec.of("student", t, crop)).addView(ViewSpec.of("vit", 2 * t, crop))
                    .addView(ViewSpec.of("cnn", t, crop)).build();
            MultiViewSampler testViews = MultiViewSampler.builder(ClipSampler.uniform(t, d.frameStride(), 1, 1),
                            VideoTransform.center(crop)).addView(ViewSpec.of("student", t, crop))
                    .addView(ViewSpec.of("vit", 2 * t, crop)).addView(ViewSpec.of("cnn", t, crop)).build();
            long s = cfg.run().seed();
            int workers = Math.max(1, d.workers());
            try (VideoModel vit = CliSupport.loadTeacher(vitTeacher, CliSupport.TeacherArch.MVIT, train.classNames(), t, crop,
                         "--vit-teacher");
                 VideoModel cnn = CliSupport.loadTeacher(cnnTeacher, CliSupport.TeacherArch.X3D, train.classNames(), t, crop,
                         "--cnn-teacher");
                 TeacherCache cache = !fixedViews ? null : cacheDir != null ? TeacherCache.onDisk(cacheDir, 512L << 20)
                         : TeacherCache.inMemory(512L << 20);
                 DataLoader loader = DataLoader.builder(train, views).optBatchSize(d.batchSize()).optWorkers(workers)
                         .optDropLast(train.size() > d.batchSize()).optSeed(s).build();
                 DataLoader testLoader = CliSupport.testLoader(test, testViews, d.batchSize(), workers, s)) {
                double vitTop1 = 100 * Evaluator.evaluate(vit, testLoader, "vit", true, 0).top1();
                double cnnTop1 = 100 * Evaluator.evaluate(cnn, testLoader, "cnn", true, 0).top1();
                System.err.printf(Locale.ROOT, "ablation: teachers top-1 ViT %.1f%%, CNN %.1f%%%n", vitTop1, cnnTop1);
                long nClasses = train.numClasses();
                int ep = cfg.schedule().epochs();
                List<AblationRunner.Run> runs = new AblationRunner(cfg, vit, cnn, loader, testLoader, cache, t, crop, nClasses,
                        "ablation").runAll(s, seeds, ep);
                long params;
                double gmacs;
                try (X3d probe = CliSupport.x3d(nClasses, t, crop, 0)) {
                    params = probe.parameterCount();
                    gmacs = probe.gmacs(t, crop);
                }
                List<AblationRunner.TeacherRow> teachers = List.of(
                        new AblationRunner.TeacherRow("ViT/MViT", vit, "vit", vitTop1, vit.parameterCount(),
                                ((MViT) vit).config().gmacs()),
                        new AblationRunner.TeacherRow("CNN/X3D", cnn, "cnn", cnnTop1, cnn.parameterCount(), ((X3d) cnn).gmacs(t, crop)));
                AblationRunner.report(runs, seeds, params, gmacs, teachers, train.classNames(), out,
                        List.of(opts.data.toAbsolutePath() + " split " + opts.split + ": " + train.size() + " training and " + test.size()
                                + " test videos; teachers " + vitTeacher + " and " + cnnTeacher + "; " + ep
                                + " student epochs per run" + (fixedViews ? ", fixed views with the teacher cache." : ".")),
                        (System.nanoTime() - t0) / 1e9);
                return 0;
            }
        } catch (CliSupport.CliException e) {
            return CliSupport.fail("ablation", e.getMessage());
        } catch (IOException | RuntimeException e) {
            return CliSupport.fail("ablation", "failed: " + e.getMessage());
        }
    }
}
