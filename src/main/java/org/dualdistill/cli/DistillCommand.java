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
import org.dualdistill.data.UnusableDataException;
import org.dualdistill.distill.DistillationObjective;
import org.dualdistill.distributed.DataParallel;
import org.dualdistill.distributed.DistributedConfig;
import org.dualdistill.distributed.DistributedContext;
import org.dualdistill.export.ModelCard;
import org.dualdistill.export.StudentExport;
import org.dualdistill.model.VideoModel;
import org.dualdistill.model.x3d.X3d;
import org.dualdistill.train.CosineSchedule;
import org.dualdistill.train.EvalResult;
import org.dualdistill.train.Evaluator;
import org.dualdistill.train.NonFiniteException;
import org.dualdistill.train.Optimizers;
import org.dualdistill.train.RunFolder;
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
 *
 * <p>Data-parallel: with {@code WORLD_SIZE} in the environment (e.g. under {@code dualdistill launch}) or
 * {@code --world-size}, each rank trains on its shard of the training set, gradients are averaged by c10d
 * ({@link DataParallel}), the test set is evaluated in shards and the metrics reduced; rank 0 alone prints, writes
 * metrics and checkpoints. {@code --resume} continues from a checkpoint written with any world size.
 */
@Command(name = "distill", mixinStandardHelpOptions = true,
        description = "Distill a reduced X3D student from reduced MViT + X3D teachers (DATW+SDD+RKD) on an HMDB51-layout folder.")
