package org.dualdistill.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.data.DataLoader;
import org.dualdistill.data.Hmdb51Dataset;
import org.dualdistill.data.synthetic.SyntheticActionDataset;
import org.dualdistill.data.synthetic.SyntheticConfig;
import org.dualdistill.distill.DistillationObjective;
import org.dualdistill.model.VideoModel;
import org.dualdistill.model.io.SafeTensors;
import org.dualdistill.model.mvit.MViT;
import org.dualdistill.model.mvit.MViTConfig;
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
import org.dualdistill.video.ClipSampler;
import org.dualdistill.video.MultiViewSampler;
import org.dualdistill.video.VideoTransform;
import org.dualdistill.video.ViewSpec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The embedded end-to-end demo: generates the synthetic action dataset, trains (or reuses from the cache) a reduced
 * MViT teacher and a reduced X3D teacher with cross-entropy on their views, then trains a reduced X3D student seven
 * ways (alone, single-teacher KD from each teacher, uniform dual, DATW, DATW + SDD, DATW + SDD + RKD), evaluates each,
 * prints one table (means over seeds) and writes a report folder (curves, confusion matrix, ablation chart, HTML).
 *
 * <p>Teacher weights are saved as safetensors under {@code DATA/cache/}, named by a hash of the dataset, teacher and
 * schedule settings and the seed; a later run with the same settings loads them instead of training.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "End-to-end demo: synthetic data, cached teachers, 7-way ablation of the student, table + HTML report.")
final class DemoCommand implements Callable<Integer> {
    /** the rows of the ablation table, in order */
    static final List<String> VARIANTS = List.of("student alone", "KD (ViT teacher)", "KD (CNN teacher)", "uniform dual",
            "DATW", "DATW + SDD", "DATW + SDD + RKD");

    @Option(names = "--quick", description = "small dataset, few epochs, one seed (about 2 minutes on 2 cores)")
    boolean quick;
    @Option(names = "--out", paramLabel = "DIR", description = "output folder; the report goes to DIR/report (default ${DEFAULT-VALUE})")
    Path out = Path.of("runs", "demo");
    @Option(names = "--data", paramLabel = "DIR", description = "dataset folder, generated when missing or different (default OUT/data)")
    Path data;
    @Option(names = "--seeds", description = "student seeds per variant (default 2, --quick 1)")
    Integer seeds;
    @Option(names = "--epochs", description = "student epochs per run (default 25, --quick 15)")
    Integer epochs;
    @Option(names = "--teacher-epochs", description = "teacher epochs (default 40, --quick 30)")
    Integer teacherEpochs;
    @Option(names = "--seed", description = "master seed (dataset, teachers; student seeds are seed, seed+1, ...) (default ${DEFAULT-VALUE})")
    long seed = 0;
    @Option(names = "--classes", hidden = true, description = "classes (default 6, --quick 4)")
    Integer classes;
    @Option(names = "--videos-per-class", hidden = true, description = "videos per class (default 24, --quick 12)")
    Integer videosPerClass;
    @Option(names = "--batch", hidden = true, description = "clips per step (default ${DEFAULT-VALUE})")
    int batch = 8;

    private static final int SIZE = 32;
    private static final int CROP = 32;
    private static final int T = 4;
    private static final int STRIDE = 2;

    /** One trained-and-evaluated student run. */
    record Run(String variant, long seed, double top1, double seconds, double[] losses, EvalResult eval) {
    }

