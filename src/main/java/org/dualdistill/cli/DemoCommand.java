package org.dualdistill.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.data.DataLoader;
import org.dualdistill.data.Hmdb51Dataset;
import org.dualdistill.data.synthetic.ActionClass;
import org.dualdistill.data.synthetic.SyntheticActionDataset;
import org.dualdistill.data.synthetic.SyntheticConfig;
import org.dualdistill.data.synthetic.SyntheticDataset;
import org.dualdistill.distill.Teacher;
import org.dualdistill.distill.TeacherCache;
import org.dualdistill.model.ModelView;
import org.dualdistill.model.ModelZoo;
import org.dualdistill.model.VideoModel;
import org.dualdistill.model.io.SafeTensors;
import org.dualdistill.recipe.Devices;
import org.dualdistill.recipe.Recipe;
import org.dualdistill.recipe.RecipeException;
import org.dualdistill.recipe.RunPlan;
import org.dualdistill.train.Evaluator;
import org.dualdistill.train.TrainConfig;
import org.dualdistill.train.Trainer;
import org.dualdistill.video.ClipSampler;
import org.dualdistill.video.MultiViewSampler;
import org.dualdistill.video.VideoTransform;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The embedded end-to-end demo (the CLI's default job): generates the synthetic action dataset, trains (or reuses from
 * the cache) a reduced MViT teacher and a wider reduced X3D teacher with cross-entropy on their views, then runs the
 * seven-way {@link AblationRunner} on a reduced X3D student (alone, single-teacher KD from each teacher, uniform dual,
 * DATW, DATW + SDD, DATW + SDD + RKD), evaluates each, prints one table (means over seeds) and writes a report folder.
 *
 * <p>Data: the four translation classes (move left/right/up/down) at 32x32, 8-10 frames, no distractors, light noise
 * and camera shake: small enough for 2 CPU cores, and only motion tells the classes apart. No view is ever flipped
 * (flipping would swap left and right). Teachers train on augmented views (random window, short side and crop); the
 * students' views take a random window with a fixed full-frame crop, so the few windows of each video repeat across
 * epochs and variants, and an in-memory {@link TeacherCache} serves the teachers' outputs after their first
 * computation.
 *
 * <p>Teacher weights are saved as safetensors under {@code DATA/cache/}, named by a hash of the dataset, teacher and
 * schedule settings and the seed; a later run with the same settings loads them instead of training.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "End-to-end demo: synthetic data, cached teachers, 7-way ablation of the student, table + HTML report.")
final class DemoCommand implements Callable<Integer> {
    /** the rows of the ablation table, in order */
    static final List<String> VARIANTS = AblationRunner.VARIANTS;

    /** Class order of the demo: translations first (the easiest motion to see at 32 px), then the others. */
    static final List<ActionClass> CLASS_ORDER = List.of(ActionClass.MOVE_LEFT, ActionClass.MOVE_RIGHT, ActionClass.MOVE_UP,
            ActionClass.MOVE_DOWN, ActionClass.GROW, ActionClass.SHRINK, ActionClass.APPROACH, ActionClass.SEPARATE,
            ActionClass.ROTATE_CW, ActionClass.ROTATE_CCW);

    @Option(names = "--quick", description = "small dataset, few epochs, one seed (about 2 minutes on 2 cores)")
    boolean quick;
    @Option(names = "--out", paramLabel = "DIR", description = "output folder; the report goes to DIR/report (default ${DEFAULT-VALUE})")
    Path out = Path.of("runs", "demo");
    @Option(names = "--data", paramLabel = "DIR", description = "dataset folder, generated when missing or different (default OUT/data)")
    Path data;
    @Option(names = "--seeds", description = "student seeds per variant (default 2, --quick 1)")
    Integer seeds;
    @Option(names = "--epochs", description = "student epochs per run (default 25, --quick 10)")
    Integer epochs;
    @Option(names = "--teacher-epochs", description = "teacher epochs (default 50, --quick 20)")
    Integer teacherEpochs;
    @Option(names = "--seed", description = "master seed (dataset, teachers; student seeds are seed, seed+1, ...) (default ${DEFAULT-VALUE})")
    long seed = 0;
    @Option(names = "--classes", description = "classes, from move_left/right/up/down on (default 4)")
    Integer classes;
    @Option(names = "--videos-per-class", description = "videos per class (default 120, --quick 60)")
    Integer videosPerClass;
    @Option(names = "--batch", description = "clips per step (default ${DEFAULT-VALUE})")
    int batch = 16;
    @Option(names = "--no-teacher-cache", description = "recompute the teachers' outputs at every step")
    boolean noCache;
    @Option(names = "--retrain-teachers", description = "pretrain (source) and fine-tune (target) the two demo teachers on the "
            + "benchmark world under DATA (default OUT/world) instead of the committed ones; writes DATA/teachers/")
    boolean retrainTeachers;

