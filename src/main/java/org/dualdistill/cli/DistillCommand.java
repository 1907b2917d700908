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
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.data.DataLoader;
import org.dualdistill.data.Hmdb51Dataset;
import org.dualdistill.data.UnusableDataException;
import org.dualdistill.distill.DistillationObjective;
import org.dualdistill.distributed.DataParallel;
import org.dualdistill.distributed.DistributedConfig;
import org.dualdistill.distributed.DistributedContext;
import org.dualdistill.export.ModelCard;
import org.dualdistill.model.VideoModel;
import org.dualdistill.recipe.Devices;
import org.dualdistill.recipe.Recipe;
import org.dualdistill.recipe.RecipeException;
import org.dualdistill.recipe.RunPlan;
import org.dualdistill.train.CosineSchedule;
import org.dualdistill.train.EvalResult;
import org.dualdistill.train.Evaluator;
import org.dualdistill.train.TrainConfig;
import org.dualdistill.train.NonFiniteException;
import org.dualdistill.train.RunFolder;
import org.dualdistill.train.Trainer;
import org.dualdistill.train.TrainingOptimizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Distills the config's student ({@code model.arch}) from its ViT and CNN teachers ({@code teachers[]}: role, arch,
 * weights, view) by DATW + SDD + RKD on an HMDB51-layout folder, each model at its own view (default: its registry
 * preset's), on {@code run.device}; then evaluates it on the test split (one centred clip per video, as
 * {@code evaluate} and {@code VideoClassifier} do) and, with {@code --export}, writes an export. Everything comes from
 * the config through the recipe layer ({@link Recipe}); the checkpoint's {@code config.json} is the resolved run
 * (explicit views, classes and device), so a resume, {@code evaluate} or {@code export} rebuilds the same models.
 *
 * <p>Teachers are required: a teacher without a weights file stops the run unless {@code --allow-untrained-teachers};
 * a file whose arch, classes or view does not fit is refused by name before anything is trained. {@code --dry-run}
 * prints the resolved plan as JSON and trains nothing.
 *
 * <p>Data-parallel: with {@code WORLD_SIZE} in the environment (e.g. under {@code dualdistill launch}) or
 * {@code --world-size}, each rank trains on its shard of the training set, gradients are averaged by c10d
 * ({@link DataParallel}), the test set is evaluated in shards and the metrics reduced; rank 0 alone prints, writes
 * metrics and checkpoints. {@code --resume} continues from a checkpoint written with any world size.
 */
@Command(name = "distill", mixinStandardHelpOptions = true,
        description = "Distill the config's student from its ViT + CNN teachers (DATW+SDD+RKD) on an HMDB51-layout folder.")
