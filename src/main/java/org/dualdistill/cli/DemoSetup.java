package org.dualdistill.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.data.DataLoader;
import org.dualdistill.data.Hmdb51Dataset;
import org.dualdistill.data.synthetic.ClassFamily;
import org.dualdistill.data.synthetic.SyntheticWorld;
import org.dualdistill.data.synthetic.WorldConfig;
import org.dualdistill.export.StudentExport;
import org.dualdistill.internal.torch.TorchRuntime;
import org.dualdistill.model.VideoModel;
import org.dualdistill.model.io.SafeTensors;
import org.dualdistill.recipe.Recipe;
import org.dualdistill.recipe.RecipeException;
import org.dualdistill.recipe.RunPlan;
import org.dualdistill.recipe.TeacherFile;
import org.dualdistill.report.RowStatistics;
import org.dualdistill.train.CosineSchedule;
import org.dualdistill.train.EvalResult;
import org.dualdistill.train.Evaluator;
import org.dualdistill.train.TrainConfig;
import org.dualdistill.train.Trainer;
import org.dualdistill.train.TrainingOptimizer;

/**
 * The benchmark world and the two demo teachers, ready for the demo's rows (issue 14; design: docs/benchmark-world.md).
 *
 * <p>{@link #prepare} generates the two-stage {@link SyntheticWorld} under {@code worldRoot} (or reuses it when its
 * {@code world.json} holds the same stamp) and gives the two teachers of the paper's kind, fine-tuned on the target's
 * train split:
 * <ul>
 * <li>the ViT teacher {@code mvit_demo} (2 MViT blocks over the 8 x 8 token grid of a 32-pixel frame) and the CNN
 *     teacher {@code x3d_demo_wide} (the student's family at twice its width), each at its preset view;</li>
 * <li>each PRETRAINED with cross-entropy on the source stage (14 labels, 2,016 training videos, scale jitter and random
 *     crop, never a flip: a flip swaps left and right), then FINE-TUNED on the target's 320 training videos with a
 *     fresh 8-class head (every tensor but the classifier from the pretrained model);</li>
 * <li>the fine-tuning learning rate chosen on the validation split (tag 0) only; test (tag 2) is measured once, on
 *     the chosen teacher.</li>
 * </ul>
 * By default the teachers are the committed files {@code /org/dualdistill/demo/teachers/{vit,cnn}.safetensors} with
 * their card {@code card.json} (architecture, world stamp, schedule, seed, validation and test top-1 overall and per
 * family, sha256): their sha256 and the world stamp are checked before use, and a file that does not fit is refused
 * by name with the reason. With {@code retrainTeachers} (or when {@code worldRoot/teachers/card.json}, written by an
 * earlier retrain, fits the world) they come from {@code worldRoot/teachers/} instead; a retrain writes the files and
 * card there. A retrain is reproducible on one machine: torch's intra-op threads are pinned to
 * {@link TeacherSchedule#threads()}, every model's initialization is seeded from the world seed, and the loaders'
 * order and augmentations depend only on (seed, epoch, video), so the same command writes byte-identical
 * safetensors (the card also records wall times, so it differs).
 *
 * <p>Owns the two teacher models; {@link #close()} frees them. Not thread-safe.
 */
final class DemoSetup implements AutoCloseable {
    /** Classpath folder of the committed teachers. */
    static final String RESOURCE_DIR = "/org/dualdistill/demo/teachers/";
    /** The card's file name (next to the two safetensors). */
    static final String CARD = "card.json";
    /** The ViT teacher's registry arch. */
    static final String VIT_ARCH = "mvit_demo";
    /** The CNN teacher's registry arch. */
    static final String CNN_ARCH = "x3d_demo_wide";
    /** The student's registry arch. */
    static final String STUDENT_ARCH = "x3d_demo";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /**
     * One teacher's optimizer.
     *
     * @param name        {@code ADAMW} or {@code SGD} (SGD: momentum 0.9, Nesterov, as PySlowFast's X3D recipe)
     * @param pretrainLr  peak learning rate of pretraining (linear warmup from a hundredth of it, then cosine to 0)
     * @param finetuneLrs fine-tuning learning rates tried; the one with the best validation top-1 is kept (ties: the
     *                    first)
     * @param weightDecay weight decay
     */
    record TeacherOptimizer(String name, double pretrainLr, List<Double> finetuneLrs, double weightDecay) {
        TeacherOptimizer {
            finetuneLrs = List.copyOf(finetuneLrs);
            if (!(name.equals("ADAMW") || name.equals("SGD")) || !(pretrainLr > 0) || finetuneLrs.isEmpty() || !(weightDecay >= 0)) {
                throw new IllegalArgumentException("teacher optimizer needs ADAMW or SGD, lr > 0, at least one fine-tuning lr, "
                        + "weight decay >= 0, got " + name + " " + pretrainLr + " " + finetuneLrs + " " + weightDecay);
            }
        }

