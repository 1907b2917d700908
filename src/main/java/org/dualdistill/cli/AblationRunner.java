package org.dualdistill.cli;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.data.DataLoader;
import org.dualdistill.data.VideoDataset;
import org.dualdistill.distill.DistillationObjective;
import org.dualdistill.distill.Teacher;
import org.dualdistill.distill.TeacherCache;
import org.dualdistill.model.VideoModel;
import org.dualdistill.recipe.Recipe;
import org.dualdistill.recipe.RunPlan;
import org.dualdistill.report.BenchmarkResults;
import org.dualdistill.train.CosineSchedule;
import org.dualdistill.train.EvalResult;
import org.dualdistill.train.Evaluator;
import org.dualdistill.train.TrainConfig;
import org.dualdistill.train.Trainer;
import org.dualdistill.train.TrainingOptimizer;
import org.dualdistill.video.MultiViewSampler;

/**
 * The benchmark's student rows (issue 14) that {@code demo} and {@code ablation} run: the plan's student trained alone,
 * with KD from each teacher, with both teachers weighted uniformly, by EBKD, by CA-MKD, by DATW, and DATW + SDD and
 * DATW + SDD + RKD ({@link #ROWS}, named as {@link BenchmarkResults#ROW_NAMES}), each over several student seeds, each
 * run evaluated on the validation loader (when given) and the test loader. Models, objective, optimizer and schedule
 * come from the recipe layer ({@link Recipe}); a row only changes the objective's keys and which teachers the trainer
 * gets.
 *
 * <p>Pairing: a student seed {@code s} fixes both the student's initialization ({@code torch.manual_seed(s)} right
 * before it is built) and the data order and windows (the training loader of that seed has {@code run.seed = s}), so
 * the same seed gives the same initialization and the same batches in every row; the paired tests of the report pair
 * exactly these.
 *
 * <p>All runs share the frozen teachers and one {@link TeacherCache}: teacher outputs depend only on the teacher and the
 * view, so a window computed for one row is reused by every later row, seed and epoch (with fixed views). Every
 * distillation run records per-epoch diagnostics ({@link Diagnostics}). Borrows everything it is given. Not
 * thread-safe.
 */
final class AblationRunner {
    /** the rows, in table order (snake_case, as results.json names them) */
    static final List<String> ROWS = BenchmarkResults.ROW_NAMES;

    private static final Map<String, String> DISPLAY = Map.of("student_alone", "student alone", "kd_vit", "KD (ViT teacher)",
            "kd_cnn", "KD (CNN teacher)", "uniform", "uniform dual", "ebkd", "EBKD", "camkd", "CA-MKD", "datw", "DATW",
            "datw_sdd", "DATW + SDD", "datw_sdd_rkd", "DATW + SDD + RKD");

    /** @param row a row name of {@link #ROWS} @return its display name, e.g. "DATW + SDD + RKD" */
    static String display(String row) {
        String d = DISPLAY.get(row);
        if (d == null) {
            throw new IllegalArgumentException("unknown row " + row + "; rows are " + ROWS);
        }
        return d;
    }

    /**
     * One trained-and-evaluated student run.
     *
     * @param row        row name
     * @param seed       student seed (initialization and data order)
     * @param validation evaluation on the validation split, or null when there is none
     * @param test       evaluation on the test split
     * @param seconds    wall seconds (build, training, evaluations)
     * @param cpuSeconds process CPU seconds over the same interval (every thread of the JVM and LibTorch)
     * @param losses     mean training loss per epoch
     * @param diagnostics per-epoch loss terms and teacher weights (null for student alone)
     */
    record Run(String row, long seed, EvalResult validation, EvalResult test, double seconds, double cpuSeconds,
               double[] losses, Diagnostics diagnostics) {
        /** @return test top-1 in percent */
        double top1() {
            return 100 * test.top1();
        }

        /** @return validation top-1 in percent, NaN without a validation split */
        double valTop1() {
            return validation == null ? Double.NaN : 100 * validation.top1();
        }
    }

