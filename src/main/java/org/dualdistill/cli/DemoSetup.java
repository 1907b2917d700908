package org.dualdistill.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.data.DataLoader;
import org.dualdistill.data.Hmdb51Dataset;
import org.dualdistill.data.synthetic.ClassFamily;
import org.dualdistill.data.synthetic.SyntheticWorld;
import org.dualdistill.data.synthetic.WorldConfig;
import org.dualdistill.model.ModelView;
import org.dualdistill.model.VideoModel;
import org.dualdistill.model.io.SafeTensors;
import org.dualdistill.recipe.Recipe;
import org.dualdistill.recipe.RecipeException;
import org.dualdistill.recipe.RunPlan;
import org.dualdistill.report.RowStatistics;
import org.dualdistill.train.EvalResult;
import org.dualdistill.train.Evaluator;
import org.dualdistill.train.TrainConfig;
import org.dualdistill.video.ClipSampler;
import org.dualdistill.video.MultiViewSampler;
import org.dualdistill.video.VideoTransform;

/**
 * <b>TEMPORARY STAND-IN</b> for the real {@code DemoSetup} (written on branch {@code teach}), with the agreed shape only,
 * so that the benchmark rows can be developed and timed before it lands. Drop this file at merge in favour of the
 * real one. It generates the benchmark world (a tiny source stage: no pretraining here) and trains both teachers
 * briefly with cross-entropy on the target's train split (no source pretraining, no committed weights), caching them
 * under {@code worldRoot/standin-teachers}. Owns the two teachers; not thread-safe.
 */
final class DemoSetup implements AutoCloseable {
    private final RunPlan plan;
    private final Hmdb51Dataset train;
    private final Hmdb51Dataset validation;
    private final Hmdb51Dataset test;
    private final List<String> families;
    private final VideoModel vit;
    private final VideoModel cnn;
    private final double vitTop1;
    private final double cnnTop1;
    private final Map<String, Double> vitFamilies;
    private final Map<String, Double> cnnFamilies;

    private DemoSetup(RunPlan plan, Hmdb51Dataset train, Hmdb51Dataset validation, Hmdb51Dataset test, List<String> families,
                      VideoModel vit, VideoModel cnn, double vitTop1, double cnnTop1, Map<String, Double> vitFamilies,
                      Map<String, Double> cnnFamilies) {
        this.plan = plan;
        this.train = train;
        this.validation = validation;
        this.test = test;
        this.families = families;
        this.vit = vit;
        this.cnn = cnn;
        this.vitTop1 = vitTop1;
        this.cnnTop1 = cnnTop1;
        this.vitFamilies = vitFamilies;
        this.cnnFamilies = cnnFamilies;
    }

