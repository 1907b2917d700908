package org.dualdistill.benchmarks;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.distill.DistillationObjective;
import org.dualdistill.distill.ObjectiveResult;
import org.dualdistill.distill.StudentOutputs;
import org.dualdistill.distill.TeacherOutputs;
import org.dualdistill.internal.torch.TorchRuntime;
import org.dualdistill.model.ModelOutput;
import org.dualdistill.model.VideoModel;
import org.dualdistill.model.mvit.MViT;
import org.dualdistill.model.mvit.MViTConfig;
import org.dualdistill.model.x3d.X3d;
import org.dualdistill.train.CosineSchedule;
import org.dualdistill.train.GradientClipping;
import org.dualdistill.train.Optimizers;
import org.dualdistill.train.TrainConfig;
import org.dualdistill.recipe.Recipe;
import org.dualdistill.model.ModelView;
import org.dualdistill.distill.Teacher;
import org.dualdistill.train.TrainingOptimizer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.runner.IterationType;

/**
 * The paper's distillation step at full size on the CPU (issue 12), timed as a whole by JMH and split by component
 * with {@link System#nanoTime()} inside the step: which part a GPU run must speed up.
 *
 * <p>Models (untrained, seed 7; timing does not depend on the weights), {@code classes} = 51 (HMDB51):
 * <ul>
 * <li>ViT teacher MViTv2-S ({@link MViTConfig#mvitV2S}: 16 frames, crop 224), eval mode, no grad;</li>
 * <li>CNN teacher X3D-M ({@link X3d.Preset#M}: 16 x 224), eval mode, no grad;</li>
 * <li>student X3D-S ({@link X3d.Preset#S}: 13 x 160), train mode, forward + backward.</li>
 * </ul>
 * The objective is the CLI's ({@code Recipe.objective}: the same builder calls, with the embedded config's
 * objective section, i.e. CE + DATW-weighted KD + SDD + RKD at their default weights and the default (fused)
 * backends). The optimizer is the embedded config's (SGD, nesterov, momentum 0.9) over the student and the
 * objective's trainable modules at a constant lr 0.005 with clip-norm 1.0, as in {@link DistillStepBenchmark}.
 * Inputs are fixed {@code randn * 0.5} clips (normalized-pixel scale; no decoding) and fixed labels.
 *
 * <p>Components of one step, in order (each is one {@code nanoTime} interval; together they cover the whole step):
 * {@code zeroGrad}, {@code vitForward}, {@code cnnForward}, {@code studentForward}, {@code objective} (the
 * objective's forward: DATW kernel, alignment + SDB + SDD, RKD), {@code backward} (one {@code backward()} through
 * the objective and the student: they cannot be separated), {@code optimizer} (clip, schedule, step) and
 * {@code release} (closing the step's {@link PointerScope}: freeing activations and the graph). The split is
 * averaged over the measurement iterations and printed at the end of the trial, and written to
 * {@code benchmarks/target/fullsize-step-split.csv} (component, mean ms, share of the step).
 *
 * <p>Each step takes seconds on 2 cores, hence single-shot mode with few iterations. Resources: models, objective,
 * optimizer and input tensors are made in {@link #setUp} and closed in {@link #tearDown}.
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 1)
@Measurement(iterations = 3)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"})
@State(Scope.Benchmark)
public class FullSizeStepBenchmark {

    /** Clips per step. */
    @Param({"2"})
    public int batch;

    /** LibTorch intra-op threads. */
    @Param({"2"})
    public int threads;

    /** Head classes of all three models. */
    @Param({"51"})
    public int classes;

    private static final double LR = 0.005;
    private static final double CLIP_NORM = 1.0;
    static final String[] COMPONENTS = {"zeroGrad", "vitForward", "cnnForward", "studentForward", "objective",
        "backward", "optimizer", "release"};

    private X3d student;
    private MViT vit;
    private X3d cnn;
    private DistillationObjective objective;
    private TrainingOptimizer optimizer;
    private CosineSchedule schedule;
    private Tensor studentClip;
    private Tensor vitClip;
    private Tensor cnnClip;
    private Tensor labels;

    private final long[] sums = new long[COMPONENTS.length];
    private final List<long[]> perStep = new ArrayList<>();
    private final long[] current = new long[COMPONENTS.length];
    private int measured;
    private boolean measuring;

    @Setup(Level.Trial)
    public void setUp() {
        TorchRuntime.init();
        torch.set_num_threads(threads);
        torch.manual_seed(7);
        X3d.Preset s = X3d.Preset.S;
        X3d.Preset m = X3d.Preset.M;
        student = X3d.preset(s, classes);
        cnn = X3d.preset(m, classes);
        MViTConfig vc = MViTConfig.mvitV2S(classes);
        vit = new MViT(vc);
        try (PointerScope scope = new PointerScope()) {
            studentClip = torch.randn(batch, 3, s.clipLength(), s.crop(), s.crop()).mul(new Scalar(0.5)).retainReference();
            vitClip = torch.randn(batch, 3, vc.numFrames(), vc.cropSize(), vc.cropSize()).mul(new Scalar(0.5))
                    .retainReference();
            cnnClip = torch.randn(batch, 3, m.clipLength(), m.crop(), m.crop()).mul(new Scalar(0.5)).retainReference();
            labels = torch.randint(classes, new long[] {batch}).retainReference();
        }
        // the recipe layer's wiring (what distill runs), with the embedded config's objective section
        TrainConfig cfg = TrainConfig.embeddedDemo();
        objective = Recipe.objective(cfg.objective(), student, viewOf(s.clipLength(), s.crop()),
                List.of(Teacher.of(vit, "vit"), Teacher.of(cnn, "cnn")),
                List.of(viewOf((int) vc.numFrames(), (int) vc.cropSize()), viewOf(m.clipLength(), m.crop())));

        List<Module> modules = new ArrayList<>();
        modules.add(student.module());
        modules.addAll(objective.trainableModules());
        optimizer = Optimizers.create(cfg.withOverrides(List.of("optimizer.lr=" + LR)).optimizer(), modules);
        schedule = new CosineSchedule(LR, LR, LR, 0, 1_000_000_000L);
        vit.module().eval();
        cnn.module().eval();
    }

    @Setup(Level.Iteration)
    public void startIteration(IterationParams params) {
        measuring = params.getType() == IterationType.MEASUREMENT;
    }

    @TearDown(Level.Iteration)
    public void endIteration() {
        if (measuring) {
            for (int i = 0; i < sums.length; i++) {
                sums[i] += current[i];
            }
            perStep.add(current.clone());
            measured++;
        }
    }

    @Benchmark
    public double step() {
        long t0 = System.nanoTime();
        double loss;
        long t7;
        PointerScope scope = new PointerScope();
        try {
            student.module().train(true);
            optimizer.zeroGrad();
            long t1 = System.nanoTime();
            TeacherOutputs vo;
            TeacherOutputs co;
            long t2;
            try (NoGradGuard ng = new NoGradGuard()) {
                ModelOutput v = vit.forward(vitClip);
                vo = new TeacherOutputs(v.logits(), v.features(), v.embedding());
                t2 = System.nanoTime();
                ModelOutput c = cnn.forward(cnnClip);
                co = new TeacherOutputs(c.logits(), c.features(), c.embedding());
            }
            long t3 = System.nanoTime();
            ModelOutput so = student.forward(studentClip);
            long t4 = System.nanoTime();
            long t5;
            long t6;
            try (ObjectiveResult r = objective.compute(new StudentOutputs(so.logits(), so.features(), so.embedding()),
                    List.of(vo, co), labels)) {
                t5 = System.nanoTime();
                r.loss().backward();
                loss = r.breakdown().total();
                t6 = System.nanoTime();
            }
            GradientClipping.clip(optimizer, CLIP_NORM);
            schedule.apply(optimizer);
            optimizer.step();
            t7 = System.nanoTime();
            current[0] = t1 - t0;
            current[1] = t2 - t1;
            current[2] = t3 - t2;
            current[3] = t4 - t3;
            current[4] = t5 - t4;
            current[5] = t6 - t5;
            current[6] = t7 - t6;
        } finally {
            scope.close();
        }
        current[7] = System.nanoTime() - t7;
        if (!Double.isFinite(loss)) {
            throw new IllegalStateException("full-size step: loss is not finite (" + loss + ")");
        }
        return loss;
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        if (measured > 0) {
            double total = 0;
            for (long v : sums) {
                total += v;
            }
            StringBuilder csv = new StringBuilder("component,ms,share");
            for (int j = 0; j < perStep.size(); j++) {
                csv.append(",step").append(j + 1).append("_ms");
            }
            csv.append('\n');
            System.out.printf(Locale.ROOT, "%nFull-size step split (batch %d, %d threads, mean of %d steps):%n", batch,
                    threads, measured);
            for (int i = 0; i < COMPONENTS.length; i++) {
                double ms = sums[i] / 1e6 / measured;
                double share = sums[i] / total;
                StringBuilder steps = new StringBuilder();
                csv.append(String.format(Locale.ROOT, "%s,%.1f,%.4f", COMPONENTS[i], ms, share));
                for (long[] st : perStep) {
                    steps.append(String.format(Locale.ROOT, " %9.1f", st[i] / 1e6));
                    csv.append(String.format(Locale.ROOT, ",%.1f", st[i] / 1e6));
                }
                csv.append('\n');
                System.out.printf(Locale.ROOT, "  %-15s %10.1f ms  %5.1f %%   per step:%s%n", COMPONENTS[i], ms, 100 * share,
                        steps);
            }
            System.out.printf(Locale.ROOT, "  %-15s %10.1f ms%n", "step", total / 1e6 / measured);
            csv.append(String.format(Locale.ROOT, "step,%.1f,1.0000", total / 1e6 / measured));
            for (long[] st : perStep) {
                long sum = 0;
                for (long v : st) {
                    sum += v;
                }
                csv.append(String.format(Locale.ROOT, ",%.1f", sum / 1e6));
            }
            csv.append('\n');
            Path out = Path.of("target", "fullsize-step-split.csv");
            Files.createDirectories(out.getParent());
            Files.writeString(out, csv);
        }
        optimizer.close();
        objective.close();
        labels.close();
        cnnClip.close();
        vitClip.close();
        studentClip.close();
        cnn.close();
        vit.close();
        student.close();
    }

    /** A view of the given frames and crop (only its size matters here: the objective reads feature channels). */
    private static ModelView viewOf(int frames, int crop) {
        return ModelView.of(frames, 1, crop, crop, crop, crop);
    }
}
