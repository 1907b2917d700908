package org.dualdistill.train;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.data.Batch;
import org.dualdistill.data.DataLoader;
import org.dualdistill.data.DevicePrefetcher;
import org.dualdistill.distill.DistillationObjective;
import org.dualdistill.distill.ObjectiveBreakdown;
import org.dualdistill.distill.ObjectiveResult;
import org.dualdistill.distill.StudentOutputs;
import org.dualdistill.distill.Teacher;
import org.dualdistill.distill.TeacherCache;
import org.dualdistill.distill.TeacherOutputs;
import org.dualdistill.internal.torch.TensorBridge;
import org.dualdistill.internal.torch.TorchRuntime;
import org.dualdistill.model.ModelOutput;
import org.dualdistill.model.VideoModel;
import org.dualdistill.video.ViewRecord;

/**
 * The training loop: student X3D trained with the {@link DistillationObjective} against frozen teachers (or with
 * cross-entropy alone when there are none).
 *
 * <p>Per step, inside one {@link PointerScope}: student forward (training mode) on the student view; every teacher
 * forward in eval mode under {@link NoGradGuard} on its own view; objective; backward (wrapped by the optional
 * {@link GradientSync}, which averages gradients across data-parallel ranks); optional gradient clipping;
 * {@link CosineSchedule#apply}; optimizer step. Every {@link Batch} is closed at the end of its step. Each step writes
 * one JSONL record to the {@link MetricsLog} (when given) and every {@code logEvery} steps a {@link Progress} line goes
 * to the progress stream. At the end of every {@code checkpointEvery}-th epoch a {@link Checkpoint} is written to
 * {@code checkpointDir/epoch-NNNN}, and with {@link Builder#checkpointEverySteps} also every N steps to
 * {@code checkpointDir/step-NNNNNNNN}. Teacher outputs come from a {@link TeacherCache} when one is given and holds
 * every sample of the batch. On a CUDA {@link Builder#device} the batches come through a {@link DevicePrefetcher}:
 * batch k+1 is copied from pinned memory on a side stream while step k computes.
 *
 * <p>Divergence: before each optimizer update the step's loss terms (ce, kd, sdd, rkd, hint), the total and the global
 * gradient norm are checked for NaN/inf. They are host scalars the step reads anyway (the norm in one device-side
 * reduction), so the check adds no synchronisation. Under {@link NonFinitePolicy#STOP} (the default) the first
 * non-finite value throws {@link NonFiniteException} naming the step, the term and the learning rate, without
 * applying that update. Under {@link NonFinitePolicy#SKIP} the update is dropped and a {@code "skip"} record is
 * logged, up to {@link Builder#onNonFinite maxSkips} consecutive steps. A loss that refuses the student's outputs
 * as NaN/inf counts as its term's divergence. Checkpoints are only written from finite states
 * ({@link Checkpoint#save} refuses others). After each epoch, the loader's one-line summary of unusable videos
 * (if any) goes to the progress stream.
 *
 * <p>Resume ({@link #resume}) restores the student, the objective's trainable modules, the optimizer state, the
 * schedule counter, LibTorch's CPU generator, the epoch/step counters and, for a mid-epoch checkpoint, the position in
 * the epoch. Since a batch depends only on (seed, epoch, index), the resumed run sees exactly the batches the
 * uninterrupted run saw, and on CPU it ends with bit-identical weights (TrainerResumeTest).
 *
 * <p>Borrows the models, objective, optimizer, schedule and loader (the caller closes them); owns only the metrics
 * log it opened. Not thread-safe: run it from one thread.
 */
public final class Trainer implements AutoCloseable {
    static {
        TorchRuntime.init();
    }

    /** Key in {@link Checkpoint.State#seeds()} of the batches of the current epoch done at a mid-epoch checkpoint. */
    public static final String BATCH_IN_EPOCH = "loader.batchInEpoch";

    /** Metrics of one finished epoch (for an epoch resumed mid-way: of its remaining batches). */
    public record EpochStats(int epoch, long steps, long clips, double meanLoss, double meanCe, double seconds) {
    }

    /**
     * One finished training step, for diagnostics ({@link Builder#onStep}).
     *
     * @param epoch     the epoch of the step (0-based)
     * @param step      optimizer steps completed, this one included
     * @param labels    the batch's class labels, [B]
     * @param breakdown every term of the objective, or null when training with cross-entropy alone
     * @param weights   the per-sample teacher weights, row-major [B, K] (K = the objective's teachers), or null
     *                  without an objective
     */
    public record StepEvent(int epoch, long step, int[] labels, ObjectiveBreakdown breakdown, float[] weights) {
    }