        List<String> overrides(double lr) {
            List<String> o = new ArrayList<>(List.of("optimizer.name=" + name, "optimizer.lr=" + lr, "optimizer.weightDecay=" + weightDecay));
            if (name.equals("SGD")) {
                o.addAll(List.of("optimizer.momentum=0.9", "optimizer.nesterov=true"));
            }
            return o;
        }

        String summary() {
            return String.format(Locale.ROOT, "%s%s lr %s, fine-tune lr from %s, wd %s", name, name.equals("SGD") ? " (momentum 0.9, Nesterov)" : "",
                    pretrainLr, finetuneLrs, weightDecay);
        }
    }

    /**
     * How the teachers are made.
     *
     * @param pretrainEpochs       epochs on the source's training split
     * @param pretrainWarmupEpochs epochs of linear warmup at the start of pretraining, from a hundredth of the peak lr
     *                             (0 = none)
     * @param finetuneEpochs       epochs on the target's training split (no warmup)
     * @param batch                clips per step
     * @param threads              torch intra-op threads during training (pinned for reproducibility)
     * @param clipGradNorm         global gradient-norm bound of every teacher step, 0 = none
     * @param vit                  the ViT teacher's optimizer
     * @param cnn                  the CNN teacher's optimizer
     */
    record TeacherSchedule(int pretrainEpochs, int pretrainWarmupEpochs, int finetuneEpochs, int batch, int threads,
                           double clipGradNorm, TeacherOptimizer vit, TeacherOptimizer cnn) {
        TeacherSchedule {
            if (pretrainEpochs < 1 || finetuneEpochs < 1 || batch < 2 || threads < 1
                    || pretrainWarmupEpochs < 0 || pretrainWarmupEpochs >= pretrainEpochs && pretrainWarmupEpochs > 0
                    || !(clipGradNorm >= 0) || vit == null || cnn == null) {
                throw new IllegalArgumentException("teacher schedule needs epochs >= 1, warmup shorter than pretraining, "
                        + "batch >= 2, threads >= 1 and both optimizers, got " + this);
            }
        }

        /**
         * The design's schedule (docs/benchmark-world.md: 20 source epochs). The CNN teacher trains as PySlowFast's
         * X3D recipe does (SGD, momentum 0.9, Nesterov, wd 5e-5, cosine); the ViT teacher as MViTv2's (AdamW,
         * wd 0.05). Until 2026-12-03 both used AdamW and inherited the demo's SGD warmup start lr (0.005, five
         * times the AdamW peak): the CNN's loss spiked on single batches (grad norm up to 6e4) and diverged, the ViT
         * never left chance (benchmarks/RESULTS.md, "Why the first teachers failed"). Until 2026-12-04 AdamW also
         * ran with its betas swapped (see {@code Optimizers}), which kept the ViT weak (19% on the target).
         */
        static TeacherSchedule standard() {
            return new TeacherSchedule(20, 2, 10, 16, 2, 1.0,
                    new TeacherOptimizer("ADAMW", 0.001, List.of(0.0003, 0.001), 0.05),
                    new TeacherOptimizer("SGD", 0.05, List.of(0.01, 0.03), 5e-5));
        }

        TeacherOptimizer of(String role) {
            return role.equals("vit") ? vit : cnn;
        }

        String summary() {
            return String.format(Locale.ROOT, "pretrain %d epochs on source train (%d warmup epochs from lr/100), fine-tune %d epochs "
                    + "(no warmup, lr chosen on validation); vit %s; cnn %s; batch %d; cosine to 0; grad-norm clip %s; torch threads %d",
                    pretrainEpochs, pretrainWarmupEpochs, finetuneEpochs, vit.summary(), cnn.summary(), batch, clipGradNorm, threads);
        }
    }

