package org.dualdistill.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import org.bytedeco.pytorch.Device;
import org.dualdistill.data.DataLoader;
import org.dualdistill.distill.Teacher;
import org.dualdistill.distill.TeacherCache;
import org.dualdistill.model.ModelZoo;
import org.dualdistill.recipe.Devices;
import org.dualdistill.recipe.Recipe;
import org.dualdistill.recipe.RunPlan;
import org.dualdistill.report.BenchmarkResults;
import org.dualdistill.train.TrainConfig;
import org.dualdistill.video.MultiViewSampler;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The embedded benchmark (the CLI's default job, issue 14): the two-stage synthetic world and its fine-tuned teachers
 * ({@link DemoSetup}), then the nine student rows of {@link AblationRunner} (student alone, KD from the ViT, KD from the
 * CNN, uniform dual, EBKD, CA-MKD, DATW, DATW + SDD, DATW + SDD + RKD) over several student seeds, each evaluated on
 * the validation and test splits, and the report of {@link BenchmarkReport}: mean and 95% interval per row, paired
 * tests against student alone and the best single-teacher row, accuracy per class family, DATW's teacher weights per
 * family and the loss terms over training, {@code results.json} next to the HTML.
 *
 * <p>Hyperparameters: the student's learning rate, the KD temperature and weight, and the SDD and RKD weights come
 * from {@link DemoHparams} (the committed resource, chosen by {@code demo --tune} on the validation split only; or
 * {@code --hparams FILE}). {@code --tune} runs that selection ({@link DemoTuning}) and writes
 * {@code OUT/demo-hparams.properties} instead of the benchmark.
 *
 * <p>Views: students see a random window with a fixed full-frame crop and no flip (flipping would swap left and right),
 * so the few windows of each video repeat across epochs, rows and seeds, and an in-memory {@link TeacherCache} serves
 * the teachers' outputs after their first computation.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Embedded benchmark: two-stage synthetic world, fine-tuned teachers, 9 student rows x seeds, "
                + "statistics, HTML report + results.json.")
final class DemoCommand implements Callable<Integer> {
    /** Student epochs per run (default job, --quick). */
    static final int EPOCHS = 6;
    static final int QUICK_EPOCHS = 2;
    /** Student seeds (default job, --quick). */
    static final int SEEDS = 5;
    static final int QUICK_SEEDS = 2;
    /** Tuning seeds are offset from the master seed by this much, so they never coincide with evaluation seeds. */
    static final long TUNE_SEED_OFFSET = 1000;

    @Option(names = "--quick", description = "fewer student epochs and " + QUICK_SEEDS + " seeds (at most 3 minutes on 2 cores)")
    boolean quick;
    @Option(names = "--out", paramLabel = "DIR", description = "output folder; the report goes to DIR/report (default ${DEFAULT-VALUE})")
    Path out = Path.of("runs", "demo");
    @Option(names = "--data", paramLabel = "DIR", description = "world folder, generated when missing or different (default OUT/world)")
    Path data;
    @Option(names = "--seeds", description = "student seeds per row (default " + SEEDS + ", --quick " + QUICK_SEEDS + ", --tune 2)")
    Integer seeds;
    @Option(names = "--epochs", description = "student epochs per run (default " + EPOCHS + ", --quick " + QUICK_EPOCHS + ")")
    Integer epochs;
    @Option(names = "--seed", description = "master seed (world, teachers; student seeds are seed, seed+1, ...) (default ${DEFAULT-VALUE})")
    long seed = 0;
    @Option(names = "--batch", description = "student clips per step (default: the setup's plan)")
    Integer batch;
    @Option(names = "--no-teacher-cache", description = "recompute the teachers' outputs at every step")
    boolean noCache;
    @Option(names = "--retrain-teachers", description = "remake the demo teachers instead of loading the committed ones")
    boolean retrainTeachers;
    @Option(names = "--tune", description = "choose the student hyperparameters on the validation split and write "
            + "OUT/demo-hparams.properties (no benchmark)")
    boolean tune;
    @Option(names = "--hparams", paramLabel = "FILE", description = "student hyperparameters (properties; default: the committed ones)")
    Path hparams;