    private final VideoModel student;
    private final List<Teacher> teachers;
    private final String studentView;
    private final DistillationObjective objective;
    private final TrainingOptimizer optimizer;
    private final CosineSchedule schedule;
    private final DataLoader loader;
    private final double clipGradNorm;
    private final MetricsLog metrics;
    private final int logEvery;
    private final PrintStream progressOut;
    private final Path checkpointDir;
    private final int checkpointEvery;
    private final String configJson;
    private final TeacherCache cache;
    private final int checkpointEverySteps;
    private final Device device; // null = where the batches are (the CPU)
    private final long maxSteps;
    private final double labelSmoothing;
    private final torch.DeviceType autocastDevice;
    private final torch.ScalarType autocastDtype;
    private int resumeBatch; // batches of epoch `epoch` already done when resumed mid-epoch
    private final GradientSync gradientSync;
    private final NonFinitePolicy onNonFinite;
    private final int maxNonFiniteSkips;
    private int consecutiveSkips; // non-finite steps dropped in a row (NonFinitePolicy.SKIP)
    private long skippedSteps; // non-finite steps dropped by this trainer
    private double lastLr = Double.NaN; // learning rate of the last step taken
    private int epoch; // completed epochs
    private long step; // completed optimizer steps
    private final List<EpochStats> history = new ArrayList<>();
    private final java.util.function.Consumer<StepEvent> onStep; // null = no step events
    private float[] stepWeights; // the last step's per-sample teacher weights, read only when onStep is set
    private boolean closed;

    private Trainer(Builder b) throws IOException {
        this.student = b.student;
        this.teachers = List.copyOf(b.teachers);
        this.studentView = b.studentView;
        this.objective = b.objective;
        this.optimizer = b.optimizer;
        this.schedule = b.schedule;
        this.loader = b.loader;
        this.clipGradNorm = b.clipGradNorm;
        this.logEvery = b.logEvery;
        this.progressOut = b.progressOut;
        this.checkpointDir = b.checkpointDir;
        this.checkpointEvery = b.checkpointEvery;
        this.configJson = b.configJson;
        this.cache = b.cache;
        this.checkpointEverySteps = b.checkpointEverySteps;
        this.labelSmoothing = b.labelSmoothing;
        this.autocastDevice = b.autocastDevice;
        this.autocastDtype = b.autocastDtype;
        this.device = b.device;
        this.maxSteps = b.maxSteps;
        this.gradientSync = b.gradientSync;
        this.onNonFinite = b.onNonFinite;
        this.maxNonFiniteSkips = b.maxNonFiniteSkips;
        this.onStep = b.onStep;
        if (!teachers.isEmpty() && objective == null) {
            throw new IllegalArgumentException("teachers given but no objective");
        }
        if (objective != null && teachers.isEmpty()) {
            throw new IllegalArgumentException("an objective needs at least one teacher");
        }
        List<String> names = loader.sampler().viewNames();
        List<String> teacherViews = new ArrayList<>();
        for (Teacher t : teachers) {
            teacherViews.add(t.view());
        }
        for (String v : concat(List.of(studentView), teacherViews)) {
            if (!names.contains(v)) {
                throw new IllegalArgumentException("no view named " + v + " in the loader; views are " + names);
            }
        }
        this.metrics = b.metricsFile == null ? null : new MetricsLog(b.metricsFile);
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> out = new ArrayList<>(a);
        out.addAll(b);
        return out;
    }

    /**
     * @param student   the student (borrowed; trained in place)
     * @param optimizer over the student's parameters plus {@code objective.trainableModules()} (borrowed)
     * @param schedule  the learning-rate schedule (borrowed; stepped once per optimizer step)
     * @param loader    training data (borrowed)
     * @return a builder (CE-only, no teachers, student view = the loader's first view, no clipping, no logging)
     */
    public static Builder builder(VideoModel student, TrainingOptimizer optimizer, CosineSchedule schedule, DataLoader loader) {
        return new Builder(student, optimizer, schedule, loader);
    }

    /** @return completed epochs */
    public int epoch() {
        return epoch;
    }

    /** @return completed optimizer steps */
    public long step() {
        return step;
    }

    /** @return stats of the epochs run by this trainer, in order */
    public List<EpochStats> history() {
        return List.copyOf(history);
    }

    /** @return every module the optimizer trains: the student, then the objective's trainable modules */
    public List<Module> trainableModules() {
        List<Module> out = new ArrayList<>();
        out.add(student.module());
        if (objective != null) {
            out.addAll(objective.trainableModules());
        }
        return out;
    }

    /**
     * Restores a checkpoint: weights, optimizer, schedule counter, generator, epoch and step.
     *
     * @param dir a checkpoint folder written by this trainer
     * @return the saved state
     * @throws IOException when the checkpoint is missing, damaged or does not fit
     */
    public Checkpoint.State resume(Path dir) throws IOException {
        open();
        Checkpoint.State s = Checkpoint.load(dir, student.module(), objective, optimizer);
        this.epoch = Math.toIntExact(s.epoch());
        this.step = s.step();
        this.resumeBatch = Math.toIntExact(s.seeds().getOrDefault(BATCH_IN_EPOCH, 0L));
        if (resumeBatch > loader.batchesPerEpoch()) {
            throw new CheckpointException(dir, "it stopped after batch " + resumeBatch + " of epoch " + epoch
                    + ", but this loader has " + loader.batchesPerEpoch() + " batches per epoch", null);
        }
        schedule.restore(s.schedulerStep());
        return s;
    }

