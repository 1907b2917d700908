package org.dualdistill.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.data.DataLoader;
import org.dualdistill.distill.DistillationObjective;
import org.dualdistill.distill.Teacher;
import org.dualdistill.distill.TeacherCache;
import org.dualdistill.model.VideoModel;
import org.dualdistill.recipe.Recipe;
import org.dualdistill.recipe.RunPlan;
import org.dualdistill.report.Charts;
import org.dualdistill.report.HtmlReport;
import org.dualdistill.train.CosineSchedule;
import org.dualdistill.train.EvalResult;
import org.dualdistill.train.Evaluator;
import org.dualdistill.train.TrainConfig;
import org.dualdistill.train.Trainer;
import org.dualdistill.train.TrainingOptimizer;

/**
 * The seven-way ablation that {@code demo} and {@code ablation} run: the plan's student trained alone, with KD
 * from each teacher, with both teachers weighted uniformly, with DATW, DATW + SDD and DATW + SDD + RKD, each over
 * several seeds, evaluated on the test loader; then one table (stdout) and a report folder (PNG charts + HTML).
 * Models, objective, optimizer and schedule come from the recipe layer ({@link Recipe}); a variant only changes the
 * objective's keys and which teachers the trainer gets.
 *
 * <p>All runs share the frozen teachers and one {@link TeacherCache}: teacher outputs depend only on the teacher and the
 * view, so a window computed for one variant is reused by every later variant and epoch. Borrows everything it is
 * given. Not thread-safe.
 */
final class AblationRunner {
    /** the rows of the ablation table, in order */
    static final List<String> VARIANTS = List.of("student alone", "KD (ViT teacher)", "KD (CNN teacher)", "uniform dual",
            "DATW", "DATW + SDD", "DATW + SDD + RKD");

    /** One trained-and-evaluated student run. */
    record Run(String variant, long seed, double top1, double seconds, double[] losses, EvalResult eval) {
    }

    /** A teacher in the ablation, with its top-1 on the test split. */
    record TeacherRow(String name, double top1, long params, double gmacs) {
    }

    private final RunPlan plan;
    private final Teacher vit;
    private final Teacher cnn;
    private final DataLoader loader;
    private final DataLoader testLoader;
    private final TeacherCache cache;
    private final Device device;
    private final String label;

    /**
     * @param plan       the run (student, teacher views, optimizer, schedule, objective; a variant overrides the objective)
     * @param vit        the ViT teacher (view "vit")
     * @param cnn        the CNN teacher (view "cnn")
     * @param loader     training loader with views "student", "vit", "cnn"
     * @param testLoader test loader with view "student"
     * @param cache      teacher-output cache, or null
     * @param device     where the models live
     * @param label      prefix of progress lines (e.g. "demo")
     */
    AblationRunner(RunPlan plan, Teacher vit, Teacher cnn, DataLoader loader, DataLoader testLoader,
                   TeacherCache cache, Device device, String label) {
        this.plan = plan;
        this.vit = vit;
        this.cnn = cnn;
        this.loader = loader;
        this.testLoader = testLoader;
        this.cache = cache;
        this.device = device;
        this.label = label;
    }

    /** Runs every variant for seeds {@code seed .. seed + seeds - 1}, with a progress bar over the runs. */
    List<Run> runAll(long seed, int seeds, int epochs) throws IOException {
        List<Run> runs = new ArrayList<>();
        try (Progress bar = Progress.of(label + " student runs", (long) seeds * VARIANTS.size(), "run")) {
            for (int si = 0; si < seeds; si++) {
                long s = seed + si;
                for (String v : VARIANTS) {
                    Run r = student(v, s, epochs);
                    runs.add(r);
                    bar.step(String.format(Locale.ROOT, "seed %d %-18s top-1 %5.1f%% (%.1f s)%s", s, v, r.top1(), r.seconds(),
                            cache == null ? "" : " teacher cache: " + cache.hits() + " hits, " + cache.misses() + " misses"));
                }
            }
        }
        return runs;
    }