final class DistillCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Mixin
    TrainingOptions opts = new TrainingOptions();
    @Option(names = "--out", paramLabel = "DIR", description = "folder for metrics.jsonl and checkpoints/; run.outputDir (default: nothing written)")
    Path out;
    @Option(names = "--ce-only", description = "plain cross-entropy training: the config's teachers are dropped")
    boolean ceOnly;
    @Option(names = "--resume", paramLabel = "DIR", description = "continue from a checkpoint folder, or from the latest checkpoint in DIR")
    Path resume;
    @Mixin
    DistributedOptions dist = new DistributedOptions();
    @Option(names = "--vit-teacher", paramLabel = "FILE|DIR", description = "weights of the vit teacher (a train-teacher --out folder or its file); teachers.N.weights")
    Path vitTeacher;
    @Option(names = "--cnn-teacher", paramLabel = "FILE|DIR", description = "weights of the cnn teacher; teachers.N.weights")
    Path cnnTeacher;
    @Option(names = "--allow-untrained-teachers", description = "distill from randomly initialized teachers where no weights are given (smoke tests only)")
    boolean allowUntrained;
    @Option(names = "--dry-run", description = "print the resolved plan as JSON (models, params, GMACs, views, device, objective, optimizer, schedule) and exit")
    boolean dryRun;
    @Option(names = "--export", paramLabel = "DIR", description = "export the trained student here (model.safetensors + model.json + config.json)")
    Path export;

    @Override
    public Integer call() {
        if (ceOnly && (vitTeacher != null || cnnTeacher != null)) {
            return fail("--ce-only trains without teachers; drop --vit-teacher/--cnn-teacher");
        }
        DistributedConfig distConfig;
        RunPlan plan;
        Hmdb51Dataset train = null;
        Hmdb51Dataset test = null;
        try {
            distConfig = dist.resolve(System.getenv()).orElse(null);
            if (resume != null) { // passes over damaged checkpoints, with a warning naming each
                resume = RunFolder.resumeCheckpoint(resume, w -> System.err.println("distill: warning: " + w));
            }
            List<String> extra = new ArrayList<>();
            TrainingOptions.add(extra, "run.outputDir", out == null ? null : out.toString());
            // a resumed run without --config starts from the config saved with its checkpoint: the same models and views
            TrainConfig base = TrainConfig.embeddedDemo();
            if (resume != null && opts.config == null) {
                String saved = org.dualdistill.train.Checkpoint.configJson(resume);
                if (saved != null) {
                    base = TrainConfig.parse(TrainConfig.embeddedDemo(), saved, TrainConfig.Format.JSON, List.of());
                }
            }
            TrainConfig cfg = opts.config(base, extra);
            cfg = TrainingOptions.withTeacherWeights(cfg, "vit", vitTeacher, "--vit-teacher");
            cfg = TrainingOptions.withTeacherWeights(cfg, "cnn", cnnTeacher, "--cnn-teacher");
            if (ceOnly) {
                cfg = cfg.withTeachers(List.of());
            }
            if (dryRun && cfg.data().root().isEmpty()) {
                if (cfg.model().numClasses() < 1) {
                    return fail("--dry-run without --data needs model.numClasses");
                }
                plan = Recipe.plan(cfg, classNames(cfg.model().numClasses()), true);
            } else {
                train = Recipe.dataset(cfg, Hmdb51Dataset.Subset.TRAIN);
                test = Recipe.dataset(cfg, Hmdb51Dataset.Subset.TEST);
                plan = Recipe.plan(cfg, train.classNames(), allowUntrained || dryRun);
            }
        } catch (RecipeException | IllegalArgumentException | IOException e) {
            return fail(e.getMessage());
        }
        if (dryRun) {
            System.out.println(plan.toJson());
            return 0;
        }
        if (out != null) {
            try {
                RunFolder.create(out); // one line naming --out when it is a file or cannot be made
            } catch (IOException | IllegalArgumentException e) {
                return fail(e.getMessage());
            }
        }
        if (distConfig != null && plan.device().startsWith("cuda")) {
            try { // one rank per GPU: rank LOCAL_RANK of a host uses cuda:LOCAL_RANK
                plan = Recipe.plan(plan.config().withOverrides(List.of("run.device=cuda:" + distConfig.localRank())),
                        plan.classNames(), true);
            } catch (RecipeException e) {
                return fail(e.getMessage());
            }
        }
        try (DistributedContext ctx = distConfig == null ? null : DistributedContext.init(distConfig)) {
            try {
                return train(plan, train, test, ctx);
            } catch (RecipeException | NonFiniteException | UnusableDataException e) {
                return fail(e.getMessage()); // one line: the step and term that diverged, or the unusable videos
            } catch (IOException | RuntimeException e) {
                if (ctx == null) {
                    throw e;
                }
                throw ctx.failed("training step", e); // names this rank and says a peer may have died
            }
        } catch (IOException | RuntimeException e) {
            return fail("training failed: " + e.getMessage());
        }
    }

    private static List<String> classNames(long n) {
        List<String> names = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            names.add("class_" + i);
        }
        return names;
    }

    private int train(RunPlan plan, Hmdb51Dataset trainSet, Hmdb51Dataset testSet, DistributedContext ctx)
            throws IOException, RecipeException {
        int rank = ctx == null ? 0 : ctx.rank();
        int world = ctx == null ? 1 : ctx.worldSize();
        boolean main = rank == 0; // rank 0 alone prints, writes metrics and checkpoints
        TrainConfig cfg = plan.config();
        boolean distill = !plan.teachers().isEmpty();
        int epochCount = cfg.schedule().epochs();
        Path outDir = cfg.run().outputDir().isEmpty() ? null : Path.of(cfg.run().outputDir());
        RunFolder folder = outDir == null || !main ? null : RunFolder.create(outDir);
        Path metrics = folder == null ? null : folder.metrics();
        if (folder != null) {
            folder.prepareMetrics(resume); // a resumed run keeps the history up to its checkpoint's step
        }
        if (main) {
            System.err.println((distill ? "distilling " : "training (cross-entropy only) ") + plan.model().preset().name() + " at " + plan.model().view().summary() + ", "
                    + plan.numClasses() + " classes, " + trainSet.size() + " training videos, device " + plan.device());
        }
        torch.manual_seed(cfg.run().seed()); // before any model exists: every initialization is seeded
        try (Device device = Devices.device(plan.device());
             VideoModel student = Recipe.build(plan, plan.model(), device);
             Recipe.TeacherSet teachers = Recipe.teachers(plan, device, main ? System.err : null);
             DistillationObjective objective = distill ? Recipe.objective(plan, student, teachers) : null;
             DataLoader loader = Recipe.trainLoader(plan, trainSet, Recipe.trainSampler(plan, false), rank, world, false,
                     folder == null ? null : folder.unusableVideos());
             DataLoader testLoader = Recipe.testLoader(plan, testSet, Recipe.testSampler(plan, 1, 1, false), rank, world)) {
            List<Module> mods = Recipe.trainableModules(student, objective, device);
            List<Trainer.EpochStats> history;
            if (ctx != null) {
                ctx.broadcastModules(mods); // identical replicas, whatever each rank's generator did
            }
            // distillation: terms such as a zero-weighted hint leave parameters without gradient, so let the Reducer look
            try (TrainingOptimizer opt = Recipe.optimizer(cfg, mods);
                 DataParallel ddp = ctx == null ? null : ctx.dataParallel(mods, distill)) {
                CosineSchedule schedule = Recipe.schedule(cfg, loader.batchesPerEpoch());
                Trainer.Builder tb = Recipe.trainer(plan, student, objective, teachers.list(), opt, schedule, loader, device)
                        .metrics(metrics).optGradientSync(ddp);
                if (!main) {
                    tb.progress(cfg.run().logEvery(), null);
                }
                if (outDir != null && main) {
                    tb.checkpoints(outDir.resolve("checkpoints"), cfg.run().checkpointEvery());
                }
                try (Trainer trainer = tb.build()) {
                    if (resume != null) {
                        trainer.resume(resume);
                        if (main) {
                            System.err.println("resumed from " + resume.toAbsolutePath() + " at epoch " + trainer.epoch());
                        }
                    }
                    history = trainer.fit(epochCount);
                }
                if (ctx != null) {
                    ctx.broadcastBuffers(mods); // BN statistics of the last step differ per rank: evaluate rank 0's
                }
            }
            EvalResult r = Evaluator.evaluate(student, testLoader, "student", true, 0);
            String testSkips = main ? testLoader.skipSummary() : null;
            if (testSkips != null) {
                System.err.println("distill: test split: " + testSkips);
            }
            long clips = 0;
            double secs = 0;
            for (Trainer.EpochStats e : history) {
                clips += e.clips();
                secs += e.seconds();
            }
            if (ctx != null) { // job-wide: every rank's clips, the slowest rank's time, the whole test set
                r = ctx.reduce(r);
                clips = Math.round(ctx.allReduceSum(clips)[0]);
                secs = ctx.allReduceMax(secs);
            }
            if (history.isEmpty()) {
                return fail("nothing to train: the checkpoint is already at epoch " + epochCount);
            }
            double cps = clips / Math.max(secs, 1e-9);
            double first = history.get(0).meanLoss();
            double last = history.get(history.size() - 1).meanLoss();
            if (ctx != null) { // every rank's shard counts: mean of the ranks' epoch means (equal batch counts)
                double[] l = ctx.allReduceSum(first, last);
                first = l[0] / world;
                last = l[1] / world;
            }
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
            if (!main) {
                return Double.isFinite(history.get(history.size() - 1).meanLoss()) ? 0 : 1;
            }
            PrintStream o = System.out;
            o.printf(Locale.ROOT, "%-8s %6s %6s %12s %12s %7s %7s %9s%n", "mode", "epochs", "train", "loss[first]",
                    "loss[last]", "top-1", "top-5", "clips/s");
            o.printf(Locale.ROOT, "%-8s %6d %6d %12.4f %12.4f %6.1f%% %6.1f%% %9.1f%n",
                    (distill ? "distill" : "ce") + (world > 1 ? "x" + world : ""),
                    history.size(), trainSet.size(), first, last, 100 * r.top1(), 100 * r.top5(), cps);
            if (outDir != null) {
                o.println("wrote " + metrics.toAbsolutePath() + " and " + outDir.resolve("checkpoints").toAbsolutePath());
            }
            if (export != null) {
                Map<String, Double> m = new LinkedHashMap<>();
                m.put("top1", r.top1());
                m.put("top5", r.top5());
                m.put("meanClassAccuracy", r.meanClassAccuracy());
                ModelCard card = Recipe.export(export, student, plan.model().view(), trainSet.classNames(), m, cfg.toJson());
                o.println("exported the student to " + export.toAbsolutePath() + " (sha256 " + card.weightsSha256() + ")");
            }
            return Double.isFinite(last) ? 0 : 1;
        }
    }

    private static int fail(String message) {
        return Cli.fail("distill", message);
    }
}