    /**
     * Trains until {@code epochs} epochs are complete (counting epochs restored by {@link #resume}).
     *
     * @param epochs total epochs of the run
     * @return stats of the epochs run by this call ({@code steps} counts the updates taken, not dropped ones)
     * @throws IOException         when a checkpoint cannot be written
     * @throws NonFiniteException  when the run diverges ({@link Builder#onNonFinite})
     * @throws org.dualdistill.data.UnusableDataException when the loader finds no usable video, or too many
     *                             unusable ones
     */
    public List<EpochStats> fit(int epochs) throws IOException {
        open();
        long stepsPerEpoch = loader.batchesPerEpoch();
        Progress progress = new Progress(epochs * stepsPerEpoch, epochs, step);
        for (Teacher t : teachers) {
            t.model().module().eval();
        }
        List<EpochStats> out = new ArrayList<>();
        while (epoch < epochs && !stepLimitReached()) {
            EpochStats es = runEpoch(epoch, epochs, progress);
            if (stoppedInEpoch) { // run.maxSteps ended the run inside this epoch: a mid-epoch checkpoint was written
                history.add(es);
                out.add(es);
                break;
            }
            epoch++;
            history.add(es);
            out.add(es);
            if (metrics != null) {
                Map<String, Object> rec = new LinkedHashMap<>();
                rec.put("type", "epoch");
                rec.put("epoch", es.epoch());
                rec.put("step", step);
                rec.put("steps", es.steps());
                rec.put("clips", es.clips());
                rec.put("loss", es.meanLoss());
                rec.put("ce", es.meanCe());
                rec.put("seconds", es.seconds());
                rec.put("skippedSteps", skippedSteps);
                rec.put("unusableVideos", loader.stats().skippedFiles());
                metrics.write(rec);
            }
            if (checkpointDir != null && epoch % checkpointEvery == 0) {
                Map<String, Double> m = new LinkedHashMap<>();
                m.put("loss", es.meanLoss());
                m.put("ce", es.meanCe());
                saveCheckpoint(checkpointDir.resolve(String.format("epoch-%04d", epoch)), epoch, 0, m);
            }
        }
        return out;
    }

    private void saveCheckpoint(Path dir, int completedEpochs, long batchInEpoch, Map<String, Double> m) throws IOException {
        Map<String, Long> seeds = batchInEpoch == 0 ? Map.of() : Map.of(BATCH_IN_EPOCH, batchInEpoch);
        try {
            Checkpoint.save(dir, student.module(), objective, optimizer,
                    new Checkpoint.State(completedEpochs, step, schedule.step(), seeds, m), configJson);
        } catch (CheckpointException e) {
            // a finite loss can still leave the state non-finite (an overflowing BatchNorm running_var, say): that is
            // the divergence, at this step (Checkpoint.save checked the state and wrote nothing)
            if (e.nonFiniteTensor() == null) {
                throw e;
            }
            throw new NonFiniteException(step, NonFiniteException.MODEL_STATE, Double.NaN, lastLr, 0,
                    e.nonFiniteTensor() + " holds NaN or infinity after this step's update");
        }
    }

    /** @param completedEpochs epochs completed @return the folder {@link #fit} writes that epoch's checkpoint to */
    public Path checkpointPath(int completedEpochs) {
        return checkpointDir == null ? null : checkpointDir.resolve(String.format("epoch-%04d", completedEpochs));
    }

    private EpochStats runEpoch(int ep, int epochs, Progress progress) throws IOException {
        int first = resumeBatch;
        resumeBatch = 0;
        Iterable<Batch> batches = loader.epoch(ep, first);
        if (device == null || !device.is_cuda()) {
            return runEpoch(ep, first, batches.iterator(), progress);
        }
        try (DevicePrefetcher feed = DevicePrefetcher.cuda(batches, device)) { // copies batch k+1 during step k
            return runEpoch(ep, first, feed, progress);
        }
    }