    /** One teacher's measurements (percent). */
    record TeacherStats(String role, String arch, String sha256, long params, double sourceTestTop1,
                        Map<Double, Double> validationByLr, double chosenLr, double validationTop1,
                        Map<String, Double> validationFamilyTop1, double testTop1, Map<String, Double> testFamilyTop1,
                        double pretrainSeconds, double finetuneSeconds) {
    }

    private final RunPlan plan;
    private final Hmdb51Dataset train;
    private final Hmdb51Dataset validation;
    private final Hmdb51Dataset test;
    private final List<String> families;
    private final VideoModel vit;
    private final VideoModel cnn;
    private final TeacherStats vitStats;
    private final TeacherStats cnnStats;
    private final String provenance;

    private DemoSetup(RunPlan plan, Hmdb51Dataset train, Hmdb51Dataset validation, Hmdb51Dataset test, List<String> families,
                      VideoModel vit, VideoModel cnn, TeacherStats vitStats, TeacherStats cnnStats, String provenance) {
        this.plan = plan;
        this.train = train;
        this.validation = validation;
        this.test = test;
        this.families = List.copyOf(families);
        this.vit = vit;
        this.cnn = cnn;
        this.vitStats = vitStats;
        this.cnnStats = cnnStats;
        this.provenance = provenance;
    }

    /**
     * Generates or reuses the world, then loads (or retrains) the teachers.
     *
     * @param worldRoot       the world's folder ({@code world.json}, {@code source/}, {@code target/}, {@code teachers/})
     * @param seed            the WORLD's seed (and the teachers'); the committed teachers belong to seed 0, another
     *                        seed needs {@code retrainTeachers} once (its files are then reused from
     *                        {@code worldRoot/teachers})
     * @param quick           {@code demo --quick}: the same world (the design has no smaller one, and the committed
     *                        teachers belong to it); only the log differs
     * @param retrainTeachers pretrain and fine-tune both teachers now (the standard schedule), writing
     *                        {@code worldRoot/teachers/}
     * @param device          where the teachers go (borrowed)
     * @param log             progress lines
     * @return the setup; caller must close
     * @throws IOException     when the world cannot be written or read, or a teacher file cannot be read or does not
     *                         fit (the message names it and the reason)
     */
    static DemoSetup prepare(Path worldRoot, long seed, boolean quick, boolean retrainTeachers, Device device, PrintStream log)
            throws IOException {
        WorldConfig world = WorldConfig.builder().optSeed(seed).optThreads(2).build();
        return prepare(worldRoot, world, TeacherSchedule.standard(), retrainTeachers, device, log);
    }

