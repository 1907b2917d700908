package org.dualdistill.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import org.bytedeco.pytorch.Device;
import org.dualdistill.data.DataLoader;
import org.dualdistill.data.Hmdb51Dataset;
import org.dualdistill.recipe.Devices;
import org.dualdistill.recipe.Recipe;
import org.dualdistill.recipe.RecipeException;
import org.dualdistill.train.EvalResult;
import org.dualdistill.train.Evaluator;
import org.dualdistill.train.TrainConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Evaluates a student, from a checkpoint folder or an export folder, on the test split of an HMDB51-layout folder
 * with multi-view testing: {@code --clips} evenly spaced windows x {@code --crops} 1 (centre) or 3 crops, softmax
 * averaged per video, on {@code --device}. Prints top-1, top-5 and mean class accuracy; {@code --out DIR} also writes
 * {@code DIR/eval.json} with per-class accuracy and the confusion matrix. The views follow the model's own view (the
 * checkpoint's saved config, or the card), so a checkpoint and its export score the same.
 */
@Command(name = "evaluate", mixinStandardHelpOptions = true,
        description = "Evaluate a checkpoint or exported student on the test split (multi-view: --clips x --crops).")
final class EvaluateCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    @Option(names = "--model", required = true, paramLabel = "DIR",
            description = "checkpoint folder (or a folder of epoch-* checkpoints: the latest is used) or export folder")
    Path model;
    @Option(names = "--data", required = true, paramLabel = "DIR", description = "HMDB51-layout folder")
    Path data;
    @Option(names = "--split", description = "HMDB51 split number (default ${DEFAULT-VALUE})")
    int split = 1;
    @Option(names = "--clips", description = "windows per video, evenly spaced (default ${DEFAULT-VALUE})")
    int clips = 1;
    @Option(names = "--crops", description = "crops per window: 1 (centre) or 3 (default ${DEFAULT-VALUE})")
    int crops = 1;
    @Option(names = "--batch", description = "views per forward pass (default ${DEFAULT-VALUE})")
    int batch = 8;
    @Option(names = "--workers", description = "decoding workers (default ${DEFAULT-VALUE})")
    int workers = 1;
    @Option(names = "--device", paramLabel = "cpu|cuda|cuda:N|auto", description = "where the model runs (default ${DEFAULT-VALUE})")
    String device = "cpu";
    @Option(names = "--out", paramLabel = "DIR", description = "write DIR/eval.json: metrics, per-class accuracy and the confusion matrix")
    Path out;

    /** The file {@code --out DIR} gets. */
    static final String EVAL_FILE = "eval.json";

    @Override
    public Integer call() {
        if (clips < 1 || (crops != 1 && crops != 3) || batch < 1) {
            return Cli.fail("evaluate", "need --clips >= 1, --crops 1 or 3 and --batch >= 1, got " + clips + ", "
                    + crops + ", " + batch);
        }
        try {
            TrainConfig where = TrainConfig.embeddedDemo().withOverrides(List.of("data.root=" + data, "data.split=" + split));
            Hmdb51Dataset test = Recipe.dataset(where, Hmdb51Dataset.Subset.TEST);
            try (Device d = Devices.device(Devices.resolve(device)); Recipe.Loaded s = Recipe.load(model, d)) {
                return evaluate(s, test);
            }
        } catch (RecipeException e) {
            return Cli.fail("evaluate", e.getMessage());
        } catch (IOException | RuntimeException e) {
            return Cli.fail("evaluate", "evaluation failed: " + e.getMessage());
        }
    }

    private int evaluate(Recipe.Loaded s, Hmdb51Dataset test) throws IOException, RecipeException {
        long classes = s.model().numClasses();
        if (classes != test.numClasses()) {
            throw new RecipeException(s.source() + ": the model has " + classes + " classes, " + data
                    + " has " + test.numClasses());
        }
        if (s.classNames() != null && !s.classNames().equals(test.classNames())) {
            throw new RecipeException(s.source() + ": the model's classes " + s.classNames()
                    + " are not the dataset's " + test.classNames());
        }
        List<String> names = test.classNames();
        System.err.printf(Locale.ROOT, "evaluate: %s %s on %d test videos x %d views%n", s.kind(), s.source(),
                test.size(), clips * crops);
        long t0 = System.nanoTime();
        EvalResult r;
        try (DataLoader loader = DataLoader.builder(test, Recipe.testSampler(s.view(), clips, crops)).optBatchSize(batch)
                .optWorkers(Math.max(1, workers)).optShuffle(false).optSeed(0).build()) {
            try (Progress bar = Progress.of("evaluate", loader.batchesPerEpoch(), "batch")) {
                r = Evaluator.evaluate(s.model(), loader, "student", true, 0, n -> bar.step(n + " views"));
            }
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        System.out.printf(Locale.ROOT, "%-10s %6s %6s %7s %7s %10s%n", "model", "videos", "views", "top-1", "top-5",
                "mean-class");
        System.out.printf(Locale.ROOT, "%-10s %6d %6d %6.1f%% %6.1f%% %9.1f%%%n", s.kind(), r.samples(), r.clips(),
                100 * r.top1(), 100 * r.top5(), 100 * r.meanClassAccuracy());
        System.err.printf(Locale.ROOT, "evaluate: %.1f s%n", secs);
        if (out != null) {
            Path file = out.resolve(EVAL_FILE);
            Cli.writeFile(file, JSON.writeValueAsBytes(report(s, r, names)));
            System.out.println("wrote " + file.toAbsolutePath());
        }
        return 0;
    }

    private Map<String, Object> report(Recipe.Loaded s, EvalResult r, List<String> names) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model", s.source().toAbsolutePath().toString());
        m.put("kind", s.kind());
        m.put("device", device);
        m.put("data", data.toAbsolutePath().toString());
        m.put("split", split);
        m.put("clips", clips);
        m.put("crops", crops);
        m.put("videos", r.samples());
        m.put("views", r.clips());
        m.put("top1", r.top1());
        m.put("top5", r.top5());
        m.put("meanClassAccuracy", nullIfNaN(r.meanClassAccuracy()));
        m.put("classNames", names);
        Map<String, Object> per = new LinkedHashMap<>();
        for (int i = 0; i < names.size(); i++) {
            per.put(names.get(i), nullIfNaN(r.perClassAccuracy()[i])); // null: no test video of that class
        }
        m.put("perClassAccuracy", per);
        m.put("classCounts", r.classCounts());
        List<long[]> rows = new ArrayList<>(List.of(r.confusion()));
        m.put("confusion", rows); // [true][predicted]
        return m;
    }

    private static Double nullIfNaN(double v) {
        return Double.isNaN(v) ? null : v;
    }
}