    private static final int SIZE = 32;
    private static final int CROP = 32;
    private static final int T = 4;
    private static final int STRIDE = 2;

    @Override
    public Integer call() {
        if (retrainTeachers) { // issue 14: the rows helper moves the whole demo onto DemoSetup
            try (Device cpu = new Device("cpu");
                 DemoSetup s = DemoSetup.prepare(data != null ? data : out.resolve("world"), seed, quick, true, cpu, System.out)) {
                System.out.println("demo: teachers " + s.teacherProvenance());
                return 0;
            } catch (IOException | RuntimeException e) {
                return fail(e.getClass().getSimpleName() + ": " + e.getMessage());
            }
        }
        int nClasses = classes != null ? classes : 4;
        int vpc = videosPerClass != null ? videosPerClass : quick ? 60 : 120;
        int nSeeds = seeds != null ? seeds : quick ? 1 : 2;
        int ep = epochs != null ? epochs : quick ? 10 : 25;
        int tep = teacherEpochs != null ? teacherEpochs : quick ? 20 : 50;
        if (nClasses < 2 || nClasses > 10 || vpc < 3 || nSeeds < 1 || ep < 1 || tep < 1 || batch < 2) {
            return fail("need 2 <= classes <= 10, videos-per-class >= 3, batch >= 2, and seeds, epochs, teacher-epochs >= 1");
        }
        Path dataDir = data != null ? data : out.resolve("data");
        Path reportDir = out.resolve("report");
        long t0 = System.nanoTime();
        PrintStream o = System.out;
        try {
            SyntheticConfig sc = SyntheticConfig.builder().optClasses(CLASS_ORDER.subList(0, nClasses).toArray(ActionClass[]::new))
                    .optVideosPerClass(vpc).optSize(SIZE, SIZE).optFrames(8, 10).optNoise(2).optJitter(0.3).optDistractors(0)
                    .optMovingBackground(false).optSeed(seed).optFormat(SyntheticConfig.Format.MPEG4_AVI).build();
            ensureDataset(dataDir, sc, "v2 classes=" + sc.classes() + " vpc=" + vpc + " size=" + SIZE
                    + " frames=8-10 noise=2 jitter=0.3 distractors=0 static-bg seed=" + seed);
            Hmdb51Dataset train = Hmdb51Dataset.builder(dataDir).optSplit(1).build();
            Hmdb51Dataset test = Hmdb51Dataset.builder(dataDir).optSplit(1).optSubset(Hmdb51Dataset.Subset.TEST).build();
            if (train.size() == 0 || test.size() == 0) {
                return fail(dataDir.toAbsolutePath() + ": split 1 has " + train.size() + " training and " + test.size()
                        + " test videos; need at least one of each");
            }
            o.printf(Locale.ROOT, "demo: %d classes, %d train / %d test videos, student %d x %d x %d, %d epochs x %d seed(s)%n",
                    train.numClasses(), train.size(), test.size(), T, CROP, CROP, ep, nSeeds);
            TrainConfig cfg = TrainConfig.embeddedDemo().withOverrides(List.of("data.root=" + dataDir,
                    "data.batchSize=" + batch, "data.workers=1", "data.flipProbability=0", "optimizer.name=ADAMW",
                    "optimizer.lr=0.003", "optimizer.weightDecay=0.01", "schedule.epochs=" + Math.max(ep, tep),
                    "schedule.warmupEpochs=0", "run.seed=" + seed));
            RunPlan plan = Recipe.plan(cfg, train.classNames(), true); // the demo trains its teachers itself, below
            return run(plan, train, test, dataDir, reportDir, ep, tep, nSeeds, t0);
        } catch (RecipeException e) {
            return fail(e.getMessage());
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
        SyntheticDataset ds;
        try (Progress bar = Progress.of("demo: generate", (long) sc.classes().size() * sc.videosPerClass(), "video")) {
            ds = SyntheticActionDataset.generate(dir, sc, v -> bar.step(v.file().getFileName().toString()));
        }
        Files.writeString(stampFile, stamp + "\n", StandardCharsets.UTF_8);
        System.out.printf(Locale.ROOT, "demo: generated %d videos in %s (%.1f s)%n", ds.videos().size(),
                dir.toAbsolutePath(), (System.nanoTime() - t) / 1e9);
    }

    private int run(RunPlan plan, Hmdb51Dataset trainSet, Hmdb51Dataset testSet, Path dataDir, Path reportDir,
                    int ep, int tep, int nSeeds, long t0) throws IOException {
        TrainConfig cfg = plan.config();
        long nClasses = plan.numClasses();
        TrainConfig.Data d = cfg.data();
        RunPlan.Member vitM = plan.teacher("vit");
        RunPlan.Member cnnM = plan.teacher("cnn");
        // students: random window, fixed full-frame crop, no flip: the views of a video repeat, so the teacher cache pays off
        MultiViewSampler trainViews = Recipe.trainSampler(plan, true);
        MultiViewSampler testViews = Recipe.testSampler(plan, 1, 1, true);
        // teachers train once (then come from the cache folder) on augmented views of one loader: the CNN teacher's
        // window, scale jitter and random crop, the ViT teacher's frames over the same window
        ModelView cv = cnnM.view();
        MultiViewSampler teacherViews = MultiViewSampler.builder(ClipSampler.random(cv.frames(), cv.frameStride()),
                        VideoTransform.of(cv.trainShortSideMin(), cv.trainShortSideMax(), VideoTransform.Crop.RANDOM, 0))
                .addView(trainViews.views().get(2)).addView(trainViews.views().get(1)).build();
        torch.manual_seed(seed);
        try (Device device = Devices.device(plan.device());
             VideoModel vit = Recipe.build(plan, vitM, device);
             VideoModel cnn = Recipe.build(plan, cnnM, device);
             TeacherCache cache = noCache ? null : TeacherCache.inMemory(512L << 20);
             DataLoader loader = Recipe.trainLoader(plan, trainSet, trainViews, 0, 1, true);
             DataLoader teacherLoader = Recipe.trainLoader(plan, trainSet, teacherViews, 0, 1, true);
             DataLoader testLoader = Recipe.testLoader(plan, testSet, testViews, 0, 1)) {
            String key = cacheKey(dataDir, cfg, tep, nClasses);
            Path cacheDir = dataDir.resolve("cache");
            teacher(vit, "vit", cacheDir.resolve("teacher-vit-" + key + ".safetensors"), cfg, teacherLoader, tep, device);
            teacher(cnn, "cnn", cacheDir.resolve("teacher-cnn-" + key + ".safetensors"), cfg, teacherLoader, tep, device);
            double vitTop1 = 100 * Evaluator.evaluate(vit, testLoader, "vit", true, 0).top1();
            double cnnTop1 = 100 * Evaluator.evaluate(cnn, testLoader, "cnn", true, 0).top1();
            System.out.printf(Locale.ROOT, "demo: teachers top-1: ViT (%s, %d frames) %.1f%%, CNN (%s) %.1f%%%n",
                    vitM.preset().name(), vitM.view().frames(), vitTop1, cnnM.preset().name(), cnnTop1);
            AblationRunner ablation = new AblationRunner(plan, Teacher.of("vit: " + vitM.preset().name(), vit, "vit", null),
                    Teacher.of("cnn: " + cnnM.preset().name(), cnn, "cnn", null), loader, testLoader, cache, device, "demo");
            List<AblationRunner.Run> runs = ablation.runAll(seed, nSeeds, ep);
            ModelZoo.Stats st = ModelZoo.stats(plan.model().preset(), nClasses, plan.model().view());
            double total = (System.nanoTime() - t0) / 1e9;
            List<AblationRunner.TeacherRow> teachers = List.of(
                    new AblationRunner.TeacherRow("ViT/MViT", vitTop1, vit.parameterCount(), vitM.preset().macs().gmacs(vit, vitM.view())),
                    new AblationRunner.TeacherRow("CNN/X3D", cnnTop1, cnn.parameterCount(), cnnM.preset().macs().gmacs(cnn, cnnM.view())));
            List<String> paras = List.of("Synthetic action dataset (" + String.join(", ", trainSet.classNames()) + "; "
                    + trainSet.size() + " training and " + testSet.size() + " test videos of " + SIZE + "x" + SIZE
                    + "), " + plan.model().preset().name() + " student (" + AblationRunner.fmt("%,d", st.params())
                    + " parameters), " + ep + " student epochs per run, teachers " + vitM.preset().name() + " and "
                    + cnnM.preset().name() + " trained for " + tep + " epochs"
                    + (cache == null ? "." : "; teacher outputs served by the cache: " + cache.hits() + " hits, "
                    + cache.misses() + " misses."));
            AblationRunner.report(runs, nSeeds, st.params(), st.gmacs(), teachers, trainSet.classNames(), reportDir, paras, total);
            for (AblationRunner.Run r : runs) {
                if (!Double.isFinite(r.losses()[r.losses().length - 1])) {
                    return 1;
                }
            }
            return 0;
        }
    }

    private static String cacheKey(Path dataDir, TrainConfig cfg, int tep, long nClasses) throws IOException {
        String stamp = Files.readString(dataDir.resolve("demo-dataset.txt")).strip();
        // the same text as before the registry: teachers cached by earlier versions stay valid
        String s = String.join("|", "v2", stamp, "classes=" + nClasses, "T=" + T, "crop=" + CROP, "stride=" + STRIDE,
                "epochs=" + tep, "optimizer=" + cfg.optimizer(), "batch=" + cfg.data().batchSize(),
                "vit=depth2,dim16,heads1,kv" + Math.max(1, CROP / 16), "cnn=x3d w" + 1.0 + " d0.5 h64 p0.2", "teacher views=random crop 32..37");
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(h, 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Loads a teacher from the cache, or trains it with CE on its view (a progress bar over its epochs) and saves it there. */
    private static void teacher(VideoModel m, String view, Path file, TrainConfig cfg, DataLoader loader, int tep, Device device)
            throws IOException {
        if (Files.isRegularFile(file)) {
            SafeTensors.loadInto(m.module(), file, SafeTensors.Mode.STRICT, null);
            if (!device.is_cpu()) {
                m.module().to(device, false);
            }
            m.module().eval();
            System.out.println("demo: reusing cached " + view + " teacher " + file.toAbsolutePath());
            return;
        }
        long t = System.nanoTime();
        List<Trainer.EpochStats> h = TrainTeacherCommand.fitWithProgress("demo: " + view + " teacher", m, view, cfg,
                loader, tep, device);
        Files.createDirectories(file.getParent());
        SafeTensors.save(m.module(), file, Map.of("view", view, "epochs", Integer.toString(tep)));
        m.module().eval();
        System.out.printf(Locale.ROOT, "demo: trained %s teacher (%d epochs, loss %.3f -> %.3f, %.1f s), saved %s%n", view,
                tep, h.get(0).meanLoss(), h.get(h.size() - 1).meanLoss(), (System.nanoTime() - t) / 1e9,
                file.toAbsolutePath());
    }

    private static int fail(String message) {
        System.err.println("demo: " + message);
        return 2;
    }
}