    /** A teacher in the table, with its top-1 on the test split (percent) and per family (percent; may be empty). */
    record TeacherRow(String name, double top1, long params, double gmacs, Map<String, Double> familyTop1) {
    }

    /**
     * Per-epoch diagnostics of one distillation run, from {@link Trainer.StepEvent}s: the mean of every loss term
     * (total, ce, kd, sdd, rkd) and the mean teacher weight per (teacher, class family). Not thread-safe (filled on
     * the training thread).
     */
    static final class Diagnostics implements Consumer<Trainer.StepEvent> {
        /** the loss terms recorded, in order */
        static final List<String> TERMS = List.of("total", "ce", "kd", "sdd", "rkd");
        private final List<String> familyOfClass;
        private final List<String> families;
        private final int epochs;
        private final double[][] termSum; // [term][epoch]
        private final long[] steps; // [epoch]
        private double[][][] weightSum; // [teacher][family][epoch], sized on the first event
        private long[][] weightCount; // [family][epoch]

        /**
         * @param familyOfClass family name of each class label, or null (no per-family weights)
         * @param epochs        epochs of the run
         */
        Diagnostics(List<String> familyOfClass, int epochs) {
            this.familyOfClass = familyOfClass;
            this.families = familyOfClass == null ? List.of() : familyOfClass.stream().distinct().toList();
            this.epochs = epochs;
            this.termSum = new double[TERMS.size()][epochs];
            this.steps = new long[epochs];
        }

        @Override
        public void accept(Trainer.StepEvent e) {
            if (e.breakdown() == null || e.epoch() < 0 || e.epoch() >= epochs) {
                return;
            }
            int ep = e.epoch();
            var b = e.breakdown();
            double[] v = {b.total(), b.ce(), b.kd(), b.sdd(), b.rkd()};
            for (int i = 0; i < v.length; i++) {
                termSum[i][ep] += v[i];
            }
            steps[ep]++;
            float[] w = e.weights();
            int[] labels = e.labels();
            if (w == null || familyOfClass == null || labels.length == 0 || w.length % labels.length != 0) {
                return;
            }
            int k = w.length / labels.length;
            if (weightSum == null) {
                weightSum = new double[k][families.size()][epochs];
                weightCount = new long[families.size()][epochs];
            }
            if (k != weightSum.length) {
                return;
            }
            for (int i = 0; i < labels.length; i++) {
                int f = families.indexOf(familyOfClass.get(labels[i]));
                weightCount[f][ep]++;
                for (int t = 0; t < k; t++) {
                    weightSum[t][f][ep] += w[i * k + t];
                }
            }
        }

        /** @return the family names, in order of first appearance among the classes */
        List<String> families() {
            return families;
        }

        /** @return term -&gt; mean per epoch (NaN for an epoch without steps) */
        Map<String, double[]> terms() {
            Map<String, double[]> out = new LinkedHashMap<>();
            for (int i = 0; i < TERMS.size(); i++) {
                double[] m = new double[epochs];
                for (int ep = 0; ep < epochs; ep++) {
                    m[ep] = steps[ep] == 0 ? Double.NaN : termSum[i][ep] / steps[ep];
                }
                out.put(TERMS.get(i), m);
            }
            return out;
        }

        /** @return [teacher][family][epoch] mean teacher weight over that family's training samples, or null if none */
        double[][][] weights() {
            if (weightSum == null) {
                return null;
            }
            double[][][] out = new double[weightSum.length][families.size()][epochs];
            for (int t = 0; t < weightSum.length; t++) {
                for (int f = 0; f < families.size(); f++) {
                    for (int ep = 0; ep < epochs; ep++) {
                        out[t][f][ep] = weightCount[f][ep] == 0 ? Double.NaN : weightSum[t][f][ep] / weightCount[f][ep];
                    }
                }
            }
            return out;
        }
    }

    private final RunPlan plan;
    private final Teacher vit;
    private final Teacher cnn;
    private final VideoDataset trainSet;
    private final MultiViewSampler trainViews;
    private final DataLoader validationLoader;
    private final DataLoader testLoader;
    private final TeacherCache cache;
    private final Device device;
    private final String label;
    private final List<String> familyOfClass;