    private EpochStats runEpoch(int ep, int first, Iterator<Batch> it, Progress progress) throws IOException {
        long t0 = System.nanoTime();
        long steps = 0;
        long clips = 0;
        double lossSum = 0;
        double ceSum = 0;
        long batchesDone = 0; // batches of this call consumed, dropped steps included (the position in the epoch)
        while (it.hasNext() && !stepLimitReached()) {
            long s0 = System.nanoTime();
            StepResult r;
            int n;
            try (Batch b = it.next()) {
                n = b.size();
                r = trainStep(b);
                if (onStep != null && r.nonFiniteTerm == null) {
                    float[] l = TensorBridge.toFloats(b.labels());
                    int[] labels = new int[l.length];
                    for (int i = 0; i < l.length; i++) {
                        labels[i] = Math.round(l[i]);
                    }
                    onStep.accept(new StepEvent(ep, step + 1, labels, r.breakdown, r.breakdown == null ? null : stepWeights));
                }
            }
            step++;
            batchesDone++;
            lastLr = r.lr;
            if (r.nonFiniteTerm != null) {
                onNonFinite(ep, r);
            } else {
                consecutiveSkips = 0;
                steps++;
                clips += n;
                lossSum += r.loss;
                ceSum += r.ce;
            }
            double secs = (System.nanoTime() - s0) / 1e9;
            double cps = n / Math.max(secs, 1e-9);
            if (metrics != null && r.nonFiniteTerm == null) {
                Map<String, Object> rec = new LinkedHashMap<>();
                rec.put("type", "step");
                rec.put("epoch", ep);
                rec.put("step", step);
                rec.put("loss", r.loss);
                rec.put("ce", r.ce);
                if (r.breakdown != null) {
                    ObjectiveBreakdown d = r.breakdown;
                    rec.put("kd", d.kd());
                    rec.put("sdd", d.sdd());
                    rec.put("rkd", d.rkd());
                    rec.put("hint", d.hint());
                    rec.put("weightMean", d.weightMean());
                }
                rec.put("lr", r.lr);
                rec.put("gradNorm", r.gradNorm);
                rec.put("clipsPerSec", cps);
                metrics.write(rec);
            }
            if (progressOut != null && r.nonFiniteTerm == null && (step % logEvery == 0 || !it.hasNext())) {
                String line = progress.line(ep, step, r.loss, r.lr, cps);
                if (r.breakdown != null) { // the terms and DATW's mean teacher weights of this step
                    line += String.format(java.util.Locale.ROOT, " | ce %.3f kd %.3f sdd %.3f rkd %.3f w %s", r.breakdown.ce(),
                            r.breakdown.kd(), r.breakdown.sdd(), r.breakdown.rkd(), weights(r.breakdown.weightMean()));
                }
                progressOut.println(line);
            }
            boolean limit = stepLimitReached() && it.hasNext();
            if (checkpointDir != null && it.hasNext() && (limit || checkpointEverySteps > 0 && step % checkpointEverySteps == 0)) {
                saveCheckpoint(checkpointDir.resolve(String.format("step-%08d", step)), ep, first + batchesDone,
                        Map.of("loss", r.loss, "ce", r.ce));
            }
            stoppedInEpoch = limit;
        }
        reportSkippedVideos();
        return new EpochStats(ep, steps, clips, steps == 0 ? Double.NaN : lossSum / steps,
                steps == 0 ? Double.NaN : ceSum / steps, (System.nanoTime() - t0) / 1e9);
    }

    private boolean stoppedInEpoch;

    private boolean stepLimitReached() {
        return maxSteps > 0 && step >= maxSteps;
    }

    /**
     * @return batch tensor {@code t} on the training device: on CUDA the {@link DevicePrefetcher} has put it there
     *         already; otherwise (a tensor not from the batch) a pinned, non-blocking copy
     */
    private Tensor onDevice(Tensor t) {
        if (device == null || t.is_cuda() == device.is_cuda() && (!t.is_cuda() || t.device().index() == deviceIndex())) {
            return t;
        }
        Tensor src = device.is_cuda() && !t.is_pinned() ? t.pin_memory() : t;
        return src.to(device, src.dtype(), true, false);
    }

    private long deviceIndex() {
        return device.has_index() ? device.index() : 0;
    }

    /** Prints the loader's one-line summary of unusable videos, when files were skipped since the last one. */
    private void reportSkippedVideos() {
        String line = loader.skipSummary();
        if (line != null && progressOut != null) {
            progressOut.println(line);
        }
    }

    /**
     * One step's values; {@code nonFiniteTerm} names the first NaN/infinite one ({@link #nonFiniteTerm}), in which case
     * the optimizer step was not taken and {@code nonFiniteValue} holds the value.
     */
    private record StepResult(double loss, double ce, ObjectiveBreakdown breakdown, double lr, double gradNorm,
                              String nonFiniteTerm, double nonFiniteValue, String detail) {
        StepResult(double loss, double ce, ObjectiveBreakdown breakdown, double lr, double gradNorm) {
            this(loss, ce, breakdown, lr, gradNorm, null, 0, null);
        }
    }