    /** TEMPORARY stand-in of the agreed factory; see the class comment. */
    static DemoSetup prepare(Path worldRoot, long seed, boolean quick, boolean retrainTeachers, Device device, PrintStream log)
            throws IOException {
        WorldConfig wc = WorldConfig.builder().optSeed(seed).optSource(WorldConfig.SOURCE_CLASSES, 2, 1).build();
        Path manifest = worldRoot.resolve(SyntheticWorld.MANIFEST);
        if (!(Files.isRegularFile(manifest) && Files.readString(manifest).contains("\"" + wc.stamp() + "\""))) {
            long t = System.nanoTime();
            SyntheticWorld.generate(worldRoot, wc);
            log.printf(Locale.ROOT, "demo: generated the world in %s (%.1f s)%n", worldRoot.toAbsolutePath(), (System.nanoTime() - t) / 1e9);
        }
        Path target = worldRoot.resolve("target");
        Hmdb51Dataset train = SyntheticWorld.train(target);
        Hmdb51Dataset val = SyntheticWorld.validation(target);
        Hmdb51Dataset test = SyntheticWorld.test(target);
        List<String> fam = SyntheticWorld.families(target).stream().map(ClassFamily::key).toList();
        TrainConfig cfg = TrainConfig.embeddedDemo().withOverrides(List.of("data.root=" + target, "data.batchSize=16",
                "data.workers=1", "data.flipProbability=0", "optimizer.name=ADAMW", "optimizer.lr=0.003",
                "optimizer.weightDecay=0.01", "schedule.warmupEpochs=0", "run.seed=" + seed));
        RunPlan plan;
        try {
            plan = Recipe.plan(cfg, train.classNames(), true);
        } catch (RecipeException e) {
            throw new IOException(e.getMessage(), e);
        }
        int tep = quick ? 6 : 12;
        torch.manual_seed(seed);
        VideoModel vit = Recipe.build(plan, plan.teacher("vit"), device);
        VideoModel cnn = null;
        try {
            cnn = Recipe.build(plan, plan.teacher("cnn"), device);
            MultiViewSampler trainViews = Recipe.trainSampler(plan, true);
            ModelView cv = plan.teacher("cnn").view();
            MultiViewSampler teacherViews = MultiViewSampler.builder(ClipSampler.random(cv.frames(), cv.frameStride()),
                            VideoTransform.of(cv.trainShortSideMin(), cv.trainShortSideMax(), VideoTransform.Crop.RANDOM, 0))
                    .addView(trainViews.views().get(2)).addView(trainViews.views().get(1)).build();
            double[] top = new double[2];
            List<Map<String, Double>> fm = new java.util.ArrayList<>();
            try (DataLoader tl = Recipe.trainLoader(plan, train, teacherViews, 0, 1, true);
                 DataLoader testLoader = Recipe.testLoader(plan, test, Recipe.testSampler(plan, 1, 1, true), 0, 1)) {
                Path dir = worldRoot.resolve("standin-teachers");
                int i = 0;
                for (String role : List.of("vit", "cnn")) {
                    VideoModel m = role.equals("vit") ? vit : cnn;
                    Path f = dir.resolve(role + "-seed" + seed + "-ep" + tep + ".safetensors");
                    if (Files.isRegularFile(f) && !retrainTeachers) {
                        SafeTensors.loadInto(m.module(), f, SafeTensors.Mode.STRICT, null);
                        log.println("demo: (stand-in) reusing " + f);
                    } else {
                        long t = System.nanoTime();
                        TrainTeacherCommand.fitWithProgress("demo: (stand-in) " + role + " teacher", m, role, plan.config(), tl, tep, device);
                        Files.createDirectories(dir);
                        SafeTensors.save(m.module(), f, Map.of("view", role));
                        log.printf(Locale.ROOT, "demo: (stand-in) trained %s teacher %d epochs (%.1f s)%n", role, tep, (System.nanoTime() - t) / 1e9);
                    }
                    m.module().eval();
                    EvalResult r = Evaluator.evaluate(m, testLoader, role, true, 0);
                    top[i++] = 100 * r.top1();
                    Map<String, Double> pf = new java.util.LinkedHashMap<>();
                    RowStatistics.familyAccuracy(r.confusion(), fam).forEach((k, v) -> pf.put(k, 100 * v));
                    fm.add(pf);
                }
            }
            Files.writeString(worldRoot.resolve("standin.txt"), "stand-in teachers, " + tep + " epochs\n", StandardCharsets.UTF_8);
            return new DemoSetup(plan, train, val, test, fam, vit, cnn, top[0], top[1], fm.get(0), fm.get(1));
        } catch (IOException | RuntimeException e) {
            vit.close();
            if (cnn != null) {
                cnn.close();
            }
            throw e;
        }
    }

    RunPlan plan() {
        return plan;
    }

    Hmdb51Dataset train() {
        return train;
    }

    Hmdb51Dataset validation() {
        return validation;
    }

    Hmdb51Dataset test() {
        return test;
    }

    List<String> families() {
        return families;
    }

    VideoModel vit() {
        return vit;
    }

    VideoModel cnn() {
        return cnn;
    }

    double vitTop1() {
        return vitTop1;
    }

    double cnnTop1() {
        return cnnTop1;
    }

    Map<String, Double> vitFamilyTop1() {
        return vitFamilies;
    }

    Map<String, Double> cnnFamilyTop1() {
        return cnnFamilies;
    }

    String teacherProvenance() {
        return "TEMPORARY stand-in teachers: trained briefly on the target train split only (no source pretraining)";
    }

    @Override
    public void close() {
        vit.close();
        cnn.close();
    }
}
