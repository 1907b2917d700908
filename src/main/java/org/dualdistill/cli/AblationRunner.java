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

import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.data.DataLoader;
import org.dualdistill.distill.DistillationObjective;
import org.dualdistill.distill.TeacherCache;
import org.dualdistill.model.VideoModel;
import org.dualdistill.model.x3d.X3d;
import org.dualdistill.report.Charts;
import org.dualdistill.report.HtmlReport;
import org.dualdistill.train.CosineSchedule;
import org.dualdistill.train.EvalResult;
import org.dualdistill.train.Evaluator;
import org.dualdistill.train.Optimizers;
import org.dualdistill.train.TrainConfig;
import org.dualdistill.train.Trainer;
import org.dualdistill.train.TrainingOptimizer;

/**
 * The seven-way ablation that {@code demo} and {@code ablation} run: the reduced X3D student trained alone, with KD
 * from each teacher, with both teachers weighted uniformly, with DATW, DATW + SDD and DATW + SDD + RKD, each over
 * several seeds, evaluated on the test loader; then one table (stdout) and a report folder (PNG charts + HTML).
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
    record TeacherRow(String name, VideoModel model, String view, double top1, long params, double gmacs) {
    }

    private final TrainConfig cfg;
    private final VideoModel vit;
    private final VideoModel cnn;
    private final DataLoader loader;
    private final DataLoader testLoader;
    private final TeacherCache cache;
    private final int clipLength;
    private final int crop;
    private final long numClasses;
    private final String label;

    /**
     * @param cfg        run settings (optimizer, schedule, objective; the variant overrides the objective)
     * @param vit        the ViT teacher (view "vit")
     * @param cnn        the CNN teacher (view "cnn")
     * @param loader     training loader with views "student", "vit", "cnn"
     * @param testLoader test loader with view "student"
     * @param cache      teacher-output cache, or null
     * @param label      prefix of progress lines (e.g. "demo")
     */
    AblationRunner(TrainConfig cfg, VideoModel vit, VideoModel cnn, DataLoader loader, DataLoader testLoader,
                   TeacherCache cache, int clipLength, int crop, long numClasses, String label) {
        this.cfg = cfg;
        this.vit = vit;
        this.cnn = cnn;
        this.loader = loader;
        this.testLoader = testLoader;
        this.cache = cache;
        this.clipLength = clipLength;
        this.crop = crop;
        this.numClasses = numClasses;
        this.label = label;
    }

    /** Runs every variant for seeds {@code seed .. seed + seeds - 1}, printing one progress line per run to stderr. */
    List<Run> runAll(long seed, int seeds, int epochs) throws IOException {
        List<Run> runs = new ArrayList<>();
        for (int si = 0; si < seeds; si++) {
            long s = seed + si;
            for (String v : VARIANTS) {
                Run r = student(v, s, epochs);
                runs.add(r);
                System.err.printf(Locale.ROOT, "%s: seed %d %-18s top-1 %5.1f%% (%.1f s)%s%n", label, s, v, r.top1(), r.seconds(),
                        cache == null ? "" : " teacher cache: " + cache.hits() + " hits, " + cache.misses() + " misses");
            }
        }
        return runs;
    }

    /** Trains a model with CE alone (teachers) or distillation (students) for {@code epochs} epochs on its view. */
    static List<Trainer.EpochStats> fit(VideoModel m, String view, DistillationObjective objective, List<VideoModel> teachers,
                                        List<String> views, TrainConfig cfg, DataLoader loader, int epochs,
                                        TeacherCache cache) throws IOException {
        List<Module> mods = new ArrayList<>();
        mods.add(m.module());
        if (objective != null) {
            mods.addAll(objective.trainableModules());
        }
        TrainConfig c = cfg.withOverrides(List.of("schedule.epochs=" + epochs));
        try (TrainingOptimizer opt = Optimizers.create(c.optimizer(), mods)) {
            CosineSchedule schedule = CosineSchedule.of(c.optimizer(), c.schedule(), loader.batchesPerEpoch());
            Trainer.Builder tb = Trainer.builder(m, opt, schedule, loader).studentView(view)
                    .clipGradNorm(c.optimizer().clipGradNorm()).progress(1_000_000, null).teacherCache(cache)
                    .labelSmoothing(c.objective().labelSmoothing());
            if (objective != null) {
                tb.distill(objective, teachers, views);
            }
            try (Trainer trainer = tb.build()) {
                return trainer.fit(epochs);
            }
        }
    }

    private Run student(String variant, long s, int epochs) throws IOException {
        List<String> ov = new ArrayList<>(List.of("run.seed=" + s));
        List<VideoModel> teachers = List.of(vit, cnn);
        List<String> views = List.of("vit", "cnn");
        List<String> kdOnly = List.of("objective.sddWeight=0", "objective.rkdWeight=0");
        switch (variant) {
            case "student alone" -> {
                teachers = null;
                views = null;
            }
            case "KD (ViT teacher)" -> {
                teachers = List.of(vit);
                views = List.of("vit");
                ov.add("objective.weighting=UNIFORM");
                ov.addAll(kdOnly);
            }
            case "KD (CNN teacher)" -> {
                teachers = List.of(cnn);
                views = List.of("cnn");
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
        TrainConfig c = cfg.withOverrides(ov);
        long t0 = System.nanoTime();
        torch.manual_seed(s); // before the student exists: its initialization is seeded
        try (X3d student = CliSupport.x3d(numClasses, clipLength, crop, 0.0);
             DistillationObjective objective = teachers == null ? null
                     : CliSupport.objective(c.objective(), student, vit, cnn, clipLength, crop)) {
            List<Trainer.EpochStats> h = fit(student, "student", objective, teachers, views, c, loader, epochs, cache);
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