    /** As {@link #prepare(Path, long, boolean, boolean, Device, PrintStream)} with any world and schedule (tests). */
    static DemoSetup prepare(Path worldRoot, WorldConfig world, TeacherSchedule schedule, boolean retrainTeachers, Device device,
                             PrintStream log) throws IOException {
        ensureWorld(worldRoot, world, log);
        Path target = worldRoot.resolve("target");
        Hmdb51Dataset train = SyntheticWorld.train(target);
        Hmdb51Dataset val = SyntheticWorld.validation(target);
        Hmdb51Dataset test = SyntheticWorld.test(target);
        List<String> fams = SyntheticWorld.families(target).stream().map(ClassFamily::key).toList();
        Path own = worldRoot.resolve("teachers");
        String provenance;
        Path vitFile;
        Path cnnFile;
        JsonNode card;
        if (retrainTeachers) {
            long t = System.nanoTime();
            trainTeachers(worldRoot, world, schedule, own, log);
            card = readCard(own.resolve(CARD));
            vitFile = checked(own, card, "vit", world.stamp());
            cnnFile = checked(own, card, "cnn", world.stamp());
            provenance = String.format(Locale.ROOT, "retrained now (%.0f s) into %s: vit sha256 %s, cnn sha256 %s", (System.nanoTime() - t) / 1e9,
                    own.toAbsolutePath(), card.path("teachers").path("vit").path("sha256").asText(),
                    card.path("teachers").path("cnn").path("sha256").asText());
        } else {
            Path committed = own.resolve("committed");
            String why;
            try {
                card = materializeCommitted(committed);
                why = fitProblem(card, world.stamp());
            } catch (IOException e) {
                card = null;
                why = e.getMessage();
            }
            if (why != null && Files.isRegularFile(own.resolve(CARD)) && fitProblem(readCard(own.resolve(CARD)), world.stamp()) == null) {
                card = readCard(own.resolve(CARD)); // an earlier retrain for this world
                committed = own;
                why = null;
            }
            if (why != null) {
                throw new IOException(committed.resolve(CARD).toAbsolutePath() + " (committed demo teachers): " + why
                        + "; and " + own.resolve(CARD).toAbsolutePath() + " holds no retrained pair for this world"
                        + "; run demo --retrain-teachers to train teachers for it");
            }
            vitFile = checked(committed, card, "vit", world.stamp());
            cnnFile = checked(committed, card, "cnn", world.stamp());
            provenance = (committed == own ? "retrained earlier, " + own.toAbsolutePath() : "committed " + RESOURCE_DIR)
                    + ": vit.safetensors sha256 " + card.path("teachers").path("vit").path("sha256").asText()
                    + ", cnn.safetensors sha256 " + card.path("teachers").path("cnn").path("sha256").asText();
        }
        TrainConfig cfg = studentConfig(target, seed(world)).withTeachers(List.of(
                new TrainConfig.Teacher("vit", VIT_ARCH, vitFile.toString(), TrainConfig.View.PRESET),
                new TrainConfig.Teacher("cnn", CNN_ARCH, cnnFile.toString(), TrainConfig.View.PRESET)));
        RunPlan plan;
        try {
            plan = Recipe.plan(cfg, train.classNames(), false); // checks arch, classes and view of both files
        } catch (RecipeException e) {
            throw new IOException(e.getMessage(), e);
        }
        VideoModel vit = null;
        VideoModel cnn = null;
        try {
            vit = load(plan.teacher("vit"), plan.numClasses(), device);
            cnn = load(plan.teacher("cnn"), plan.numClasses(), device);
            TeacherStats vs = stats(card, "vit");
            TeacherStats cs = stats(card, "cnn");
            log.printf(Locale.ROOT, "demo: world %s (%d train / %d validation / %d test target videos)%s%n", worldRoot.toAbsolutePath(),
                    train.size(), val.size(), test.size(), "");
            log.printf(Locale.ROOT, "demo: teachers (%s): ViT %s test top-1 %.1f%% %s, CNN %s %.1f%% %s%n", provenance, VIT_ARCH,
                    vs.testTop1(), vs.testFamilyTop1(), CNN_ARCH, cs.testTop1(), cs.testFamilyTop1());
            DemoSetup s = new DemoSetup(plan, train, val, test, fams, vit, cnn, vs, cs, provenance);
            vit = null;
            cnn = null;
            return s;
        } finally {
            if (vit != null) {
                vit.close();
            }
            if (cnn != null) {
                cnn.close();
            }
        }
    }

    private static long seed(WorldConfig w) {
        return w.seed();
    }

    // ---------------------------------------------------------------- the API the rows use

    /** @return student {@code x3d_demo} (full 32x32 frame), teachers {@code vit}/{@code cnn} at their views, on the target */
    RunPlan plan() {
        return plan;
    }

    /** @return the target's training split (tag 1) */
    Hmdb51Dataset train() {
        return train;
    }

    /** @return the target's validation split (tag 0) */
    Hmdb51Dataset validation() {
        return validation;
    }

    /** @return the target's test split (tag 2) */
    Hmdb51Dataset test() {
        return test;
    }

    /** @return the family key ({@code local} / {@code relation}) of each target class, in label order */
    List<String> families() {
        return families;
    }

    /** @return the ViT teacher (eval mode, on the device; owned by this setup) */
    VideoModel vit() {
        return vit;
    }

    /** @return the CNN teacher (eval mode, on the device; owned by this setup) */
    VideoModel cnn() {
        return cnn;
    }

    /** @return the ViT teacher's test top-1, percent */
    double vitTop1() {
        return vitStats.testTop1();
    }

    /** @return the CNN teacher's test top-1, percent */
    double cnnTop1() {
        return cnnStats.testTop1();
    }

    /** @return the ViT teacher's test top-1 per family, percent */
    Map<String, Double> vitFamilyTop1() {
        return vitStats.testFamilyTop1();
    }