final class DistillCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Mixin
    TrainingOptions opts = new TrainingOptions();
    @Option(names = "--out", paramLabel = "DIR", description = "writes metrics.jsonl and checkpoints/ here (default: nothing written)")
    Path out;
    @Option(names = "--ce-only", description = "plain cross-entropy training, no teachers")
    boolean ceOnly;
    @Option(names = "--resume", paramLabel = "DIR", description = "continue from a checkpoint folder, or from the latest epoch-NNNN in DIR")
    Path resume;
    @Mixin
    DistributedOptions dist = new DistributedOptions();
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
        DistributedConfig distConfig;
        try {
            distConfig = dist.resolve(System.getenv()).orElse(null);
            if (out != null) {
                RunFolder.create(out); // one line naming --out when it is a file or cannot be made
            }
            if (resume != null) { // passes over damaged checkpoints, with a warning naming each
                resume = RunFolder.resumeCheckpoint(resume, w -> System.err.println("distill: warning: " + w));
            }
        } catch (IllegalArgumentException | IOException e) {
            return fail(e.getMessage());
        }
        Hmdb51Dataset train;
        Hmdb51Dataset test;
        try {
            cfg = opts.config();
            train = opts.dataset(Hmdb51Dataset.Subset.TRAIN);
            test = opts.dataset(Hmdb51Dataset.Subset.TEST);
            // the checkpoint's config then describes the student exactly, so evaluate/export can rebuild it
            cfg = cfg.withOverrides(CliSupport.studentOverrides(train.numClasses()));
        } catch (CliSupport.CliException e) {
            return fail(e.getMessage());
        }
        try (DistributedContext ctx = distConfig == null ? null : DistributedContext.init(distConfig)) {
            try {
                return train(cfg, train, test, ctx);
            } catch (CliSupport.CliException | NonFiniteException | UnusableDataException e) {
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

    private int train(TrainConfig cfg, Hmdb51Dataset trainSet, Hmdb51Dataset testSet, DistributedContext ctx)
            throws IOException, CliSupport.CliException {
        int rank = ctx == null ? 0 : ctx.rank();
        int world = ctx == null ? 1 : ctx.worldSize();
        boolean main = rank == 0; // rank 0 alone prints, writes metrics and checkpoints
        TrainConfig.Data d = cfg.data();
        int t = d.clipLength();
        int crop = d.crop();
        if (crop < X3d.MIN_CROP) {
            throw new CliSupport.CliException("data.crop: must be >= " + X3d.MIN_CROP + " for the X3D student, got " + crop);
        }
        long classes = trainSet.numClasses();
        long s = cfg.run().seed();
        int epochCount = cfg.schedule().epochs();
        int workers = Math.max(1, d.workers());
        RunFolder folder = out == null || !main ? null : RunFolder.create(out);
        Path metrics = folder == null ? null : folder.metrics();
        if (folder != null) {
            folder.prepareMetrics(resume); // a resumed run keeps the history up to its checkpoint's step
        }

        MultiViewSampler.Builder views = MultiViewSampler.builder(ClipSampler.random(t, d.frameStride()),
                CliSupport.trainTransform(d)).addView(ViewSpec.of("student", t, crop));
        if (!ceOnly) {
            views.addView(ViewSpec.of("vit", 2 * t, crop)).addView(ViewSpec.of("cnn", t, crop));
        }
        MultiViewSampler testViews = CliSupport.testViews(CliSupport.Geometry.of(d), 1, 1);

        torch.manual_seed(s); // before any model exists: every initialization is seeded
        try (X3d student = CliSupport.x3d(classes, t, crop, 0.0);
             VideoModel vit = ceOnly ? null : teacher(vitTeacher, CliSupport.TeacherArch.MVIT, trainSet, t, crop);
             VideoModel cnn = ceOnly ? null : teacher(cnnTeacher, CliSupport.TeacherArch.X3D, trainSet, t, crop);
             DistillationObjective objective = ceOnly ? null : CliSupport.objective(cfg.objective(), student, vit, cnn, t, crop);
             DataLoader loader = DataLoader.builder(trainSet, views.build()).optBatchSize(d.batchSize()).optWorkers(workers)
                     .optSeed(s).optShard(rank, world).optMaxSkippedFraction(d.maxSkippedFraction())
                     .optSkipList(folder == null ? null : folder.unusableVideos()).build();
             DataLoader testLoader = DataLoader.builder(testSet, testViews).optBatchSize(d.batchSize()).optWorkers(workers)
                     .optShuffle(false).optSeed(s).optShard(rank, world).optShardPadding(false)
                     .optMaxSkippedFraction(d.maxSkippedFraction()).build()) {
            List<Module> mods = new ArrayList<>();
            mods.add(student.module());
            if (objective != null) {
                mods.addAll(objective.trainableModules());
            }
            List<Trainer.EpochStats> history;
            if (ctx != null) {
                ctx.broadcastModules(mods); // identical replicas, whatever each rank's generator did
            }
            // distillation: terms such as a zero-weighted hint leave parameters without gradient, so let the Reducer look
            try (TrainingOptimizer opt = Optimizers.create(cfg.optimizer(), mods);
                 DataParallel ddp = ctx == null ? null : ctx.dataParallel(mods, !ceOnly)) {
                CosineSchedule schedule = CosineSchedule.of(cfg.optimizer(), cfg.schedule(), loader.batchesPerEpoch());
                Trainer.Builder tb = Trainer.builder(student, opt, schedule, loader).studentView("student")
                        .clipGradNorm(cfg.optimizer().clipGradNorm()).labelSmoothing(cfg.objective().labelSmoothing()).metrics(metrics)
                        .progress(cfg.run().logEvery(), main ? System.err : null).configJson(cfg.toJson())
                        .optGradientSync(ddp).onNonFinite(cfg.run().onNonFinite(), cfg.run().maxNonFiniteSkips());
                if (out != null && main) {
                    tb.checkpoints(out.resolve("checkpoints"), cfg.run().checkpointEvery());
                }
                if (!ceOnly) {
                    tb.distill(objective, List.of(vit, cnn), List.of("vit", "cnn"));
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
                    (ceOnly ? "ce" : "distill") + (world > 1 ? "x" + world : ""),
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

    private static int fail(String message) {
        return CliSupport.fail("distill", message);
    }
}