    /** A non-finite step: stop, or drop it and count (the optimizer step was not taken). */
    private void onNonFinite(int ep, StepResult r) {
        if (onNonFinite == NonFinitePolicy.STOP || consecutiveSkips >= maxNonFiniteSkips || gradientSync != null
                && r.detail != null) { // replicas may not all have reached backward: never skip there
            throw new NonFiniteException(step, r.nonFiniteTerm, r.nonFiniteValue, r.lr, consecutiveSkips, r.detail);
        }
        consecutiveSkips++;
        skippedSteps++;
        String what = r.nonFiniteTerm.equals("gradient norm") ? "the gradient norm" : "the " + r.nonFiniteTerm + " loss";
        if (metrics != null) {
            Map<String, Object> rec = new LinkedHashMap<>();
            rec.put("type", "skip");
            rec.put("epoch", ep);
            rec.put("step", step);
            rec.put("term", r.nonFiniteTerm);
            rec.put("value", Double.toString(r.nonFiniteValue));
            rec.put("lr", r.lr);
            rec.put("consecutive", consecutiveSkips);
            metrics.write(rec);
        }
        if (progressOut != null) {
            progressOut.println(String.format(java.util.Locale.ROOT, "step %d: skipped, %s is %s (lr %.6g); %d of at most "
                    + "%d consecutive skips", step, what, Double.toString(r.nonFiniteValue), r.lr, consecutiveSkips,
                    maxNonFiniteSkips));
        }
    }

    /** @return non-finite steps dropped under {@link NonFinitePolicy#SKIP} by this trainer */
    public long skippedSteps() {
        return skippedSteps;
    }

    /**
     * The first non-finite value of a step, checked in the order ce, kd, sdd, rkd, hint, total, gradient norm. The
     * terms and the norm are already host scalars (the breakdown and the norm each cost their one synchronisation), so
     * this adds no device work.
     *
     * @return {term, value} or null when all are finite
     */
    private static Object[] nonFiniteTerm(double loss, double ce, ObjectiveBreakdown bd, double gradNorm) {
        String[] names = bd == null ? new String[] {"ce", "total"} : new String[] {"ce", "kd", "sdd", "rkd", "hint", "total"};
        double[] values = bd == null ? new double[] {ce, loss} : new double[] {bd.ce(), bd.kd(), bd.sdd(), bd.rkd(), bd.hint(), loss};
        for (int i = 0; i < names.length; i++) {
            if (!Double.isFinite(values[i])) {
                return new Object[] {names[i], values[i]};
            }
        }
        return Double.isFinite(gradNorm) ? null : new Object[] {"gradient norm", gradNorm};
    }

    private StepResult trainStep(Batch b) {
        try (PointerScope scope = new PointerScope()) {
            student.module().train(true);
            optimizer.zeroGrad();
            if (gradientSync != null) {
                gradientSync.beforeForward();
            }
            ModelOutput so;
            List<TeacherOutputs> touts = new ArrayList<>(teachers.size());
            enterAutocast();
            try {
                so = student.forward(onDevice(b.data(studentView)));
                if (objective != null) {
                    try (NoGradGuard g = new NoGradGuard()) {
                        for (int i = 0; i < teachers.size(); i++) {
                            touts.add(teacherOutputs(i, b, so.logits()));
                        }
                    }
                }
            } finally {
                exitAutocast();
            }
            if (autocastDevice != null) { // losses in float32, as torch.autocast recommends
                so = new ModelOutput(f32(so.logits()), f32(so.embedding()), f32(so.features()));
                touts.replaceAll(t -> new TeacherOutputs(f32(t.logits()), f32(t.features()), f32(t.embedding())));
            }
            Tensor labels = onDevice(b.labels());
            double loss;
            double ce;
            ObjectiveBreakdown bd = null;
            if (objective == null) {
                Tensor logp = torch.log_softmax(so.logits(), 1);
                Tensor l = torch.nll_loss(logp, labels);
                if (labelSmoothing > 0) { // PyTorch's cross_entropy(label_smoothing=e): (1-e) NLL + e mean_c(-log p_c)
                    l = l.mul(new Scalar(1 - labelSmoothing)).add(logp.mean().neg().mul(new Scalar(labelSmoothing)));
                }
                if (gradientSync != null) {
                    gradientSync.beforeBackward(l);
                }
                l.backward();
                loss = l.item_double();
                ce = loss;
            } else {
                ObjectiveResult computed;
                try {
                    computed = objective.compute(new StudentOutputs(so.logits(), so.features(), so.embedding()), touts, labels);
                } catch (IllegalArgumentException e) {
                    StepResult bad = refusedInputs(so, touts, e); // the losses refuse NaN/inf inputs: say which term
                    if (bad == null) {
                        throw e;
                    }
                    return bad;
                }
                try (ObjectiveResult r = computed) {
                    if (gradientSync != null) {
                        gradientSync.beforeBackward(r.loss());
                    }
                    r.loss().backward();
                    bd = r.breakdown();
                    stepWeights = onStep == null ? null : TensorBridge.toFloats(r.datw().weights());
                }
                loss = bd.total();
                ce = bd.ce();
            }
            if (gradientSync != null) {
                gradientSync.afterBackward(); // gradients are the replicas' average from here on
            }
            double norm = clipGradNorm > 0 ? GradientClipping.clip(optimizer, clipGradNorm)
                    : GradientClipping.globalNorm(trainableModules());
            double lr = schedule.apply(optimizer);
            Object[] bad = nonFiniteTerm(loss, ce, bd, norm);
            if (bad != null) { // GradScaler's rule: never apply an update computed from a non-finite loss or gradient
                return new StepResult(loss, ce, bd, lr, norm, (String) bad[0], (Double) bad[1], null);
            }
            optimizer.step();
            return new StepResult(loss, ce, bd, lr, norm);
        }
    }