    /** @return the CNN teacher's test top-1 per family, percent */
    Map<String, Double> cnnFamilyTop1() {
        return cnnStats.testFamilyTop1();
    }

    /** @return one line: where the teachers come from and their sha256 */
    String teacherProvenance() {
        return provenance;
    }

    /** @return everything the card says about the ViT teacher */
    TeacherStats vitStats() {
        return vitStats;
    }

    /** @return everything the card says about the CNN teacher */
    TeacherStats cnnStats() {
        return cnnStats;
    }

    @Override
    public void close() {
        vit.close();
        cnn.close();
    }

    // ---------------------------------------------------------------- world

    /** Generates the world unless {@code world.json} holds the same stamp and both stages are there. */
    static void ensureWorld(Path root, WorldConfig world, PrintStream log) throws IOException {
        Path manifest = root.resolve(SyntheticWorld.MANIFEST);
        if (Files.isRegularFile(manifest) && Files.isDirectory(root.resolve("source")) && Files.isDirectory(root.resolve("target"))) {
            JsonNode m = JSON.readTree(manifest.toFile());
            if (world.stamp().equals(m.path("stamp").asText())) {
                log.println("demo: reusing world " + root.toAbsolutePath());
                return;
            }
        }
        long t = System.nanoTime();
        SyntheticWorld.generate(root, world);
        log.printf(Locale.ROOT, "demo: generated world %s (%.1f s): %s%n", root.toAbsolutePath(), (System.nanoTime() - t) / 1e9,
                world.stamp());
    }

    /** The student's config on the target: the demo's optimizer, fixed full-frame views, no flip. */
    static TrainConfig studentConfig(Path target, long seed) {
        return TrainConfig.embeddedDemo().withOverrides(List.of("data.root=" + target, "data.batchSize=16", "data.workers=1",
                "data.flipProbability=0", "optimizer.name=ADAMW", "optimizer.lr=0.003", "optimizer.weightDecay=0.01",
                "schedule.epochs=10", "schedule.warmupEpochs=0", "run.seed=" + seed));
    }

    // ---------------------------------------------------------------- teachers: load and check

    private static VideoModel load(RunPlan.Member m, long classes, Device device) throws IOException {
        VideoModel model = m.preset().build(classes, m.view());
        try {
            SafeTensors.loadInto(model.module(), m.weights(), SafeTensors.Mode.STRICT, null);
            if (device != null && !device.is_cpu()) {
                model.module().to(device, false);
            }
            model.module().eval();
            return model;
        } catch (IOException | RuntimeException e) {
            model.close();
            throw e;
        }
    }