    @Override
    public Integer call() {
        int nSeeds = seeds != null ? seeds : tune ? 2 : quick ? QUICK_SEEDS : SEEDS;
        int ep = epochs != null ? epochs : quick ? QUICK_EPOCHS : EPOCHS;
        if (nSeeds < 1 || ep < 1 || batch != null && batch < 2) {
            return fail("need --seeds >= 1, --epochs >= 1 and --batch >= 2");
        }
        Path world = data != null ? data : out.resolve("world");
        Path reportDir = out.resolve("report");
        long t0 = System.nanoTime();
        double cpu0 = AblationRunner.processCpuSeconds();
        PrintStream o = System.out;
        try {
            DemoHparams hp = DemoHparams.load(hparams);
            try (Device device = Devices.device(TrainConfig.embeddedDemo().run().device());
                 DemoSetup setup = DemoSetup.prepare(world, seed, quick, retrainTeachers, device, o)) {
                return run(setup, hp, device, nSeeds, ep, reportDir, t0, cpu0);
            }
        } catch (IOException | RuntimeException e) {
            return fail(e.getClass().getSimpleName() + ": " + e.getMessage());
        }
    }

    private int run(DemoSetup setup, DemoHparams hp, Device device, int nSeeds, int ep, Path reportDir, long t0, double cpu0)
            throws IOException {
        PrintStream o = System.out;
        List<String> ov = new ArrayList<>(List.of("data.flipProbability=0"));
        if (batch != null) {
            ov.add("data.batchSize=" + batch);
        }
        if (!tune) {
            ov.addAll(hp.overrides());
        }
        RunPlan p0 = setup.plan();
        RunPlan plan = new RunPlan(p0.config().withOverrides(ov), p0.model(), p0.teachers(), p0.device(), p0.classNames());
        RunPlan.Member vitM = plan.teacher("vit");
        RunPlan.Member cnnM = plan.teacher("cnn");
        o.printf(Locale.ROOT, "demo: %d classes, %d train / %d validation / %d test videos; student %s, %d epochs x %d seed(s) "
                        + "x %d rows, batch %d%n", plan.numClasses(), setup.train().size(), setup.validation().size(),
                setup.test().size(), plan.model().preset().name(), ep, nSeeds, AblationRunner.ROWS.size(), plan.config().data().batchSize());
        o.printf(Locale.ROOT, "demo: teachers top-1 (test): ViT %.1f%% %s, CNN %.1f%% %s (%s)%n", setup.vitTop1(),
                setup.vitFamilyTop1(), setup.cnnTop1(), setup.cnnFamilyTop1(), setup.teacherProvenance());
        MultiViewSampler trainViews = Recipe.trainSampler(plan, true);
        MultiViewSampler testViews = Recipe.testSampler(plan, 1, 1, true);
        Teacher vit = Teacher.of("vit: " + vitM.preset().name(), setup.vit(), "vit", null);
        Teacher cnn = Teacher.of("cnn: " + cnnM.preset().name(), setup.cnn(), "cnn", null);
        try (TeacherCache cache = noCache ? null : TeacherCache.inMemory(512L << 20);
             DataLoader valLoader = Recipe.testLoader(plan, setup.validation(), testViews, 0, 1);
             DataLoader testLoader = Recipe.testLoader(plan, setup.test(), testViews, 0, 1)) {
            AblationRunner runner = new AblationRunner(plan, vit, cnn, setup.train(), trainViews, valLoader, testLoader, cache,
                    device, "demo", setup.families());
            if (tune) {
                long[] ts = new long[nSeeds];
                for (int i = 0; i < nSeeds; i++) {
                    ts[i] = seed + TUNE_SEED_OFFSET + i;
                }
                List<DemoTuning.Trial> trials = new ArrayList<>();
                DemoHparams chosen = DemoTuning.tune(runner, hp, ts, ep, o, trials);
                Path f = out.resolve("demo-hparams.properties");
                List<String> comments = new ArrayList<>(List.of("Chosen by: " + chosen.provenance(),
                        String.format(Locale.ROOT, "master seed %d, world %s, teachers: %s; %.0f s wall", seed, world(),
                                setup.teacherProvenance(), (System.nanoTime() - t0) / 1e9), "Sweep (row, candidate, validation top-1 per seed, mean):"));
                comments.addAll(DemoTuning.describe(trials));
                chosen.write(f, comments);
                o.println("demo: chosen " + chosen.values() + "; written to " + f.toAbsolutePath()
                        + " (copy it to src/main/resources" + DemoHparams.RESOURCE + " to make it the default)");
                return 0;
            }
            List<AblationRunner.Run> runs = runner.runAll(seed, nSeeds, ep);
            ModelZoo.Stats st = ModelZoo.stats(plan.model().preset(), plan.numClasses(), plan.model().view());
            double total = (System.nanoTime() - t0) / 1e9;
            double cpu = AblationRunner.processCpuSeconds() - cpu0;
            List<AblationRunner.TeacherRow> teachers = List.of(
                    new AblationRunner.TeacherRow("vit", setup.vitTop1(), setup.vit().parameterCount(),
                            vitM.preset().macs().gmacs(setup.vit(), vitM.view()), setup.vitFamilyTop1()),
                    new AblationRunner.TeacherRow("cnn", setup.cnnTop1(), setup.cnn().parameterCount(),
                            cnnM.preset().macs().gmacs(setup.cnn(), cnnM.view()), setup.cnnFamilyTop1()));
            List<List<String>> hpRows = new ArrayList<>();
            for (Map.Entry<String, String> e : hp.values().entrySet()) {
                hpRows.add(List.of(e.getKey(), e.getValue(), hp.provenance() + " (" + hp.source() + ")"));
            }
            TrainConfig c = plan.config();
            hpRows.add(List.of("student epochs", Integer.toString(ep), "fixed by the time budget (not tuned)"));
            hpRows.add(List.of("data.batchSize", Integer.toString(c.data().batchSize()), "fixed by the time budget (not tuned)"));
            hpRows.add(List.of("optimizer", c.optimizer().name() + ", weight decay " + c.optimizer().weightDecay()
                    + ", clip " + c.optimizer().clipGradNorm() + ", cosine schedule, warmup " + c.schedule().warmupEpochs(),
                    "the setup's plan (not tuned)"));
            hpRows.add(List.of("DATW", c.objective().scoreMode() + ", " + c.objective().normalization() + ", tauConf "
                    + c.objective().tauConf() + ", tauWeight " + c.objective().tauWeight() + ", alphaCe " + c.objective().alphaCe(),
                    "the paper's values (not tuned)"));
            List<String> paras = List.of(
                    "Two-stage synthetic world (docs/benchmark-world.md) in " + world() + ": target classes "
                            + String.join(", ", setup.train().classNames()) + " (families " + setup.families() + "); "
                            + setup.train().size() + " training, " + setup.validation().size() + " validation and "
                            + setup.test().size() + " test videos.",
                    "Teachers: " + setup.teacherProvenance() + ". ViT " + vitM.preset().name() + ", CNN " + cnnM.preset().name() + ".",
                    "Student " + plan.model().preset().name() + " (" + AblationRunner.fmt("%,d", st.params()) + " parameters, "
                            + AblationRunner.fmt("%.4f", st.gmacs()) + " GMACs per clip), " + ep + " epochs per run, " + nSeeds
                            + " seed(s) per row; each seed fixes the initialization and the data order of every row. "
                            + (cache == null ? "No teacher cache." : "Teacher outputs served by the cache: " + cache.hits()
                            + " hits, " + cache.misses() + " misses."),
                    AblationRunner.fmt("Process CPU time %.0f s over %.0f s wall (%.2f cores busy on average); %d available "
                            + "processors, load average %.2f at the end.", cpu, total, cpu / total,
                            Runtime.getRuntime().availableProcessors(),
                            java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage()));
            BenchmarkResults.Analysis a = BenchmarkReport.write(runs, new BenchmarkReport.Context("dualdistill: the embedded benchmark",
                    paras, teachers, setup.families(), setup.train().classNames(), hpRows, seed), reportDir, total, o);
            for (AblationRunner.Run r : runs) {
                if (!Double.isFinite(r.losses()[r.losses().length - 1])) {
                    return 1;
                }
            }
            return a.rows().isEmpty() ? 1 : 0;
        }
    }

    private String world() {
        return (data != null ? data : out.resolve("world")).toAbsolutePath().toString();
    }

    private static int fail(String message) {
        System.err.println("demo: " + message);
        return 2;
    }
}
