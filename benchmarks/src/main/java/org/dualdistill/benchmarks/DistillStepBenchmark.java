package org.dualdistill.benchmarks;

import java.util.ArrayList;
import java.util.List;
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
import org.dualdistill.distill.TeacherCache;
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

/**
 * One training step with distillation against one without (issue: training): what the teachers and the objective
 * add to a step, and how much of that the teacher-output cache takes back.
 *
 * <p>Three benchmarks, each one optimizer step (ms/op):
 * <ul>
 * <li>{@code ceStep}: Trainer's CE-only step: zero_grad, student forward (train mode), log_softmax + nll_loss,
 *     backward, gradient clipping, schedule, optimizer step (optimizer over the student only);</li>
 * <li>{@code distillStep}: Trainer's distillation step without a cache: the same plus both teachers' forward in
 *     eval mode under {@link NoGradGuard} and the full {@link DistillationObjective} (CE + DATW-weighted KD, SDD,
 *     RKD, default weights and backend), whose loss is backpropagated (optimizer over the student plus the
 *     objective's trainable modules);</li>
 * <li>{@code distillStepCached}: as {@code distillStep}, but every sample's teacher outputs are in a warm
 *     in-memory {@link TeacherCache}: per teacher, one {@code get} per sample key then {@link TeacherCache#stack},
 *     exactly Trainer's full-hit path; no teacher runs;</li>
 * <li>{@code vitTeacherForward}, {@code cnnTeacherForward}: one teacher's forward alone (eval, no grad), to tell
 *     which part of {@code distillStep - distillStepCached} each teacher is.</li>
 * </ul>
 *
 * <p>The step bodies are direct calls that mirror {@code Trainer.trainStep} / {@code teacherOutputs} line for line
 * (Trainer's step is private and is driven only by a DataLoader, which would put video decoding into the measurement;
 * decoding is measured by DecodeBenchmark). Not included: the loader, metrics/progress logging, checkpointing.
 *
 * <p>Geometry ({@code geometry = TxS}, batch 8 by default, 10 classes), small enough for 2 CPU cores and the shape of
 * the embedded demo / TrainerTest rig: student X3D width 0.5, depth 0.5, head 64, on T x S x S; CNN teacher X3D
 * width 1.0, depth 0.5, head 64, on T x S x S; ViT teacher reduced MViT (depth 2, embed dim 16, 1 head, stage start
 * 1) on 2T x S x S (8 x 32 x 32 at the default 4x32). Inputs are fixed random tensors made once per trial
 * ({@code randn * 0.5}, i.e. normalized-pixel scale; not decoded video), labels fixed. Optimizer: the demo preset's
 * SGD (nesterov, momentum 0.9, wd 5e-5) at lr 0.005 held constant, clip-norm 1.0 as in the demo config. The
 * student keeps training on the same batch across iterations; at this lr and with clipping it stays finite.
 *
 * <p>Cache keys are {@code fingerprint(teacher) + "|" + sample key} as in Trainer; the sample keys are synthetic
 * ({@code "bench-sample-i"}) since there are no ViewRecords without a loader. The cache is warmed in setup with the
 * outputs of the same frozen teachers on the same inputs, so its values equal what {@code distillStep} computes.
 *
 * <p>Resources: models, objective, optimizers and input tensors are created in {@link #setUp} and closed in
 * {@link #tearDown}; each step runs inside its own {@link PointerScope}, which frees the activations and graph.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"})
@State(Scope.Benchmark)
public class DistillStepBenchmark {

    /** Student / CNN-teacher clip as {@code TxS} (T frames of S x S); the ViT teacher sees 2T frames. */
    @Param({"4x32"})
    public String geometry;

    /** Clips per step. */
    @Param({"8"})
    public int batch;

    /** LibTorch intra-op threads. */
    @Param({"2"})
    public int threads;

    /**
     * Diagnostic only: {@code true} makes LibTorch flush denormal floats to zero (Trainer does not), to test whether
     * denormal activations of the untrained models on random input explain bimodal timings.
     */
    @Param({"false"})
    public boolean flushDenormal;

    private static final int CLASSES = 10;
    private static final double LR = 0.005;
    private static final double CLIP_NORM = 1.0;

    private X3d student;
    private MViT vit;
    private X3d cnn;
    private List<VideoModel> teachers;
    private DistillationObjective objective;
    private TrainingOptimizer ceOptimizer;
    private TrainingOptimizer distillOptimizer;
    private CosineSchedule ceSchedule;
    private CosineSchedule distillSchedule;
    private List<Module> distillModules;
    private TeacherCache cache;
    private List<List<String>> teacherKeys;
    private Tensor studentClip;
    private List<Tensor> teacherClips;
    private Tensor labels;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        TorchRuntime.init();
        torch.set_num_threads(threads);
        if (flushDenormal && !org.bytedeco.pytorch.Context.setFlushDenormal(true)) {
            throw new IllegalStateException("flushDenormal: this CPU does not support flushing denormals");
        }
        String[] g = geometry.split("x");
        int t = Integer.parseInt(g[0]);
        int s = Integer.parseInt(g[1]);
        torch.manual_seed(7);
        student = X3d.builder().widthFactor(0.5).depthFactor(0.5).headDimOut(64).numClasses(CLASSES).dropout(0.0)
                .clipLength(t).crop(s).build();
        cnn = X3d.builder().widthFactor(1.0).depthFactor(0.5).headDimOut(64).numClasses(CLASSES).clipLength(t).crop(s)
                .build();
        vit = new MViT(MViTConfig.builder().depth(2).embedDim(16).numHeads(1).stageStarts(1).numFrames(2L * t)
                .cropSize(s).numClasses(CLASSES).dropPathRate(0).build());
        teachers = List.of(vit, cnn); // objective order: ViT teacher 0, CNN teacher 1 (the defaults)
        try (PointerScope scope = new PointerScope()) {
            studentClip = torch.randn(batch, 3, t, s, s).mul(new Scalar(0.5)).retainReference();
            teacherClips = List.of(torch.randn(batch, 3, 2L * t, s, s).mul(new Scalar(0.5)).retainReference(),
                    torch.randn(batch, 3, t, s, s).mul(new Scalar(0.5)).retainReference());
            labels = torch.randint(CLASSES, new long[] {batch}).retainReference();
        }
        objective = DistillationObjective.builder().studentChannels(channels(student, studentClip))
                .vitChannels(channels(vit, teacherClips.get(0))).cnnChannels(channels(cnn, teacherClips.get(1))).build();

        TrainConfig.Optimizer opt = TrainConfig.embeddedDemo().withOverrides(List.of("optimizer.lr=" + LR)).optimizer();
        ceOptimizer = Optimizers.create(opt, List.of(student.module()));
        distillModules = new ArrayList<>();
        distillModules.add(student.module());
        distillModules.addAll(objective.trainableModules());
        distillOptimizer = Optimizers.create(opt, distillModules);
        // constant rate: warm-up 0, min = peak, so the rate does not depend on how many iterations JMH runs
        ceSchedule = new CosineSchedule(LR, LR, LR, 0, 1_000_000_000L);
        distillSchedule = new CosineSchedule(LR, LR, LR, 0, 1_000_000_000L);

        // warm the cache exactly as Trainer fills it on a miss: split the batch's outputs, one entry per sample
        cache = TeacherCache.inMemory(1L << 30);
        teacherKeys = new ArrayList<>();
        for (int i = 0; i < teachers.size(); i++) {
            String fp = TeacherCache.fingerprint(teachers.get(i).module());
            List<String> keys = new ArrayList<>();
            for (int j = 0; j < batch; j++) {
                keys.add(fp + "|bench-sample-" + j);
            }
            teacherKeys.add(List.copyOf(keys));
            try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
                VideoModel m = teachers.get(i);
                m.module().eval();
                ModelOutput to = m.forward(teacherClips.get(i));
                List<TeacherCache.Entry> entries = TeacherCache.split(
                        new TeacherOutputs(to.logits(), to.features(), to.embedding()));
                for (int j = 0; j < entries.size(); j++) {
                    cache.put(keys.get(j), entries.get(j));
                }
            }
        }
    }

    /** Feature-map channels of a model, by one no-grad eval forward. */
    private static long channels(VideoModel m, Tensor clip) {
        try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            m.module().eval();
            return m.forward(clip).features().size(1);
        }
    }

    @Benchmark
    public double ceStep() {
        try (PointerScope scope = new PointerScope()) {
            student.module().train(true);
            ceOptimizer.zeroGrad();
            ModelOutput so = student.forward(studentClip);
            Tensor l = torch.nll_loss(torch.log_softmax(so.logits(), 1), labels);
            l.backward();
            double loss = l.item_double();
            GradientClipping.clip(ceOptimizer, CLIP_NORM);
            ceSchedule.apply(ceOptimizer);
            ceOptimizer.step();
            return loss;
        }
    }

    @Benchmark
    public double distillStep() {
        return distill(false);
    }

    @Benchmark
    public double distillStepCached() {
        return distill(true);
    }

    private double distill(boolean cached) {
        try (PointerScope scope = new PointerScope()) {
            student.module().train(true);
            distillOptimizer.zeroGrad();
            ModelOutput so = student.forward(studentClip);
            List<TeacherOutputs> touts = new ArrayList<>(teachers.size());
            try (NoGradGuard ng = new NoGradGuard()) {
                for (int i = 0; i < teachers.size(); i++) {
                    touts.add(cached ? fromCache(i) : forward(i));
                }
            }
            double loss;
            try (ObjectiveResult r = objective.compute(new StudentOutputs(so.logits(), so.features(), so.embedding()),
                    touts, labels)) {
                r.loss().backward();
                loss = r.breakdown().total();
            }
            GradientClipping.clip(distillOptimizer, CLIP_NORM);
            distillSchedule.apply(distillOptimizer);
            distillOptimizer.step();
            return loss;
        }
    }

    /** The ViT teacher's forward alone (eval, no grad), to split {@code distillStep - distillStepCached}. */
    @Benchmark
    public double vitTeacherForward() {
        return teacherForwardAlone(0);
    }

    /** The CNN teacher's forward alone (eval, no grad). */
    @Benchmark
    public double cnnTeacherForward() {
        return teacherForwardAlone(1);
    }

    private double teacherForwardAlone(int i) {
        try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            return forward(i).logits().sum().item_double();
        }
    }

    /** Trainer's miss path without the cache: the teacher in eval mode (caller holds the NoGradGuard). */
    private TeacherOutputs forward(int i) {
        VideoModel t = teachers.get(i);
        t.module().eval();
        ModelOutput to = t.forward(teacherClips.get(i));
        return new TeacherOutputs(to.logits(), to.features(), to.embedding());
    }

    /** Trainer's full-hit path: one get per sample, then stack (CPU, so no device copy). */
    private TeacherOutputs fromCache(int i) {
        List<String> keys = teacherKeys.get(i);
        List<TeacherCache.Entry> hits = new ArrayList<>(keys.size());
        for (String k : keys) {
            TeacherCache.Entry e = cache.get(k);
            if (e == null) {
                throw new IllegalStateException("teacher cache: unexpected miss for " + k);
            }
            hits.add(e);
        }
        return TeacherCache.stack(hits);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        cache.close();
        distillOptimizer.close();
        ceOptimizer.close();
        objective.close();
        labels.close();
        for (Tensor t : teacherClips) {
            t.close();
        }
        studentClip.close();
        cnn.close();
        vit.close();
        student.close();
    }
}
