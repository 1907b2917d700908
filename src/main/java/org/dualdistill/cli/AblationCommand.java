package org.dualdistill.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import org.bytedeco.pytorch.Device;
import org.dualdistill.data.DataLoader;
import org.dualdistill.data.Hmdb51Dataset;
import org.dualdistill.distill.Teacher;
import org.dualdistill.distill.TeacherCache;
import org.dualdistill.model.ModelZoo;
import org.dualdistill.recipe.Devices;
import org.dualdistill.recipe.Recipe;
import org.dualdistill.recipe.RecipeException;
import org.dualdistill.recipe.RunPlan;
import org.dualdistill.train.Evaluator;
import org.dualdistill.train.TrainConfig;
import org.dualdistill.video.MultiViewSampler;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The nine student rows of {@code demo} ({@link AblationRunner}) on a user's HMDB51-layout folder with the config's
 * student and its trained teachers (from {@code train-teacher}; required): student alone, KD from each teacher,
 * uniform dual, EBKD, CA-MKD, DATW, DATW + SDD and DATW + SDD + RKD, over several seeds (each seed fixes the
 * initialization and the data order of every row); one table with 95% intervals and paired tests, and a report
 * folder with {@code results.json} ({@link BenchmarkReport}).
 *
 * <p>Training views follow the config (the student's window, scale jitter and crop, flip with
 * {@code data.flipProbability}); {@code --fixed-views} uses a random window with a fixed centre crop and no flip
 * instead, which lets the teacher-output cache (in memory, or in {@code --teacher-cache DIR}) serve the teachers after
 * the first computation of each window.
 */
@Command(name = "ablation", mixinStandardHelpOptions = true,
        description = "Run the 9 student rows (alone, KD ViT, KD CNN, uniform, EBKD, CA-MKD, DATW, +SDD, +RKD) on a dataset.")
final class AblationCommand implements Callable<Integer> {
    @Mixin
    TrainingOptions opts = new TrainingOptions();
    @Option(names = "--vit-teacher", paramLabel = "FILE|DIR", description = "weights of the vit teacher (train-teacher --out); teachers.N.weights")
    Path vitTeacher;
    @Option(names = "--cnn-teacher", paramLabel = "FILE|DIR", description = "weights of the cnn teacher; teachers.N.weights")
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
            return Cli.fail("ablation", "--seeds must be >= 1, got " + seeds);
        }
        if (cacheDir != null && !fixedViews) {
            return Cli.fail("ablation", "--teacher-cache needs --fixed-views (random crops never repeat)");
        }
        long t0 = System.nanoTime();
        try {
            TrainConfig cfg = opts.config(List.of());
            cfg = TrainingOptions.withTeacherWeights(cfg, "vit", vitTeacher, "--vit-teacher");
            cfg = TrainingOptions.withTeacherWeights(cfg, "cnn", cnnTeacher, "--cnn-teacher");
            if (cfg.teacher("vit") == null || cfg.teacher("cnn") == null) {
                return Cli.fail("ablation", "the ablation needs a vit and a cnn teacher in the config's teachers[]");
            }
            Hmdb51Dataset train = Recipe.dataset(cfg, Hmdb51Dataset.Subset.TRAIN);
            Hmdb51Dataset test = Recipe.dataset(cfg, Hmdb51Dataset.Subset.TEST);
            RunPlan plan = Recipe.plan(cfg, train.classNames(), false);
            MultiViewSampler trainViews = Recipe.trainSampler(plan, fixedViews);
            try (Device device = Devices.device(plan.device());
                 Recipe.TeacherSet ts = Recipe.teachers(plan, device, System.err);
                 TeacherCache cache = !fixedViews ? null : cacheDir != null ? TeacherCache.onDisk(cacheDir, 512L << 20)
                         : TeacherCache.inMemory(512L << 20);
                 DataLoader testLoader = Recipe.testLoader(plan, test, Recipe.testSampler(plan, 1, 1, true), 0, 1)) {
                Teacher vit = ts.get("vit");
                Teacher cnn = ts.get("cnn");
                double vitTop1 = 100 * Evaluator.evaluate(vit.model(), testLoader, "vit", true, 0).top1();
                double cnnTop1 = 100 * Evaluator.evaluate(cnn.model(), testLoader, "cnn", true, 0).top1();
                System.err.printf(Locale.ROOT, "ablation: teachers top-1 ViT %.1f%%, CNN %.1f%%%n", vitTop1, cnnTop1);
                int ep = plan.config().schedule().epochs();
                List<AblationRunner.Run> runs = new AblationRunner(plan, vit, cnn, train, trainViews, null, testLoader, cache,
                        device, "ablation", null).runAll(plan.config().run().seed(), seeds, ep);
                ModelZoo.Stats st = ModelZoo.stats(plan.model().preset(), plan.numClasses(), plan.model().view());
                RunPlan.Member vm = plan.teacher("vit");
                RunPlan.Member cm = plan.teacher("cnn");
                List<AblationRunner.TeacherRow> teachers = List.of(
                        new AblationRunner.TeacherRow("vit", vitTop1, vit.model().parameterCount(),
                                vm.preset().macs().gmacs(vit.model(), vm.view()), Map.of()),
                        new AblationRunner.TeacherRow("cnn", cnnTop1, cnn.model().parameterCount(),
                                cm.preset().macs().gmacs(cnn.model(), cm.view()), Map.of()));
                List<String> paras = List.of(cfg.data().root() + " split " + cfg.data().split() + ": " + train.size()
                        + " training and " + test.size() + " test videos; student " + plan.model().preset().name() + " ("
                        + AblationRunner.fmt("%,d", st.params()) + " parameters), teachers " + vm.preset().name() + " ("
                        + vm.weights() + ") and " + cm.preset().name() + " (" + cm.weights() + "); " + ep
                        + " student epochs per run" + (fixedViews ? ", fixed views with the teacher cache." : ".")
                        + " No validation split: the hyperparameters are the config's.");
                List<List<String>> hp = List.of(List.of("config", String.valueOf(opts.config), "as given (not tuned here)"));
                BenchmarkReport.write(runs, new BenchmarkReport.Context("dualdistill: ablation", paras, teachers, null,
                        train.classNames(), hp, plan.config().run().seed()), out, (System.nanoTime() - t0) / 1e9, System.out);
                return 0;
            }
        } catch (RecipeException e) {
            return Cli.fail("ablation", e.getMessage());
        } catch (IOException | RuntimeException e) {
            return Cli.fail("ablation", "failed: " + e.getMessage());
        }
    }
}