    /** Copies the committed files out of the classpath into {@code dir} and returns their card. */
    private static JsonNode materializeCommitted(Path dir) throws IOException {
        Files.createDirectories(dir);
        for (String name : List.of(CARD, "vit.safetensors", "cnn.safetensors")) {
            try (InputStream in = DemoSetup.class.getResourceAsStream(RESOURCE_DIR + name)) {
                if (in == null) {
                    throw new IOException("committed demo teachers: classpath resource " + RESOURCE_DIR + name
                            + " is missing; run demo --retrain-teachers");
                }
                Path tmp = dir.resolve(name + ".tmp");
                Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
                Files.move(tmp, dir.resolve(name), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            }
        }
        return readCard(dir.resolve(CARD));
    }

    static JsonNode readCard(Path card) throws IOException {
        try {
            JsonNode n = JSON.readTree(card.toFile());
            if (n == null || !n.path("teachers").isObject()) {
                throw new IOException(card + ": not a demo teacher card (no \"teachers\" object)");
            }
            return n;
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new IOException(card + ": not JSON: " + e.getOriginalMessage(), e);
        }
    }

    /** @return null when the card's world stamp is {@code stamp}, else the reason */
    static String fitProblem(JsonNode card, String stamp) {
        String s = card.path("world_stamp").asText();
        return s.equals(stamp) ? null : "trained on world \"" + s + "\", this world is \"" + stamp + "\"";
    }

    /**
     * @return {@code dir/<role>.safetensors} after checking the card's stamp and the file's sha256
     * @throws IOException naming the file and the reason when it does not fit
     */
    static Path checked(Path dir, JsonNode card, String role, String stamp) throws IOException {
        Path f = dir.resolve(role + ".safetensors");
        String why = fitProblem(card, stamp);
        if (why != null) {
            throw new IOException(f.toAbsolutePath() + ": " + why);
        }
        String want = card.path("teachers").path(role).path("sha256").asText();
        if (!Files.isRegularFile(f)) {
            throw new IOException(f.toAbsolutePath() + ": teacher file missing");
        }
        String got = StudentExport.sha256(f);
        if (!got.equals(want)) {
            throw new IOException(f.toAbsolutePath() + ": sha256 " + got + " is not the card's " + want
                    + " (a changed or truncated file)");
        }
        return f;
    }

    private static TeacherStats stats(JsonNode card, String role) {
        JsonNode t = card.path("teachers").path(role);
        Map<Double, Double> byLr = new LinkedHashMap<>();
        t.path("finetune_grid").forEach(g -> byLr.put(g.path("lr").asDouble(), g.path("validation_top1").asDouble()));
        return new TeacherStats(role, t.path("arch").asText(), t.path("sha256").asText(), t.path("params").asLong(),
                t.path("source_test_top1").asDouble(), byLr, t.path("chosen_lr").asDouble(), t.path("validation_top1").asDouble(),
                map(t.path("validation_family_top1")), t.path("test_top1").asDouble(), map(t.path("test_family_top1")),
                t.path("pretrain_seconds").asDouble(), t.path("finetune_seconds").asDouble());
    }

    private static Map<String, Double> map(JsonNode n) {
        Map<String, Double> m = new LinkedHashMap<>();
        n.fields().forEachRemaining(e -> m.put(e.getKey(), e.getValue().asDouble()));
        return m;
    }

    // ---------------------------------------------------------------- teachers: train

    /**
     * Pretrains and fine-tunes both teachers and writes {@code out/vit.safetensors}, {@code out/cnn.safetensors} and
     * {@code out/card.json}. Pins torch's intra-op threads to {@code schedule.threads()} while it runs.
     *
     * @param worldRoot a generated world
     * @param world     its settings (the stamp goes into the card)
     * @param schedule  epochs, learning rates, batch
     * @param out       output folder
     * @param log       progress lines
     * @throws IOException when data cannot be read or files cannot be written
     */
    static void trainTeachers(Path worldRoot, WorldConfig world, TeacherSchedule schedule, Path out, PrintStream log)
            throws IOException {
        Files.createDirectories(out);
        int threads = torch.get_num_threads();
        TorchRuntime.setThreads(schedule.threads());
        try {
            Map<String, Object> teachers = new LinkedHashMap<>();
            for (String role : List.of("vit", "cnn")) {
                teachers.put(role, trainTeacher(worldRoot, world, schedule, role, out, log));
            }
            Map<String, Object> card = new LinkedHashMap<>();
            card.put("what", "demo teachers of issue 14: pretrained on the source stage, fine-tuned on the target train split");
            card.put("design", "docs/benchmark-world.md");
            card.put("world_stamp", world.stamp());
            card.put("seed", world.seed());
            card.put("schedule", schedule.summary());
            card.put("command", "./dualdistill demo --retrain-teachers (DemoSetup.trainTeachers)");
            card.put("selection", "fine-tuning lr chosen by validation top-1 (tag 0); test (tag 2) measured once, on the chosen teacher");
            card.put("teachers", teachers);
            Files.write(out.resolve(CARD), JSON.writeValueAsBytes(card));
        } finally {
            TorchRuntime.setThreads(threads);
        }
    }

    private static Map<String, Object> trainTeacher(Path worldRoot, WorldConfig world, TeacherSchedule s, String role, Path out,
                                                    PrintStream log) throws IOException {
        String arch = role.equals("vit") ? VIT_ARCH : CNN_ARCH;
        long seed = world.seed();
        long roleSeed = seed * 1_000_003L + (role.equals("vit") ? 11 : 23);
        Path source = worldRoot.resolve("source");
        Path target = worldRoot.resolve("target");
        // 1. pretraining on the source stage, at the teacher's own augmented view
        Hmdb51Dataset srcTrain = SyntheticWorld.train(source);
        Hmdb51Dataset srcTest = SyntheticWorld.test(source);
        TeacherOptimizer o = s.of(role);
        TrainConfig pcfg = teacherConfig(source, arch, seed, s, o, s.pretrainEpochs(), o.pretrainLr(), s.pretrainWarmupEpochs());
        RunPlan pplan = plan(pcfg, srcTrain.classNames());
        long t0 = System.nanoTime();
        Path pretrained = out.resolve("pretrained-" + role + ".safetensors");
        double srcTop1;
        torch.manual_seed(roleSeed);
        try (VideoModel m = pplan.model().preset().build(pplan.numClasses(), pplan.model().view())) {
            List<Trainer.EpochStats> h = fit(pplan, m, srcTrain, "demo: pretrain " + role + " teacher (" + arch + ", source)");
            srcTop1 = 100 * evaluate(m, pplan, srcTest).top1();
            TeacherFile.write(pretrained, m, new TeacherFile.Info(pretrained, arch, pplan.numClasses(), srcTrain.classNames(),
                    pplan.model().view()));
            log.printf(Locale.ROOT, "demo: pretrained %s teacher: %d epochs, loss %.3f -> %.3f, source test top-1 %.1f%% (%.0f s)%n",
                    role, h.size(), h.get(0).meanLoss(), h.get(h.size() - 1).meanLoss(), srcTop1, (System.nanoTime() - t0) / 1e9);
        }
        double pretrainSeconds = (System.nanoTime() - t0) / 1e9;
        // 2. fine-tuning on the target's train split with a fresh head; the lr by validation top-1
        Hmdb51Dataset train = SyntheticWorld.train(target);
        Hmdb51Dataset val = SyntheticWorld.validation(target);
        Hmdb51Dataset test = SyntheticWorld.test(target);
        List<String> fams = SyntheticWorld.families(target).stream().map(ClassFamily::key).toList();
        long t1 = System.nanoTime();
        VideoModel best = null;
        double bestLr = Double.NaN;
        EvalResult bestVal = null;
        List<Map<String, Object>> grid = new ArrayList<>();
        try {
            for (double lr : o.finetuneLrs()) {
                TrainConfig fcfg = teacherConfig(target, arch, seed, s, o, s.finetuneEpochs(), lr, 0);
                RunPlan fplan = plan(fcfg, train.classNames());
                torch.manual_seed(roleSeed + 1);
                VideoModel m = fplan.model().preset().build(fplan.numClasses(), fplan.model().view());
                try {
                    List<String> head = m.resetHead();
                    Set<String> headSet = Set.copyOf(head);
                    SafeTensors.LoadReport r = SafeTensors.loadInto(m.module(), pretrained, SafeTensors.Mode.NON_STRICT,
                            n -> headSet.contains(n) ? null : n);
                    if (!Set.copyOf(r.missing()).equals(headSet) || !r.unexpected().isEmpty()) {
                        throw new IOException(pretrained + ": fine-tuning init expected every tensor but the head " + head
                                + ", got missing " + r.missing() + ", unexpected " + r.unexpected());
                    }
                    List<Trainer.EpochStats> h = fit(fplan, m, train, String.format(Locale.ROOT, "demo: fine-tune %s teacher lr %s", role, lr));
                    EvalResult v = evaluate(m, fplan, val);
                    log.printf(Locale.ROOT, "demo: fine-tuned %s teacher lr %s: loss %.3f -> %.3f, validation top-1 %.1f%%%n", role, lr,
                            h.get(0).meanLoss(), h.get(h.size() - 1).meanLoss(), 100 * v.top1());
                    Map<String, Object> g = new LinkedHashMap<>();
                    g.put("lr", lr);
                    g.put("validation_top1", round(100 * v.top1()));
                    g.put("final_train_loss", round(h.get(h.size() - 1).meanLoss()));
                    grid.add(g);
                    if (bestVal == null || v.top1() > bestVal.top1()) {
                        if (best != null) {
                            best.close();
                        }
                        best = m;
                        bestLr = lr;
                        bestVal = v;
                        m = null;
                    }
                } finally {
                    if (m != null) {
                        m.close();
                    }
                }
            }
            RunPlan fplan = plan(teacherConfig(target, arch, seed, s, o, s.finetuneEpochs(), bestLr, 0), train.classNames());
            EvalResult te = evaluate(best, fplan, test);
            Path file = out.resolve(role + ".safetensors");
            TeacherFile.write(file, best, new TeacherFile.Info(file, arch, fplan.numClasses(), train.classNames(), fplan.model().view()));
            Map<String, Object> c = new LinkedHashMap<>();
            c.put("arch", arch);
            c.put("file", role + ".safetensors");
            c.put("sha256", StudentExport.sha256(file));
            c.put("params", best.parameterCount());
            c.put("view", fplan.model().view().summary());
            c.put("classes", train.classNames());
            c.put("families", fams);
            c.put("source_test_top1", round(srcTop1));
            c.put("finetune_grid", grid);
            c.put("chosen_lr", bestLr);
            c.put("validation_top1", round(100 * bestVal.top1()));
            c.put("validation_family_top1", percent(RowStatistics.familyAccuracy(bestVal.confusion(), fams)));
            c.put("test_top1", round(100 * te.top1()));
            c.put("test_family_top1", percent(RowStatistics.familyAccuracy(te.confusion(), fams)));
            c.put("pretrain_seconds", round(pretrainSeconds));
            c.put("finetune_seconds", round((System.nanoTime() - t1) / 1e9));
            log.printf(Locale.ROOT, "demo: %s teacher: lr %s chosen on validation (%.1f%%), test top-1 %.1f%% %s%n", role, bestLr,
                    100 * bestVal.top1(), 100 * te.top1(), c.get("test_family_top1"));
            return c;
        } finally {
            if (best != null) {
                best.close();
            }
        }
    }

    /**
     * A teacher's cross-entropy run on a stage: the demo's base, the teacher as the model, no teachers, no flip, the
     * role's optimizer at {@code lr}, warmup (if any) from {@code lr / 100}.
     */
    static TrainConfig teacherConfig(Path stage, String arch, long seed, TeacherSchedule s, TeacherOptimizer o, int epochs, double lr,
                                     int warmupEpochs) {
        List<String> ov = new ArrayList<>(List.of("data.root=" + stage, "data.batchSize=" + s.batch(), "data.workers=1",
                "data.flipProbability=0"));
        ov.addAll(o.overrides(lr));
        ov.addAll(List.of("schedule.epochs=" + epochs, "schedule.warmupEpochs=" + warmupEpochs, "schedule.warmupStartLr=" + lr / 100,
                "schedule.minLr=0", "optimizer.clipGradNorm=" + s.clipGradNorm(), "run.seed=" + seed));
        return TrainConfig.embeddedDemo().withModel(new TrainConfig.Model(arch, 0, TrainConfig.View.PRESET)).withTeachers(List.of())
                .withOverrides(ov);
    }

    private static RunPlan plan(TrainConfig cfg, List<String> classNames) throws IOException {
        try {
            return Recipe.plan(cfg, classNames, false);
        } catch (RecipeException e) {
            throw new IOException(e.getMessage(), e);
        }
    }

    /** Cross-entropy training as train-teacher does it (the model's augmented view, the recipe's trainer), on the CPU. */
    private static List<Trainer.EpochStats> fit(RunPlan plan, VideoModel m, Hmdb51Dataset ds, String label) throws IOException {
        TrainConfig cfg = plan.config();
        try (DataLoader loader = Recipe.trainLoader(plan, ds, Recipe.trainSampler(plan, false), 0, 1, false);
             TrainingOptimizer opt = Recipe.optimizer(cfg, Recipe.trainableModules(m, null, null))) {
            CosineSchedule schedule = Recipe.schedule(cfg, loader.batchesPerEpoch());
            try (Trainer trainer = Recipe.trainer(plan, m, null, List.of(), opt, schedule, loader, null)
                    .progress(1_000_000, null).build()) {
                return TrainTeacherCommand.fitEpochs(trainer, cfg.schedule().epochs(), label);
            }
        }
    }

    private static EvalResult evaluate(VideoModel m, RunPlan plan, Hmdb51Dataset ds) {
        try (DataLoader l = Recipe.testLoader(plan, ds, Recipe.testSampler(plan.model().view(), 1, 1), 0, 1)) {
            return Evaluator.evaluate(m, l, "student", true, 0);
        }
    }

    private static Map<String, Double> percent(Map<String, Double> fractions) {
        Map<String, Double> out = new LinkedHashMap<>();
        fractions.forEach((k, v) -> out.put(k, round(100 * v)));
        return out;
    }

    private static double round(double x) {
        return Math.round(x * 100) / 100.0;
    }
}
