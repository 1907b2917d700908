package org.dualdistill.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.data.DataLoader;
import org.dualdistill.data.Hmdb51Dataset;
import org.dualdistill.model.ModelZoo;
import org.dualdistill.model.VideoModel;
import org.dualdistill.recipe.Devices;
import org.dualdistill.recipe.Recipe;
import org.dualdistill.recipe.RecipeException;
import org.dualdistill.recipe.RunPlan;
import org.dualdistill.recipe.TeacherFile;
import org.dualdistill.train.CosineSchedule;
import org.dualdistill.train.EvalResult;
import org.dualdistill.train.Evaluator;
import org.dualdistill.train.TrainConfig;
import org.dualdistill.train.Trainer;
import org.dualdistill.train.TrainingOptimizer;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Fine-tunes one teacher with cross-entropy on an HMDB51-layout folder, evaluates it on the test split and writes
 * {@code --out DIR/teacher.safetensors} (whose metadata records registry arch, classes and view, so {@code distill}
 * refuses a teacher that does not fit by name) and {@code DIR/config.json} (the resolved run). Which teacher:
 * {@code --role vit|cnn} takes the config's teacher of that role (its arch and view), {@code --arch NAME} any
 * registry model at its preset view. The run is the config with {@code model} set to the teacher and no teachers of
 * its own; the model trains at its own view (its window, stride, scale jitter and crop), on {@code run.device}.
 */
@Command(name = "train-teacher", mixinStandardHelpOptions = true,
        description = "Fine-tune a teacher (registry arch or the config's vit/cnn teacher) with cross-entropy; writes DIR/teacher.safetensors.")
final class TrainTeacherCommand implements Callable<Integer> {
    @Mixin
    TrainingOptions opts = new TrainingOptions();

    static final class Which {
        @Option(names = "--role", paramLabel = "vit|cnn", description = "the config's teacher of this role (arch and view)")
        String role;
        @Option(names = "--arch", paramLabel = "NAME", description = "a registry model (see dualdistill info), at its preset view")
        String arch;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Which which;
    @Option(names = "--out", paramLabel = "DIR", description = "output folder: teacher.safetensors + config.json; run.outputDir")
    Path out;
    @Mixin
    PretrainedInitOptions pretrained = new PretrainedInitOptions();

    @Override
    public Integer call() {
        try {
            List<String> extra = new java.util.ArrayList<>();
            TrainingOptions.add(extra, "run.outputDir", out == null ? null : out.toString());
            TrainConfig cfg = opts.config(extra);
            if (cfg.run().outputDir().isEmpty()) {
                return fail("no output folder: give --out DIR (run.outputDir)");
            }
            out = Path.of(cfg.run().outputDir());
            try {
                org.dualdistill.train.RunFolder.create(out); // one line naming --out when it is a file or cannot be made
            } catch (IOException | IllegalArgumentException e) {
                return fail(e.getMessage());
            }
            TrainConfig.Model m;
            String role;
            if (which.role != null) {
                TrainConfig.Teacher t = cfg.teacher(which.role);
                if (t == null) {
                    return fail("--role " + which.role + ": the config has no teacher with that role (roles: "
                            + cfg.teachers().stream().map(TrainConfig.Teacher::role).toList() + ")");
                }
                m = new TrainConfig.Model(t.arch(), 0, t.view());
                role = which.role;
            } else {
                if (!ModelZoo.contains(which.arch)) {
                    return fail("--arch: " + invalid(which.arch));
                }
                m = new TrainConfig.Model(which.arch, 0, TrainConfig.View.PRESET);
                role = "teacher";
            }
            cfg = cfg.withModel(m).withTeachers(List.of());
            Hmdb51Dataset train = Recipe.dataset(cfg, Hmdb51Dataset.Subset.TRAIN);
            Hmdb51Dataset test = Recipe.dataset(cfg, Hmdb51Dataset.Subset.TEST);
            RunPlan plan = Recipe.plan(cfg, train.classNames(), false);
            return train(plan, role, train, test);
        } catch (RecipeException | org.dualdistill.train.NonFiniteException | org.dualdistill.data.UnusableDataException e) {
            return fail(e.getMessage());
        } catch (IOException | RuntimeException e) {
            return fail("training failed: " + e.getMessage());
        }
    }

    private static String invalid(String arch) {
        try {
            ModelZoo.get(arch);
            return "";
        } catch (IllegalArgumentException e) {
            return e.getMessage();
        }
    }