    /**
     * Called when the objective refused its inputs (the losses check them for NaN/inf). When a student output holds
     * NaN/inf (the weights diverged), the step's non-finite result naming the first loss term that output feeds
     * (logits: ce, features: sdd, embedding: rkd). When the student's outputs are finite but so extreme that a loss
     * refused them as NaN/inf, the term of the loss that refused (kd for DATW, sdd, rkd). Null when a teacher's
     * output is non-finite or the refusal has another cause (the caller rethrows). A few host synchronisations, on
     * this failure path only.
     */
    private StepResult refusedInputs(ModelOutput so, List<TeacherOutputs> touts, IllegalArgumentException e) {
        String[] terms = {"ce", "sdd", "rkd"};
        String[] names = {"student logits", "student features", "student embedding"};
        Tensor[] outs = {so.logits(), so.features(), so.embedding()};
        for (int i = 0; i < outs.length; i++) {
            if (!finite(outs[i])) {
                return new StepResult(Double.NaN, Double.NaN, null, schedule.apply(optimizer), Double.NaN, terms[i],
                        Double.NaN, names[i] + " hold NaN or infinity");
            }
        }
        for (TeacherOutputs t : touts) {
            if (!finite(t.logits()) || !finite(t.features()) || !finite(t.embedding())) {
                return null; // a teacher's fault, not the student's divergence
            }
        }
        String m = e.getMessage() == null ? "" : e.getMessage();
        String term = null;
        for (Throwable c = e; c != null && term == null; c = c.getCause()) {
            for (StackTraceElement el : c.getStackTrace()) {
                String cls = el.getClassName();
                term = cls.startsWith("org.dualdistill.datw.") ? "kd" : cls.startsWith("org.dualdistill.sdd.") ? "sdd"
                        : cls.startsWith("org.dualdistill.rkd.") ? "rkd" : null;
                if (term != null) {
                    break;
                }
            }
        }
        if (term == null || !m.contains("NaN or infinity")) {
            return null;
        }
        double maxLogit = so.logits().detach().abs().max().item_double();
        return new StepResult(Double.NaN, Double.NaN, null, schedule.apply(optimizer), Double.NaN, term, Double.NaN,
                String.format(java.util.Locale.ROOT, "the %s loss refused the student's outputs: %s; largest |logit| %.3g",
                        term, Checkpoint.firstLine(e), maxLogit));
    }

    private static boolean finite(Tensor t) {
        return t == null || torch.all(torch.isfinite(t.detach())).item_bool();
    }

    /** Teacher i's outputs for the batch: from the cache when every sample is there, else one forward (cached after). */
    private TeacherOutputs teacherOutputs(int i, Batch b, Tensor like) {
        Teacher teacher = teachers.get(i);
        String view = teacher.view();
        List<String> keys = null;
        if (cache != null) {
            List<ViewRecord> recs = b.records(b.viewNames().indexOf(view));
            keys = new ArrayList<>(recs.size());
            List<TeacherCache.Entry> hits = new ArrayList<>(recs.size());
            for (ViewRecord r : recs) {
                String k = teacher.cacheKey() + "|" + r.cacheKey();
                keys.add(k);
                TeacherCache.Entry e = hits.size() == keys.size() - 1 ? cache.get(k) : null;
                if (e != null) {
                    hits.add(e);
                }
            }
            if (hits.size() == recs.size()) {
                TeacherOutputs c = TeacherCache.stack(hits);
                if (!like.is_cuda()) {
                    return c;
                }
                return new TeacherOutputs(c.logits().to(like.device(), like.scalar_type()),
                        c.features() == null ? null : c.features().to(like.device(), like.scalar_type()),
                        c.embedding() == null ? null : c.embedding().to(like.device(), like.scalar_type()));
            }
        }
        VideoModel t = teacher.model();
        t.module().eval();
        ModelOutput to = t.forward(onDevice(b.data(view)));
        TeacherOutputs out = new TeacherOutputs(to.logits(), to.features(), to.embedding());
        if (cache != null) {
            List<TeacherCache.Entry> entries = TeacherCache.split(out);
            try {
                for (int j = 0; j < entries.size(); j++) {
                    cache.put(keys.get(j), entries.get(j));
                }
            } catch (IOException e) {
                throw new java.io.UncheckedIOException("teacher cache: cannot write an entry: " + e.getMessage(), e);
            }
        }
        return out;
    }