    /** Trains a model with CE alone (teachers) or distillation (students) for {@code epochs} epochs on its view. */
    static List<Trainer.EpochStats> fit(VideoModel m, String view, DistillationObjective objective, List<Teacher> teachers,
                                        TrainConfig cfg, DataLoader loader, int epochs, TeacherCache cache, Device device)
            throws IOException {
        TrainConfig c = cfg.withOverrides(List.of("schedule.epochs=" + epochs));
        try (TrainingOptimizer opt = Recipe.optimizer(c, Recipe.trainableModules(m, objective, device))) {
            CosineSchedule schedule = Recipe.schedule(c, loader.batchesPerEpoch());
            Trainer.Builder tb = Trainer.builder(m, opt, schedule, loader).studentView(view)
                    .clipGradNorm(c.optimizer().clipGradNorm()).progress(1_000_000, null).teacherCache(cache)
                    .labelSmoothing(c.objective().labelSmoothing());
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

    private Run student(String variant, long s, int epochs) throws IOException {
        List<String> ov = new ArrayList<>(List.of("run.seed=" + s));
        List<Teacher> teachers = List.of(vit, cnn);
        List<String> kdOnly = List.of("objective.sddWeight=0", "objective.rkdWeight=0");
        switch (variant) {
            case "student alone" -> teachers = null;
            case "KD (ViT teacher)" -> {
                teachers = List.of(vit);
                ov.add("objective.weighting=UNIFORM");
                ov.addAll(kdOnly);
            }
            case "KD (CNN teacher)" -> {
                teachers = List.of(cnn);
                ov.add("objective.weighting=UNIFORM");
                ov.addAll(kdOnly);
            }
            case "uniform dual" -> {
                ov.add("objective.weighting=UNIFORM");
                ov.addAll(kdOnly);
            }
            case "DATW" -> {
                ov.add("objective.weighting=DATW");
                ov.addAll(kdOnly);
            }
            case "DATW + SDD" -> ov.addAll(List.of("objective.weighting=DATW", "objective.rkdWeight=0"));
            case "DATW + SDD + RKD" -> ov.add("objective.weighting=DATW");
            default -> throw new IllegalArgumentException("unknown variant " + variant);
        }
        TrainConfig c = plan.config().withOverrides(ov);
        long t0 = System.nanoTime();
        torch.manual_seed(s); // before the student exists: its initialization is seeded
        // the objective always knows both teachers' channels; a single-teacher variant trains with KD alone
        try (VideoModel student = Recipe.build(plan, plan.model(), device);
             DistillationObjective objective = teachers == null ? null
                     : Recipe.objective(c.objective(), student, plan.model().view(), List.of(vit, cnn),
                     List.of(plan.teacher("vit").view(), plan.teacher("cnn").view()))) {
            List<Trainer.EpochStats> h = fit(student, "student", objective, teachers, c, loader, epochs, cache, device);
            EvalResult r = Evaluator.evaluate(student, testLoader, "student", true, 0);
            double[] losses = h.stream().mapToDouble(Trainer.EpochStats::meanLoss).toArray();
            return new Run(variant, s, 100 * r.top1(), (System.nanoTime() - t0) / 1e9, losses, r);
        }
    }

    /** Prints the table and writes {@code dir/index.html} with curves, confusion matrix and ablation chart. */
    static void report(List<Run> runs, int nSeeds, long params, double gmacs, List<TeacherRow> teachers,
                       List<String> classNames, Path dir, List<String> paragraphs, double totalSeconds) throws IOException {
        PrintStream o = System.out;
        List<String> header = List.of("method", "top-1 (%)", "± sd", "params", "GMACs", "wall (s)");
        List<List<String>> rows = new ArrayList<>();
        double[] means = new double[VARIANTS.size()];
        double[] sds = new double[VARIANTS.size()];
        o.println();
        o.printf(Locale.ROOT, "%-20s %9s %7s %10s %8s %9s%n", "method", "top-1 (%)", "± sd", "params", "GMACs", "wall (s)");
        for (int i = 0; i < VARIANTS.size(); i++) {
            String v = VARIANTS.get(i);
            List<Run> rs = runs.stream().filter(r -> r.variant().equals(v)).toList();
            double m = rs.stream().mapToDouble(Run::top1).average().orElse(Double.NaN);
            double var = rs.stream().mapToDouble(r -> (r.top1() - m) * (r.top1() - m)).sum() / Math.max(1, rs.size() - 1);
            double sd = rs.size() > 1 ? Math.sqrt(var) : 0;
            double secs = rs.stream().mapToDouble(Run::seconds).average().orElse(Double.NaN);
            means[i] = m;
            sds[i] = sd;
            o.printf(Locale.ROOT, "%-20s %9.1f %7.1f %,10d %8.4f %9.1f%n", v, m, sd, params, gmacs, secs);
            rows.add(List.of(v, fmt("%.1f", m), fmt("%.1f", sd), fmt("%,d", params), fmt("%.4f", gmacs), fmt("%.1f", secs)));
        }
        for (TeacherRow t : teachers) {
            String name = "(teacher " + t.name() + ")";
            o.printf(Locale.ROOT, "%-20s %9.1f %7s %,10d %8.4f %9s%n", name, t.top1(), "", t.params(), t.gmacs(), "");
            rows.add(List.of(name, fmt("%.1f", t.top1()), "", fmt("%,d", t.params()), fmt("%.4f", t.gmacs()), ""));
        }
        o.printf(Locale.ROOT, "top-1: mean over %d seed(s) on the test split; wall: mean seconds per student run "
                + "(train + eval); total %.1f s%n", nSeeds, totalSeconds);

        Files.createDirectories(dir);
        Map<String, double[]> curves = new LinkedHashMap<>();
        for (Run r : runs) {
            if (r.seed() == runs.get(0).seed()) {
                curves.put(r.variant(), r.losses());
            }
        }
        Charts.lines(dir.resolve("curves.png"), "Training loss per epoch (seed " + runs.get(0).seed() + ")", "epoch",
                "mean loss", curves);
        Run best = runs.get(0);
        for (Run r : runs) {
            if (r.top1() > best.top1()) {
                best = r;
            }
        }
        Charts.confusion(dir.resolve("confusion.png"), String.format(Locale.ROOT, "Confusion matrix: %s, seed %d (top-1 %.1f%%)",
                best.variant(), best.seed(), best.top1()), best.eval().confusion(), classNames);
        Charts.bars(dir.resolve("ablation.png"), "Ablation: student top-1 (mean over " + nSeeds + " seed(s))", "top-1 (%)",
                VARIANTS, means, nSeeds > 1 ? sds : null, 100);
        List<String> paras = new ArrayList<>(paragraphs);
        paras.add("Top-1 is the mean over " + nSeeds + " seed(s) on the test split, as measured; wall time is seconds per "
                + "student run (training + evaluation). Total run time " + fmt("%.1f", totalSeconds) + " s.");
        HtmlReport.write(dir.resolve("index.html"), "dualdistill: ablation", paras, header, rows,
                List.of(new HtmlReport.Figure("ablation.png", "Student top-1 per method"),
                        new HtmlReport.Figure("curves.png", "Training loss per epoch per run"),
                        new HtmlReport.Figure("confusion.png", "Confusion matrix of the best run")));
        o.println("report: " + dir.resolve("index.html").toAbsolutePath());
    }

    static String fmt(String f, Object... a) {
        return String.format(Locale.ROOT, f, a);
    }
}
