package org.dualdistill.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.dualdistill.data.Hmdb51Dataset;
import org.dualdistill.export.ModelCard;
import org.dualdistill.export.StudentExport;
import org.dualdistill.recipe.Recipe;
import org.dualdistill.recipe.RecipeException;
import org.dualdistill.train.TrainConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Turns a training checkpoint into a deployable export: the student's weights only (the Structure Discrepancy
 * Branch, hint regressor, frozen projections and optimizer state stay behind), a card carrying the class names of the
 * dataset, the student's view and, when given, the metrics of an {@code evaluate --out} folder, and the run's
 * resolved config ({@code config.json}).
 */
@Command(name = "export", mixinStandardHelpOptions = true,
        description = "Export the student of a checkpoint (weights + model card + config) for predict and VideoClassifier.")
final class ExportCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Option(names = "--model", required = true, paramLabel = "DIR",
            description = "checkpoint folder (or a run's checkpoints/ folder: the latest is used)")
    Path model;
    @Option(names = "--data", required = true, paramLabel = "DIR", description = "the HMDB51-layout folder it was trained on (class names)")
    Path data;
    @Option(names = "--out", required = true, paramLabel = "DIR", description = "export folder (created or updated)")
    Path out;
    @Option(names = "--metrics", paramLabel = "DIR|FILE.json", description = "an evaluate --out folder (or its eval.json); its top1/top5/meanClassAccuracy go on the card")
    Path metrics;
    @Option(names = "--split", description = "HMDB51 split number (default ${DEFAULT-VALUE})")
    int split = 1;

    @Override
    public Integer call() {
        try {
            Map<String, Double> m = metrics == null ? Map.of() : readMetrics(Files.isDirectory(metrics)
                    ? metrics.resolve(EvaluateCommand.EVAL_FILE) : metrics);
            TrainConfig where = TrainConfig.embeddedDemo().withOverrides(List.of("data.root=" + data, "data.split=" + split));
            Hmdb51Dataset train = Recipe.dataset(where, Hmdb51Dataset.Subset.TRAIN);
            if (Files.exists(model.resolve(StudentExport.CARD))) {
                throw new RecipeException(model + ": already an export (has " + StudentExport.CARD + ")");
            }
            try (Recipe.Loaded s = Recipe.load(model, null)) {
                long classes = s.model().numClasses();
                if (classes != train.numClasses()) {
                    throw new RecipeException(s.source() + ": the student has " + classes + " classes, " + data
                            + " has " + train.numClasses());
                }
                ModelCard written = Recipe.export(out, s.model(), s.view(), train.classNames(), m, s.plan().config().toJson());
                System.out.println("exported " + s.source() + " to " + out.toAbsolutePath() + " (" + classes
                        + " classes, sha256 " + written.weightsSha256() + ")");
                return 0;
            }
        } catch (RecipeException e) {
            return Cli.fail("export", e.getMessage());
        } catch (RuntimeException e) {
            return Cli.fail("export", "cannot write " + out + ": " + e.getMessage());
        }
    }

    private static Map<String, Double> readMetrics(Path file) throws RecipeException {
        JsonNode n;
        try {
            n = JSON.readTree(Files.readAllBytes(file));
        } catch (NoSuchFileException e) {
            throw new RecipeException("--metrics file not found: " + file.toAbsolutePath(), e);
        } catch (JsonProcessingException e) {
            throw new RecipeException(file + ": not valid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new RecipeException(file + ": cannot read: " + e.getMessage(), e);
        }
        Map<String, Double> m = new LinkedHashMap<>();
        for (String k : new String[] {"top1", "top5", "meanClassAccuracy"}) {
            if (n != null && n.has(k) && n.get(k).isNumber()) {
                m.put(k, n.get(k).doubleValue());
            }
        }
        if (m.isEmpty()) {
            throw new RecipeException(file + ": no top1, top5 or meanClassAccuracy number (expected an evaluate --out file)");
        }
        return m;
    }
}