    private void enterAutocast() {
        if (autocastDevice != null) {
            torch.set_autocast_dtype(autocastDevice, autocastDtype);
            torch.set_autocast_cache_enabled(false); // weights change every step: never reuse a cast copy
            torch.set_autocast_enabled(autocastDevice, true);
        }
    }

    private void exitAutocast() {
        if (autocastDevice != null) {
            torch.set_autocast_enabled(autocastDevice, false);
        }
    }

    private static String weights(double[] w) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < w.length; i++) {
            sb.append(i == 0 ? "" : " ").append(String.format(java.util.Locale.ROOT, "%.2f", w[i]));
        }
        return sb.append(']').toString();
    }

    private static Tensor f32(Tensor t) {
        return t == null ? null : t.to(torch.ScalarType.Float);
    }

    /** @return the teacher-output cache, or null */
    public TeacherCache teacherCache() {
        return cache;
    }

    private void open() {
        if (closed) {
            throw new IllegalStateException("Trainer is closed");
        }
    }

    /** Closes the metrics log; the borrowed models, optimizer and loader stay open. Idempotent. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            if (metrics != null) {
                metrics.close();
            }
        }
    }

    /** Builder for {@link Trainer}. Not thread-safe. */
    public static final class Builder {
        private final VideoModel student;
        private final TrainingOptimizer optimizer;
        private final CosineSchedule schedule;
        private final DataLoader loader;
        private List<Teacher> teachers = List.of();
        private Device device;
        private long maxSteps;
        private String studentView;
        private DistillationObjective objective;
        private double clipGradNorm;
        private Path metricsFile;
        private int logEvery = 50;
        private PrintStream progressOut = System.err;
        private Path checkpointDir;
        private int checkpointEvery = 1;
        private String configJson;
        private TeacherCache cache;
        private int checkpointEverySteps;
        private double labelSmoothing;
        private torch.DeviceType autocastDevice;
        private torch.ScalarType autocastDtype;
        private GradientSync gradientSync;
        private NonFinitePolicy onNonFinite = NonFinitePolicy.STOP;
        private int maxNonFiniteSkips = 5;
        private java.util.function.Consumer<StepEvent> onStep;

        private Builder(VideoModel student, TrainingOptimizer optimizer, CosineSchedule schedule, DataLoader loader) {
            this.student = Objects.requireNonNull(student, "student");
            this.optimizer = Objects.requireNonNull(optimizer, "optimizer");
            this.schedule = Objects.requireNonNull(schedule, "schedule");
            this.loader = Objects.requireNonNull(loader, "loader");
            this.studentView = loader.sampler().viewNames().get(0);
        }

        /**
         * @param objective the distillation objective (borrowed)
         * @param teachers  frozen teachers (borrowed), in the objective's order (ViT at vitTeacher, CNN at cnnTeacher)
         * @param views     the batch view each teacher takes, same order
         * @return this
         */
        public Builder distill(DistillationObjective objective, List<VideoModel> teachers, List<String> views) {
            if (teachers.size() != views.size()) {
                throw new IllegalArgumentException("need one view per teacher: " + teachers.size() + " teachers, views "
                        + views);
            }
            List<Teacher> ts = new ArrayList<>();
            for (int i = 0; i < teachers.size(); i++) {
                ts.add(Teacher.of(teachers.get(i), views.get(i)));
            }
            return distill(objective, ts);
        }

        /**
         * @param objective the distillation objective (borrowed)
         * @param teachers  frozen teachers (their models borrowed), in the objective's order
         * @return this
         */
        public Builder distill(DistillationObjective objective, List<Teacher> teachers) {
            this.objective = Objects.requireNonNull(objective, "objective");
            this.teachers = List.copyOf(teachers);
            return this;
        }

        /**
         * @param d the device the models live on; each batch's views and labels are copied there (on CUDA by a
         *          {@link DevicePrefetcher}: from pinned host memory, non-blocking, on a side stream, one batch
         *          ahead), null = leave them where the loader made them (the CPU)
         * @return this
         */
        public Builder device(Device d) { this.device = d; return this; }

        /**
         * @param steps stop after this many optimizer steps in all (counting restored ones), writing a mid-epoch
         *              checkpoint there when checkpoints are on; 0 = no limit
         * @return this
         */
        public Builder maxSteps(long steps) {
            if (steps < 0) {
                throw new IllegalArgumentException("maxSteps: must be >= 0, got " + steps);
            }
            this.maxSteps = steps;
            return this;
        }

        /** @param view the student's batch view; @return this */
        public Builder studentView(String view) { this.studentView = Objects.requireNonNull(view); return this; }

        /** @param maxNorm global gradient-norm bound, 0 = none; @return this */
        public Builder clipGradNorm(double maxNorm) {
            if (!(maxNorm >= 0) || Double.isInfinite(maxNorm)) {
                throw new IllegalArgumentException("clipGradNorm: must be finite and >= 0, got " + maxNorm);
            }
            this.clipGradNorm = maxNorm;
            return this;
        }

        /**
         * @param listener called on the training thread after every finite step with its labels, loss terms and
         *                 per-sample teacher weights (which costs one device-to-host copy per step), null = none
         * @return this
         */
        public Builder onStep(java.util.function.Consumer<StepEvent> listener) { this.onStep = listener; return this; }

        /** @param file JSONL metrics file, null = none; @return this */
        public Builder metrics(Path file) { this.metricsFile = file; return this; }

        /** @param steps steps between progress lines (>= 1); @param out stream, null = none; @return this */
        public Builder progress(int steps, PrintStream out) {
            if (steps < 1) {
                throw new IllegalArgumentException("logEvery: must be >= 1, got " + steps);
            }
            this.logEvery = steps;
            this.progressOut = out;
            return this;
        }

        /** @param dir checkpoint root, null = none; @param everyEpochs epochs between checkpoints (>= 1); @return this */
        public Builder checkpoints(Path dir, int everyEpochs) {
            if (everyEpochs < 1) {
                throw new IllegalArgumentException("checkpointEvery: must be >= 1, got " + everyEpochs);
            }
            this.checkpointDir = dir;
            this.checkpointEvery = everyEpochs;
            return this;
        }

        /**
         * @param cache teacher-output cache (borrowed), null = none; entries are keyed by each teacher's weights and
         *              the view record, so it is correct for any sampler but only pays off where views repeat
         * @return this
         */
        public Builder teacherCache(TeacherCache cache) { this.cache = cache; return this; }

        /**
         * Also writes mid-epoch checkpoints ({@code checkpointDir/step-NNNNNNNN}) every {@code steps} optimizer steps,
         * from which {@link #resume} continues inside the epoch, bit-identically on CPU.
         *
         * @param steps steps between mid-epoch checkpoints, 0 = none
         * @return this
         */
        public Builder checkpointEverySteps(int steps) {
            if (steps < 0) {
                throw new IllegalArgumentException("checkpointEverySteps: must be >= 0, got " + steps);
            }
            this.checkpointEverySteps = steps;
            return this;
        }

        /**
         * @param sync called around every backward pass to average gradients across data-parallel replicas
         *             (borrowed; e.g. {@code org.dualdistill.distributed.DataParallel}), null = none
         * @return this
         */
        public Builder optGradientSync(GradientSync sync) { this.gradientSync = sync; return this; }

        /**
         * @param epsilon label smoothing of the cross-entropy when training without teachers, in [0, 1) (with an
         *                objective, its own DATW config's label smoothing applies)
         * @return this
         */
        public Builder labelSmoothing(double epsilon) {
            if (!(epsilon >= 0 && epsilon < 1)) {
                throw new IllegalArgumentException("labelSmoothing: must be in [0, 1), got " + epsilon);
            }
            this.labelSmoothing = epsilon;
            return this;
        }

        /**
         * Mixed precision: the student's and the teachers' forward passes run under LibTorch's autocast for
         * {@code device} with {@code dtype} (bf16 on CUDA is the usual choice; CPU autocast also works); the objective
         * and the losses are computed in float32, and the weights and optimizer state stay float32.
         *
         * @param device {@code torch.DeviceType.CUDA} or {@code CPU}, null = off
         * @param dtype  {@code torch.ScalarType.BFloat16} or {@code Half}
         * @return this
         */
        public Builder autocast(torch.DeviceType device, torch.ScalarType dtype) {
            if (device != null && dtype == null) {
                throw new IllegalArgumentException("autocast: a dtype is required");
            }
            this.autocastDevice = device;
            this.autocastDtype = dtype;
            return this;
        }

        /**
         * What to do when a step's loss (a term or the total) or global gradient norm is NaN or infinite
         * ({@code run.onNonFinite}, {@code run.maxNonFiniteSkips}). Default: {@link NonFinitePolicy#STOP}, 5.
         *
         * @param policy   stop at once, or drop such steps
         * @param maxSkips under {@link NonFinitePolicy#SKIP}, the most consecutive dropped steps before stopping (>= 0)
         * @return this
         */
        public Builder onNonFinite(NonFinitePolicy policy, int maxSkips) {
            if (maxSkips < 0) {
                throw new IllegalArgumentException("maxNonFiniteSkips: must be >= 0, got " + maxSkips);
            }
            this.onNonFinite = Objects.requireNonNull(policy, "policy");
            this.maxNonFiniteSkips = maxSkips;
            return this;
        }

        /** @param json the run configuration saved with each checkpoint; @return this */
        public Builder configJson(String json) { this.configJson = json; return this; }

        /**
         * @return the trainer; caller must close
         * @throws IOException when the metrics file cannot be opened
         */
        public Trainer build() throws IOException {
            return new Trainer(this);
        }
    }
}
