package org.dualdistill.examples.distill;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.data.DataLoader;
import org.dualdistill.data.Hmdb51Dataset;
import org.dualdistill.data.synthetic.SyntheticActionDataset;
import org.dualdistill.data.synthetic.SyntheticConfig;
import org.dualdistill.distill.DistillationObjective;
import org.dualdistill.export.ModelCard;
import org.dualdistill.export.StudentExport;
import org.dualdistill.inference.Prediction;
import org.dualdistill.inference.VideoClassifier;
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

/**
 * Distillation from the library API, without the CLI: generate a synthetic action dataset, distill a reduced X3D
 * student from a ViT teacher (a small MViT) and a CNN teacher (a small X3D) with the full objective (DATW + SDD +
 * RKD), evaluate it, export it (weights + model card, no SDB or projections), and classify a test video with the
 * exported model through {@link VideoClassifier}.
 *
 * <p>The teachers here are freshly initialized to keep the example self-contained; in practice load trained ones
 * (e.g. {@code SafeTensors.loadInto(teacher.module(), file, STRICT, null)} or a TorchScript teacher, see
 * {@code examples/torchscript-teacher}).
 *
 * <p>Run: {@code ... LibraryDistillExample --work DIR [--epochs 2] [--videos-per-class 6] [--size 32] [--frames 4]}.
 */
public final class LibraryDistillExample {
    private LibraryDistillExample() {
    }

    /**
     * What the run produced.
     *
     * @param epochs     per-epoch training statistics
     * @param eval       test-split metrics of the trained student
     * @param exportDir  where the student was exported
     * @param video      the test video classified with the export
     * @param prediction its top-k predictions
     * @param trueLabel  its class name
     */
    public record Result(List<Trainer.EpochStats> epochs, EvalResult eval, Path exportDir, Path video, List<Prediction> prediction,
                         String trueLabel) {
    }

    /**
     * @param args see the class comment
     * @throws Exception on any failure
     */
    public static void main(String[] args) throws Exception {
        Result r = runExample(args);
        System.out.printf("top-1 %.1f%% on %d test videos; exported to %s%n", 100 * r.eval().top1(), r.eval().samples(), r.exportDir());
        System.out.println(r.video().getFileName() + " (" + r.trueLabel() + "): " + r.prediction());
    }

    /**
     * @param args {@code --work DIR} plus optional sizes
     * @return what was trained, measured, exported and predicted
     * @throws IOException on data, checkpoint or export failures
     */
    public static Result runExample(String[] args) throws Exception {
        Path work = null;
        int epochs = 2;
        int videosPerClass = 6;
        int size = 32;
        int t = 4;
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--work" -> work = Path.of(args[i + 1]);
                case "--epochs" -> epochs = Integer.parseInt(args[i + 1]);
                case "--videos-per-class" -> videosPerClass = Integer.parseInt(args[i + 1]);
                case "--size" -> size = Integer.parseInt(args[i + 1]);
                case "--frames" -> t = Integer.parseInt(args[i + 1]);
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        if (work == null) {
            throw new IllegalArgumentException("--work DIR is required");
        }
        int stride = 2;

        // 1. data: 4 synthetic action classes in HMDB51 layout, train and test splits
        Path data = work.resolve("data");
        SyntheticActionDataset.generate(data, SyntheticConfig.builder().optNumClasses(4).optVideosPerClass(videosPerClass)
                .optSize(size, size).optFrames(2 * t, 3 * t).optSeed(11).build());
        Hmdb51Dataset train = Hmdb51Dataset.builder(data).build();
        Hmdb51Dataset test = Hmdb51Dataset.builder(data).optSubset(Hmdb51Dataset.Subset.TEST).build();
        int classes = train.numClasses();

        // 2. views: the student's clip, and each teacher's own view of the same window and region
        MultiViewSampler trainViews = MultiViewSampler.builder(ClipSampler.random(t, stride), VideoTransform.train(size, size + size / 8))
                .addView(ViewSpec.of("student", t, size)).addView(ViewSpec.of("vit", 2 * t, size)).addView(ViewSpec.of("cnn", t, size))
                .build();
        MultiViewSampler testViews = MultiViewSampler.builder(ClipSampler.uniform(t, stride, 1, 1), VideoTransform.center(size))
                .addView(ViewSpec.of("student", t, size)).build();

        TrainConfig cfg = TrainConfig.embeddedDemo().withOverrides(List.of("optimizer.lr=0.005"));
        torch.manual_seed(1); // before any model exists: every initialization is seeded
        try (X3d student = x3d(classes, t, size, 0.0);
             MViT vit = new MViT(MViTConfig.builder().depth(2).embedDim(16).numHeads(1).stageStarts(1).numFrames(2 * t).cropSize(size)
                     .numClasses(classes).dropPathRate(0).build());
             X3d cnn = x3d(classes, t, size, 0.5);
             DistillationObjective objective = DistillationObjective.builder().studentChannels(channels(student, t, size))
                     .vitChannels(channels(vit, 2 * t, size)).cnnChannels(channels(cnn, t, size)).build();
             DataLoader loader = DataLoader.builder(train, trainViews).optBatchSize(4).optWorkers(1).optSeed(1).build();
             DataLoader testLoader = DataLoader.builder(test, testViews).optBatchSize(4).optWorkers(1).optShuffle(false).build()) {

            // 3. train: student parameters plus the objective's trainable modules (the SDB)
            List<Module> trainable = new ArrayList<>();
            trainable.add(student.module());
            trainable.addAll(objective.trainableModules());
            List<Trainer.EpochStats> history;
            try (TrainingOptimizer opt = Optimizers.create(cfg.optimizer(), trainable)) {
                CosineSchedule schedule = CosineSchedule.of(cfg.optimizer(), new TrainConfig.Schedule(epochs, 0, 0, 0),
                        loader.batchesPerEpoch());
                try (Trainer trainer = Trainer.builder(student, opt, schedule, loader).studentView("student")
                        .distill(objective, List.of(vit, cnn), List.of("vit", "cnn")).clipGradNorm(5.0).build()) {
                    history = trainer.fit(epochs);
                }
            }

            // 4. evaluate on the test split
            EvalResult eval = Evaluator.evaluate(student, testLoader, "student", true, 0);

            // 5. export: the student alone, with a card describing how to feed it
            Path export = work.resolve("export");
            StudentExport.write(export, student, ModelCard.builder(student.config(), train.classNames())
                    .optInput(t, stride, size, size).addMetric("top1", eval.top1()).addMetric("top5", eval.top5()).build());

            // 6. classify a test video with the exported model
            var video = test.videos().get(0);
            try (VideoClassifier classifier = VideoClassifier.builder(export).optTopK(3).build()) {
                List<Prediction> p = classifier.classify(video.path());
                return new Result(history, eval, export, video.path(), p, train.classNames().get(video.label()));
            }
        }
    }

    /** A reduced X3D (width 0.5, depth 0.5, 64-d head) that trains in seconds on a CPU. */
    static X3d x3d(int classes, int t, int size, double dropout) {
        return X3d.builder().widthFactor(0.5).depthFactor(0.5).headDimOut(64).numClasses(classes).dropout(dropout).clipLength(t)
                .crop(size).build();
    }

    /** Feature-map channels of a model, by one no-grad forward (the SDB and projections are sized from them). */
    static long channels(VideoModel m, int t, int size) {
        try (PointerScope s = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            m.module().eval();
            return m.forward(torch.zeros(1, 3, t, size, size)).features().size(1);
        }
    }
}