    private int train(RunPlan plan, String role, Hmdb51Dataset trainSet, Hmdb51Dataset testSet) throws IOException {
        TrainConfig cfg = plan.config();
        torch.manual_seed(cfg.run().seed()); // before the model exists: its initialization is seeded
        try (Device device = Devices.device(plan.device());
             VideoModel model = Recipe.build(plan, plan.model(), device);
             DataLoader loader = Recipe.trainLoader(plan, trainSet, Recipe.trainSampler(plan, false), 0, 1, false);
             DataLoader testLoader = Recipe.testLoader(plan, testSet, Recipe.testSampler(plan, 1, 1, false), 0, 1)) {
            pretrained.apply(model); // a zoo checkpoint (train-teacher --init), before training
            List<Trainer.EpochStats> history;
            try (TrainingOptimizer opt = Recipe.optimizer(cfg, Recipe.trainableModules(model, null, device))) {
                CosineSchedule schedule = Recipe.schedule(cfg, loader.batchesPerEpoch());
                try (Trainer trainer = Recipe.trainer(plan, model, null, List.of(), opt, schedule, loader, device)
                        .progress(cfg.run().logEvery(), null).build()) {
                    System.err.printf(Locale.ROOT, "train-teacher: %s (%s) at %s, %d classes, %d training videos, %d epochs, device %s%n",
                            plan.model().preset().name(), role, plan.model().view().summary(), plan.numClasses(),
                            trainSet.size(), cfg.schedule().epochs(), plan.device());
                    history = fitEpochs(trainer, cfg.schedule().epochs(), "train-teacher " + plan.model().preset().name());
                }
            }
            EvalResult r = Evaluator.evaluate(model, testLoader, "student", true, 0);
            if (!device.is_cpu()) {
                model.module().to(new Device("cpu"), false);
            }
            Path file = out.resolve(TeacherFile.FILE);
            TeacherFile.write(file, model, new TeacherFile.Info(file, plan.model().preset().name(), plan.numClasses(),
                    trainSet.classNames(), plan.model().view()));
            Files.writeString(out.resolve("config.json"), cfg.toJson(), StandardCharsets.UTF_8);
            double last = history.get(history.size() - 1).meanLoss();
            System.out.printf(Locale.ROOT, "%-14s %6s %12s %7s %7s%n", "arch", "epochs", "loss[last]", "top-1", "top-5");
            System.out.printf(Locale.ROOT, "%-14s %6d %12.4f %6.1f%% %6.1f%%%n", plan.model().preset().name(), history.size(),
                    last, 100 * r.top1(), 100 * r.top5());
            System.out.println("wrote " + file.toAbsolutePath());
            return Double.isFinite(last) ? 0 : 1;
        }
    }

    /**
     * Trains to {@code epochs} epochs one epoch at a time under a progress bar (rate, ETA, the epoch's loss); the
     * schedule is the trainer's, so the result is that of one {@code fit(epochs)}.
     */
    static List<Trainer.EpochStats> fitEpochs(Trainer trainer, int epochs, String label) throws IOException {
        List<Trainer.EpochStats> all = new java.util.ArrayList<>();
        try (Progress bar = Progress.of(label, epochs - trainer.epoch(), "epoch")) {
            while (trainer.epoch() < epochs) {
                List<Trainer.EpochStats> h = trainer.fit(trainer.epoch() + 1);
                if (h.isEmpty()) {
                    break;
                }
                all.addAll(h);
                Trainer.EpochStats e = h.get(h.size() - 1);
                bar.step(String.format(Locale.ROOT, "epoch %d loss %.4f (%.1f s)", e.epoch() + 1, e.meanLoss(), e.seconds()));
            }
        }
        return all;
    }

    /**
     * Trains a teacher with cross-entropy on its batch view for {@code epochs} epochs under a progress bar (the
     * demo's teachers).
     */
    static List<Trainer.EpochStats> fitWithProgress(String label, VideoModel m, String view, TrainConfig cfg,
                                                    DataLoader loader, int epochs, Device device) throws IOException {
        TrainConfig c = cfg.withOverrides(List.of("schedule.epochs=" + epochs));
        try (TrainingOptimizer opt = Recipe.optimizer(c, Recipe.trainableModules(m, null, device))) {
            CosineSchedule schedule = Recipe.schedule(c, loader.batchesPerEpoch());
            Trainer.Builder tb = Trainer.builder(m, opt, schedule, loader).studentView(view)
                    .clipGradNorm(c.optimizer().clipGradNorm()).progress(1_000_000, null)
                    .labelSmoothing(c.objective().labelSmoothing());
            if (!device.is_cpu()) {
                tb.device(device);
            }
            try (Trainer trainer = tb.build()) {
                return fitEpochs(trainer, epochs, label);
            }
        }
    }

    private static int fail(String message) {
        return Cli.fail("train-teacher", message);
    }
}