    /**
     * @param plan             the run (student, teacher views, optimizer, schedule, objective; a row overrides the
     *                         objective)
     * @param vit              the ViT teacher (view "vit")
     * @param cnn              the CNN teacher (view "cnn")
     * @param trainSet         training videos; each student seed gets its own loader over them (its data order)
     * @param trainViews       training views "student", "vit", "cnn"
     * @param validationLoader validation loader with view "student", or null
     * @param testLoader       test loader with view "student"
     * @param cache            teacher-output cache, or null
     * @param device           where the models live
     * @param label            prefix of progress lines (e.g. "demo")
     * @param familyOfClass    family of each class label (per-family diagnostics), or null
     */
    AblationRunner(RunPlan plan, Teacher vit, Teacher cnn, VideoDataset trainSet, MultiViewSampler trainViews,
                   DataLoader validationLoader, DataLoader testLoader, TeacherCache cache, Device device, String label,
                   List<String> familyOfClass) {
        this.plan = plan;
        this.vit = vit;
        this.cnn = cnn;
        this.trainSet = trainSet;
        this.trainViews = trainViews;
        this.validationLoader = validationLoader;
        this.testLoader = testLoader;
        this.cache = cache;
        this.device = device;
        this.label = label;
        this.familyOfClass = familyOfClass;
    }

    /**
     * Runs every row for seeds {@code seed .. seed + seeds - 1} (seed-major: all rows of a seed share its loader),
     * with a progress bar over the runs.
     */
    List<Run> runAll(long seed, int seeds, int epochs) throws IOException {
        long[] s = new long[seeds];
        for (int i = 0; i < seeds; i++) {
            s[i] = seed + i;
        }
        return run(ROWS, s, epochs, List.of(), label + " student runs");
    }

    /**
     * Runs the given rows for the given seeds with extra config overrides (e.g. a tuning candidate).
     *
     * @param rows      row names
     * @param seeds     student seeds
     * @param epochs    epochs per run
     * @param overrides extra {@code key=value} overrides applied before the row's own
     * @param barLabel  progress bar label
     * @return the runs, seed-major
     */
    List<Run> run(List<String> rows, long[] seeds, int epochs, List<String> overrides, String barLabel) throws IOException {
        List<Run> runs = new ArrayList<>();
        try (Progress bar = Progress.of(barLabel, (long) seeds.length * rows.size(), "run")) {
            for (long s : seeds) {
                RunPlan seeded = seeded(plan, s, overrides);
                try (DataLoader loader = Recipe.trainLoader(seeded, trainSet, trainViews, 0, 1, true)) {
                    for (String row : rows) {
                        Run r = student(seeded, row, s, epochs, loader);
                        runs.add(r);
                        bar.step(String.format(Locale.ROOT, "seed %d %-16s val %5.1f%% test %5.1f%% (%.1f s, cpu %.1f s)%s", s,
                                display(row), r.valTop1(), r.top1(), r.seconds(), r.cpuSeconds(),
                                cache == null ? "" : " teacher cache: " + cache.hits() + " hits, " + cache.misses() + " misses"));
                    }
                }
            }
        }
        return runs;
    }

    private static RunPlan seeded(RunPlan p, long seed, List<String> overrides) {
        List<String> ov = new ArrayList<>(overrides);
        ov.add("run.seed=" + seed);
        return new RunPlan(p.config().withOverrides(ov), p.model(), p.teachers(), p.device(), p.classNames());
    }

