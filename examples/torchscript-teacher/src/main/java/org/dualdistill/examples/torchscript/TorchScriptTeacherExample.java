package org.dualdistill.examples.torchscript;

import java.nio.file.Path;
import java.util.List;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.data.DataLoader;
import org.dualdistill.data.Hmdb51Dataset;
import org.dualdistill.data.synthetic.SyntheticActionDataset;
import org.dualdistill.data.synthetic.SyntheticConfig;
import org.dualdistill.distill.DistillationObjective;
import org.dualdistill.model.ModelOutput;
import org.dualdistill.model.TorchScriptTeacher;
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
import org.dualdistill.video.VideoTransform;
import org.dualdistill.video.ViewSpec;

/**
 * Distilling from a teacher trained and scripted in PyTorch ({@code torch.jit.script(model).save("teacher.pt")}):
 * {@link TorchScriptTeacher} loads it (eval mode, no gradient) and a small adapter lets the {@link Trainer} use it as
 * a teacher. The objective is KD + CE only (DATW over one teacher): SDD and RKD need feature maps and embeddings of
 * two teachers, which a single scripted model may not provide.
 *
 * <p>Run: {@code ... TorchScriptTeacherExample --teacher teacher.pt --work DIR [--epochs 1] [--classes 5]
 * [--frames 4] [--size 32]}; the teacher must take {@code float32 [B, 3, frames, size, size]} clips normalized with
 * mean 0.45 / std 0.225 and return {@code classes} logits (a tensor, a tuple starting with the logits, or a dict with
 * "logits").
 */
public final class TorchScriptTeacherExample {
    private TorchScriptTeacherExample() {
    }

    /**
     * What the run produced.
     *
     * @param teacherClasses the scripted teacher's number of outputs
     * @param epochs         per-epoch training statistics
     * @param eval           the student's test-split metrics
     */
    public record Result(long teacherClasses, List<Trainer.EpochStats> epochs, EvalResult eval) {
    }

    /**
     * A scripted module as a {@link VideoModel} for the trainer: forward is the script's; {@link #module()} is an empty
     * placeholder (the script's parameters are not a LibTorch {@code Module}, and the trainer only switches teachers to
     * eval mode, which {@link TorchScriptTeacher#load} already did).
     */
    static final class ScriptedTeacher implements VideoModel {
        private final TorchScriptTeacher script;
        private final Module placeholder = new Module();
        private final long classes;

        ScriptedTeacher(TorchScriptTeacher script, int t, int size) {
            this.script = script;
            placeholder.retainReference();
            try (PointerScope scope = new PointerScope()) {
                this.classes = script.forward(torch.zeros(1, 3, t, size, size)).logits().size(1);
            }
        }

        @Override
        public ModelOutput forward(Tensor clip) {
            return script.forward(clip);
        }

        @Override
        public Module module() {
            return placeholder;
        }

        @Override
        public long numClasses() {
            return classes;
        }

        @Override
        public void close() {
            placeholder.releaseReference();
        }
    }

    /**
     * @param args see the class comment
     * @throws Exception on any failure
     */
    public static void main(String[] args) throws Exception {
        Result r = runExample(args);
        System.out.printf("teacher with %d classes; student loss %.4f -> %.4f; top-1 %.1f%%%n", r.teacherClasses(),
                r.epochs().get(0).meanLoss(), r.epochs().get(r.epochs().size() - 1).meanLoss(), 100 * r.eval().top1());
    }

    /**
     * @param args {@code --teacher FILE.pt --work DIR} plus optional sizes
     * @return what was trained and measured
     * @throws Exception on any failure (a missing or unloadable teacher is an IOException naming the file)
     */
    public static Result runExample(String[] args) throws Exception {
        Path teacherFile = null;
        Path work = null;
        int epochs = 1;
        int classes = 5;
        int t = 4;
        int size = 32;
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--teacher" -> teacherFile = Path.of(args[i + 1]);
                case "--work" -> work = Path.of(args[i + 1]);
                case "--epochs" -> epochs = Integer.parseInt(args[i + 1]);
                case "--classes" -> classes = Integer.parseInt(args[i + 1]);
                case "--frames" -> t = Integer.parseInt(args[i + 1]);
                case "--size" -> size = Integer.parseInt(args[i + 1]);
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        if (teacherFile == null || work == null) {
            throw new IllegalArgumentException("--teacher FILE.pt and --work DIR are required");
        }
        Path data = work.resolve("data");
        SyntheticActionDataset.generate(data, SyntheticConfig.builder().optNumClasses(classes).optVideosPerClass(4)
                .optSize(size, size).optFrames(2 * t, 3 * t).optSeed(3).build());
        Hmdb51Dataset train = Hmdb51Dataset.builder(data).build();
        Hmdb51Dataset test = Hmdb51Dataset.builder(data).optSubset(Hmdb51Dataset.Subset.TEST).build();

        // the student and the teacher see the same clip (one view named "student", one "teacher" of the same geometry)
        MultiViewSampler views = MultiViewSampler.builder(ClipSampler.random(t, 2), VideoTransform.train(size, size + size / 8))
                .addView(ViewSpec.of("student", t, size)).addView(ViewSpec.of("teacher", t, size)).build();
        MultiViewSampler testViews = MultiViewSampler.builder(ClipSampler.uniform(t, 2, 1, 1), VideoTransform.center(size))
                .addView(ViewSpec.of("student", t, size)).build();
        TrainConfig cfg = TrainConfig.embeddedDemo().withOverrides(List.of("optimizer.lr=0.005"));

        torch.manual_seed(2);
        try (TorchScriptTeacher script = TorchScriptTeacher.load(teacherFile);
             ScriptedTeacher teacher = new ScriptedTeacher(script, t, size);
             X3d student = X3d.builder().widthFactor(0.5).depthFactor(0.5).headDimOut(64).numClasses(train.numClasses())
                     .dropout(0).clipLength(t).crop(size).build();
             DistillationObjective kd = DistillationObjective.builder().sddWeight(0).rkdWeight(0).build();
             DataLoader loader = DataLoader.builder(train, views).optBatchSize(4).optWorkers(1).optSeed(1).build();
             DataLoader testLoader = DataLoader.builder(test, testViews).optBatchSize(4).optWorkers(1).optShuffle(false).build();
             TrainingOptimizer opt = Optimizers.create(cfg.optimizer(), List.of(student.module()))) {
            if (teacher.numClasses() != train.numClasses()) {
                throw new IllegalArgumentException(teacherFile + " has " + teacher.numClasses() + " outputs but the dataset has "
                        + train.numClasses() + " classes");
            }
            CosineSchedule schedule = CosineSchedule.of(cfg.optimizer(), new TrainConfig.Schedule(epochs, 0, 0, 0), loader.batchesPerEpoch());
            List<Trainer.EpochStats> history;
            try (Trainer trainer = Trainer.builder(student, opt, schedule, loader).studentView("student")
                    .distill(kd, List.of(teacher), List.of("teacher")).build()) {
                history = trainer.fit(epochs);
            }
            EvalResult eval = Evaluator.evaluate(student, testLoader, "student", true, 0);
            return new Result(teacher.numClasses(), history, eval);
        }
    }
}