    @Override
    public Integer call() {
        int nClasses = classes != null ? classes : quick ? 4 : 6;
        int vpc = videosPerClass != null ? videosPerClass : quick ? 12 : 24;
        int nSeeds = seeds != null ? seeds : quick ? 1 : 2;
        int ep = epochs != null ? epochs : quick ? 15 : 25;
        int tep = teacherEpochs != null ? teacherEpochs : quick ? 30 : 40;
        if (nClasses < 2 || nClasses > 10 || vpc < 3 || nSeeds < 1 || ep < 1 || tep < 1 || batch < 1) {
            return fail("need 2 <= classes <= 10, videos-per-class >= 3, and seeds, epochs, teacher-epochs, batch >= 1");
        }
        Path dataDir = data != null ? data : out.resolve("data");
        Path reportDir = out.resolve("report");
        long t0 = System.nanoTime();
        PrintStream o = System.out;
        try {
            SyntheticConfig sc = SyntheticConfig.builder().optNumClasses(nClasses).optVideosPerClass(vpc).optSize(SIZE, SIZE)
                    .optFrames(12, 20).optSeed(seed).optFormat(SyntheticConfig.Format.MPEG4_AVI).build();
            ensureDataset(dataDir, sc, "classes=" + nClasses + " vpc=" + vpc + " size=" + SIZE + " frames=12-20 seed=" + seed);
            Hmdb51Dataset train = Hmdb51Dataset.builder(dataDir).optSplit(1).build();
            Hmdb51Dataset test = Hmdb51Dataset.builder(dataDir).optSplit(1).optSubset(Hmdb51Dataset.Subset.TEST).build();
            if (train.size() == 0 || test.size() == 0) {
                return fail(dataDir.toAbsolutePath() + ": split 1 has " + train.size() + " training and " + test.size()
                        + " test videos; need at least one of each");
            }
            o.printf(Locale.ROOT, "demo: %d classes, %d train / %d test videos, student %d x %d x %d, %d epochs x %d seed(s)%n",
                    train.numClasses(), train.size(), test.size(), T, CROP, CROP, ep, nSeeds);
            TrainConfig cfg = TrainConfig.embeddedDemo().withOverrides(List.of("data.clipLength=" + T,
                    "data.frameStride=" + STRIDE, "data.crop=" + CROP, "data.batchSize=" + batch, "data.workers=1",
                    "schedule.epochs=" + Math.max(ep, tep), "schedule.warmupEpochs=0"));
            return run(cfg, train, test, dataDir, reportDir, ep, tep, nSeeds, t0);
        } catch (IOException | RuntimeException e) {
            return fail(e.getClass().getSimpleName() + ": " + e.getMessage());
        }
    }

    private static void ensureDataset(Path dir, SyntheticConfig sc, String stamp) throws IOException {
        Path stampFile = dir.resolve("demo-dataset.txt");
        if (Files.isRegularFile(stampFile) && Files.readString(stampFile).strip().equals(stamp)) {
            System.out.println("demo: reusing dataset " + dir.toAbsolutePath());
            return;
        }
        long t = System.nanoTime();
        var ds = SyntheticActionDataset.generate(dir, sc);
        Files.writeString(stampFile, stamp + "\n", StandardCharsets.UTF_8);
        System.out.printf(Locale.ROOT, "demo: generated %d videos in %s (%.1f s)%n", ds.videos().size(),
                dir.toAbsolutePath(), (System.nanoTime() - t) / 1e9);
    }

    private int run(TrainConfig cfg, Hmdb51Dataset trainSet, Hmdb51Dataset testSet, Path dataDir, Path reportDir,
                    int ep, int tep, int nSeeds, long t0) throws IOException {
        long nClasses = trainSet.numClasses();
        TrainConfig.Data d = cfg.data();
        MultiViewSampler trainViews = MultiViewSampler.builder(ClipSampler.random(T, STRIDE),
                        VideoTransform.of(CROP, Math.round(CROP * 1.15f), VideoTransform.Crop.RANDOM, d.flipProbability())).addView(ViewSpec.of("student", T, CROP))
                .addView(ViewSpec.of("vit", 2 * T, CROP)).addView(ViewSpec.of("cnn", T, CROP)).build();
        MultiViewSampler testViews = MultiViewSampler.builder(ClipSampler.constantPerVideo(T, STRIDE, 1, 1),
                        VideoTransform.center(CROP)).addView(ViewSpec.of("student", T, CROP))
                .addView(ViewSpec.of("vit", 2 * T, CROP)).addView(ViewSpec.of("cnn", T, CROP)).build();
        torch.manual_seed(seed);
        List<Run> runs = new ArrayList<>();
        double teacherVitTop1;
        double teacherCnnTop1;
        try (MViT vit = new MViT(MViTConfig.builder().depth(2).embedDim(16).numHeads(1).stageStarts(1)
                .numFrames(2 * T).cropSize(CROP).numClasses(nClasses).dropPathRate(0).build());
             X3d cnn = DistillCommand.x3d(nClasses, T, CROP, 0.5);
             DataLoader loader = DataLoader.builder(trainSet, trainViews).optBatchSize(d.batchSize()).optWorkers(1)
                     .optDropLast(trainSet.size() > d.batchSize() /* RKD needs >= 2 clips per batch */).optSeed(seed).build();
             DataLoader testLoader = DataLoader.builder(testSet, testViews).optBatchSize(d.batchSize()).optWorkers(1)
                     .optShuffle(false).optSeed(seed).build()) {
            String key = cacheKey(dataDir, cfg, tep, nClasses);
            Path cache = dataDir.resolve("cache");
            teacher(vit, "vit", cache.resolve("teacher-vit-" + key + ".safetensors"), cfg, loader, tep);
            teacher(cnn, "cnn", cache.resolve("teacher-cnn-" + key + ".safetensors"), cfg, loader, tep);
            teacherVitTop1 = 100 * Evaluator.evaluate(vit, testLoader, "vit", true, 0).top1();
            teacherCnnTop1 = 100 * Evaluator.evaluate(cnn, testLoader, "cnn", true, 0).top1();
            System.out.printf(Locale.ROOT, "demo: teachers top-1: ViT (MViT, %d frames) %.1f%%, CNN (X3D) %.1f%%%n", 2 * T,
                    teacherVitTop1, teacherCnnTop1);
            for (int si = 0; si < nSeeds; si++) {
                long s = seed + si;
                for (String v : VARIANTS) {
                    Run r = student(v, s, cfg, vit, cnn, loader, testLoader, ep, nClasses);
                    runs.add(r);
                    System.err.printf(Locale.ROOT, "demo: seed %d %-18s top-1 %5.1f%% (%.1f s)%n", s, v, r.top1(), r.seconds());
                }
            }
            long params;
            double gmacs;
            try (X3d probe = DistillCommand.x3d(nClasses, T, CROP, 0)) {
                params = probe.parameterCount();
                gmacs = probe.gmacs(T, CROP);
            }
            double total = (System.nanoTime() - t0) / 1e9;
            report(runs, nSeeds, params, gmacs, teacherVitTop1, teacherCnnTop1, vit.parameterCount(), vit.config().gmacs(),
                    cnn.parameterCount(), cnn.gmacs(T, CROP), trainSet.classNames(), reportDir, ep, tep, total);
            for (Run r : runs) {
                if (!Double.isFinite(r.losses()[r.losses().length - 1])) {
                    return 1;
                }
            }
            return 0;
        }
    }