    /** Trains a model with CE alone (teachers) or distillation (students) for {@code epochs} epochs on its view. */
    static List<Trainer.EpochStats> fit(VideoModel m, String view, DistillationObjective objective, List<Teacher> teachers,
                                        TrainConfig cfg, DataLoader loader, int epochs, TeacherCache cache, Device device,
                                        Consumer<Trainer.StepEvent> onStep) throws IOException {
        TrainConfig c = cfg.withOverrides(List.of("schedule.epochs=" + epochs));
        try (TrainingOptimizer opt = Recipe.optimizer(c, Recipe.trainableModules(m, objective, device))) {
            CosineSchedule schedule = Recipe.schedule(c, loader.batchesPerEpoch());
            Trainer.Builder tb = Trainer.builder(m, opt, schedule, loader).studentView(view)
                    .clipGradNorm(c.optimizer().clipGradNorm()).progress(1_000_000, null).teacherCache(cache)
                    .labelSmoothing(c.objective().labelSmoothing()).onStep(onStep);
            if (device != null && !device.is_cpu()) {
                tb.device(device);
            }
            if (objective != null) {
                tb.distill(objective, teachers);
            }
            try (Trainer trainer = tb.build()) {
                return trainer.fit(epochs);
            }
        }
    }

    /** @return the config overrides of a row (weighting, which terms are on) */
    static List<String> rowOverrides(String row) {
        List<String> kdOnly = List.of("objective.sddWeight=0", "objective.rkdWeight=0");
        List<String> ov = new ArrayList<>();
        switch (row) {
            case "student_alone" -> { }
            case "kd_vit", "kd_cnn", "uniform" -> {
                ov.add("objective.weighting=UNIFORM");
                ov.addAll(kdOnly);
            }
            case "ebkd" -> {
                ov.add("objective.weighting=EBKD");
                ov.addAll(kdOnly);
            }
            case "camkd" -> {
                ov.add("objective.weighting=CAMKD");
                ov.addAll(kdOnly);
            }
            case "datw" -> {
                ov.add("objective.weighting=DATW");
                ov.addAll(kdOnly);
            }
            case "datw_sdd" -> ov.addAll(List.of("objective.weighting=DATW", "objective.rkdWeight=0"));
            case "datw_sdd_rkd" -> ov.add("objective.weighting=DATW");
            default -> throw new IllegalArgumentException("unknown row " + row + "; rows are " + ROWS);
        }
        return ov;
    }

    private Run student(RunPlan seeded, String row, long s, int epochs, DataLoader loader) throws IOException {
        List<Teacher> teachers = switch (row) {
            case "student_alone" -> null;
            case "kd_vit" -> List.of(vit);
            case "kd_cnn" -> List.of(cnn);
            default -> List.of(vit, cnn);
        };
        TrainConfig c = seeded.config().withOverrides(rowOverrides(row));
        long t0 = System.nanoTime();
        double cpu0 = processCpuSeconds();
        torch.manual_seed(s); // before the student exists: its initialization is seeded
        // the objective always knows both teachers' channels; a single-teacher row trains with KD alone
        try (VideoModel student = Recipe.build(seeded, seeded.model(), device);
             DistillationObjective objective = teachers == null ? null
                     : Recipe.objective(c.objective(), student, seeded.model().view(), List.of(vit, cnn),
                     List.of(seeded.teacher("vit").view(), seeded.teacher("cnn").view()))) {
            Diagnostics diag = teachers == null ? null : new Diagnostics(familyOfClass, epochs);
            List<Trainer.EpochStats> h = fit(student, "student", objective, teachers, c, loader, epochs, cache, device, diag);
            EvalResult val = validationLoader == null ? null : Evaluator.evaluate(student, validationLoader, "student", true, 0);
            EvalResult test = Evaluator.evaluate(student, testLoader, "student", true, 0);
            double[] losses = h.stream().mapToDouble(Trainer.EpochStats::meanLoss).toArray();
            return new Run(row, s, val, test, (System.nanoTime() - t0) / 1e9, processCpuSeconds() - cpu0, losses, diag);
        }
    }

    /** @return CPU seconds used by this process so far (all threads), NaN where the JVM does not report it */
    static double processCpuSeconds() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            long ns = os.getProcessCpuTime();
            return ns < 0 ? Double.NaN : ns / 1e9;
        }
        return Double.NaN;
    }

    static String fmt(String f, Object... a) {
        return String.format(Locale.ROOT, f, a);
    }
}