    private static String cacheKey(Path dataDir, TrainConfig cfg, int tep, long nClasses) throws IOException {
        String stamp = Files.readString(dataDir.resolve("demo-dataset.txt")).strip();
        String s = String.join("|", "v1", stamp, "classes=" + nClasses, "T=" + T, "crop=" + CROP, "stride=" + STRIDE,
                "epochs=" + tep, "optimizer=" + cfg.optimizer(), "batch=" + cfg.data().batchSize(),
                "vit=depth2,dim16,heads1", "cnn=x3d w0.5 d0.5 h64 p0.5");
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(h, 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Loads a teacher from the cache, or trains it with CE on its view and saves it there. */
    private void teacher(VideoModel m, String view, Path file, TrainConfig cfg, DataLoader loader, int tep) throws IOException {
        if (Files.isRegularFile(file)) {
            SafeTensors.loadInto(m.module(), file, SafeTensors.Mode.STRICT, null);
            m.module().eval();
            System.out.println("demo: reusing cached " + view + " teacher " + file.toAbsolutePath());
            return;
        }
        long t = System.nanoTime();
        List<Trainer.EpochStats> h = fit(m, view, null, null, null, cfg, loader, tep);
        Files.createDirectories(file.getParent());
        SafeTensors.save(m.module(), file, Map.of("view", view, "epochs", Integer.toString(tep)));
        m.module().eval();
        System.out.printf(Locale.ROOT, "demo: trained %s teacher (%d epochs, loss %.3f -> %.3f, %.1f s), saved %s%n", view,
                tep, h.get(0).meanLoss(), h.get(h.size() - 1).meanLoss(), (System.nanoTime() - t) / 1e9,
                file.toAbsolutePath());
    }

    private static List<Trainer.EpochStats> fit(VideoModel m, String view, DistillationObjective objective,
                                                List<VideoModel> teachers, List<String> views, TrainConfig cfg,
                                                DataLoader loader, int epochs) throws IOException {
        List<Module> mods = new ArrayList<>();
        mods.add(m.module());
        if (objective != null) {
            mods.addAll(objective.trainableModules());
        }
        TrainConfig c = cfg.withOverrides(List.of("schedule.epochs=" + epochs));
        try (TrainingOptimizer opt = Optimizers.create(c.optimizer(), mods)) {
            CosineSchedule schedule = CosineSchedule.of(c.optimizer(), c.schedule(), loader.batchesPerEpoch());
            Trainer.Builder tb = Trainer.builder(m, opt, schedule, loader).studentView(view)
                    .clipGradNorm(c.optimizer().clipGradNorm());
            if (objective != null) {
                tb.distill(objective, teachers, views);
            }
            try (Trainer trainer = tb.build()) {
                return trainer.fit(epochs);
            }
        }
    }

    private static Run student(String variant, long s, TrainConfig cfg, MViT vit, X3d cnn, DataLoader loader,
                               DataLoader testLoader, int ep, long nClasses) throws IOException {
        List<String> ov = new ArrayList<>(List.of("run.seed=" + s));
        List<VideoModel> teachers;
        List<String> views;
        switch (variant) {
            case "student alone" -> {
                teachers = null;
                views = null;
            }
            case "KD (ViT teacher)" -> {
                teachers = List.of(vit);
                views = List.of("vit");
                ov.addAll(List.of("objective.weighting=UNIFORM", "objective.sddWeight=0", "objective.rkdWeight=0"));
            }
            case "KD (CNN teacher)" -> {
                teachers = List.of(cnn);
                views = List.of("cnn");
                ov.addAll(List.of("objective.weighting=UNIFORM", "objective.sddWeight=0", "objective.rkdWeight=0"));
            }
            case "uniform dual" -> {
                teachers = List.of(vit, cnn);
                views = List.of("vit", "cnn");
                ov.addAll(List.of("objective.weighting=UNIFORM", "objective.sddWeight=0", "objective.rkdWeight=0"));
            }
            case "DATW" -> {
                teachers = List.of(vit, cnn);
                views = List.of("vit", "cnn");
                ov.addAll(List.of("objective.weighting=DATW", "objective.sddWeight=0", "objective.rkdWeight=0"));
            }
            case "DATW + SDD" -> {
                teachers = List.of(vit, cnn);
                views = List.of("vit", "cnn");
                ov.addAll(List.of("objective.weighting=DATW", "objective.rkdWeight=0"));
            }
            case "DATW + SDD + RKD" -> {
                teachers = List.of(vit, cnn);
                views = List.of("vit", "cnn");
                ov.add("objective.weighting=DATW");
            }
            default -> throw new IllegalArgumentException("unknown variant " + variant);
        }
        TrainConfig c = cfg.withOverrides(ov);
        long t0 = System.nanoTime();
        torch.manual_seed(s);
        try (X3d student = DistillCommand.x3d(nClasses, T, CROP, 0.0);
             DistillationObjective objective = teachers == null ? null
                     : DistillCommand.objective(c.objective(), student, vit, cnn, T, CROP)) {
            List<Trainer.EpochStats> h = fit(student, "student", objective, teachers, views, c, loader, ep);
            EvalResult r = Evaluator.evaluate(student, testLoader, "student", true, 0);
            double[] losses = h.stream().mapToDouble(Trainer.EpochStats::meanLoss).toArray();
            return new Run(variant, s, 100 * r.top1(), (System.nanoTime() - t0) / 1e9, losses, r);
        }
    }

    private static void report(List<Run> runs, int nSeeds, long params, double gmacs, double vitTop1, double cnnTop1,
                               long vitParams, double vitGmacs, long cnnParams, double cnnGmacs, List<String> classNames,
                               Path dir, int ep, int tep, double totalSeconds) throws IOException {
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
        o.printf(Locale.ROOT, "%-20s %9.1f %7s %,10d %8.4f %9s%n", "(teacher ViT/MViT)", vitTop1, "", vitParams, vitGmacs, "");
        o.printf(Locale.ROOT, "%-20s %9.1f %7s %,10d %8.4f %9s%n", "(teacher CNN/X3D)", cnnTop1, "", cnnParams, cnnGmacs, "");
        rows.add(List.of("(teacher ViT/MViT)", fmt("%.1f", vitTop1), "", fmt("%,d", vitParams), fmt("%.4f", vitGmacs), ""));
        rows.add(List.of("(teacher CNN/X3D)", fmt("%.1f", cnnTop1), "", fmt("%,d", cnnParams), fmt("%.4f", cnnGmacs), ""));
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
        List<String> paras = List.of(
                "Synthetic action dataset, reduced X3D student (" + String.format(Locale.ROOT, "%,d", params)
                        + " parameters), " + ep + " student epochs per run, teachers trained for " + tep + " epochs.",
                "Top-1 is the mean over " + nSeeds + " seed(s) on the test split of split 1, as measured; wall time is "
                        + "seconds per student run (training + evaluation). Total run time "
                        + fmt("%.1f", totalSeconds) + " s.");
        HtmlReport.write(dir.resolve("index.html"), "dualdistill demo: ablation", paras, header, rows,
                List.of(new HtmlReport.Figure("ablation.png", "Student top-1 per method"),
                        new HtmlReport.Figure("curves.png", "Training loss per epoch per run"),
                        new HtmlReport.Figure("confusion.png", "Confusion matrix of the best run")));
        o.println("report: " + dir.resolve("index.html").toAbsolutePath());
    }

    private static String fmt(String f, Object... a) {
        return String.format(Locale.ROOT, f, a);
    }

    private static int fail(String message) {
        System.err.println("demo: " + message);
        return 2;
    }
}
