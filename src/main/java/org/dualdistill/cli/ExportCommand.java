package org.dualdistill.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.dualdistill.data.Hmdb51Dataset;
import org.dualdistill.export.ModelCard;
import org.dualdistill.export.StudentExport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Turns a training checkpoint into a deployable export ({@link StudentExport}): the student's weights only (the
 * Structure Discrepancy Branch, hint regressor, frozen projections and optimizer state stay behind), with a card
 * carrying the class names of the dataset, the checkpoint's input geometry and, when given, the metrics of an
 * {@code evaluate --out} file.
 */
@Command(name = "export", mixinStandardHelpOptions = true,
        description = "Export the student of a checkpoint (weights + model card) for predict and VideoClassifier.")
final class ExportCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Option(names = "--checkpoint", required = true, paramLabel = "DIR",
            description = "checkpoint folder (or a folder of epoch-* checkpoints: the latest is used)")
    Path checkpoint;
    @Option(names = "--data", required = true, paramLabel = "DIR", description = "the HMDB51-layout folder it was trained on (class names)")
    Path data;
    @Option(names = "--out", required = true, paramLabel = "DIR", description = "export folder (created or updated)")
    Path out;
    @Option(names = "--metrics", paramLabel = "FILE.json", description = "an evaluate --out file; its top1/top5/meanClassAccuracy go on the card")
    Path metrics;
    @Option(names = "--split", description = "HMDB51 split number (default ${DEFAULT-VALUE})")
    int split = 1;

    @Override
    public Integer call() {
        try {
            Map<String, Double> m = metrics == null ? Map.of() : readMetrics(metrics);
            Hmdb51Dataset train = CliSupport.dataset(data, split, Hmdb51Dataset.Subset.TRAIN);
            if (Files.exists(checkpoint.resolve(StudentExport.CARD))) {
                throw new CliSupport.CliException(checkpoint + ": already an export (has " + StudentExport.CARD + ")");
            }
            try (CliSupport.LoadedStudent s = CliSupport.loadStudent(checkpoint)) {
                long classes = s.model().config().numClasses();
                if (classes != train.numClasses()) {
                    throw new CliSupport.CliException(s.source() + ": the student has " + classes + " classes, " + data
                            + " has " + train.numClasses());
                }
                CliSupport.Geometry g = s.geometry();
                ModelCard.Builder card = ModelCard.builder(s.model().config(), train.classNames())
                        .optInput(g.clipLength(), g.frameStride(), g.crop(), g.shortSide()).optNormalization(g.mean(), g.std());
                m.forEach(card::addMetric);
                ModelCard written = StudentExport.write(out, s.model(), card.build());
                System.out.println("exported " + s.source() + " to " + out.toAbsolutePath() + " (" + classes
                        + " classes, sha256 " + written.weightsSha256() + ")");
                return 0;
            }
        } catch (CliSupport.CliException e) {
            return CliSupport.fail("export", e.getMessage());
        } catch (IOException | RuntimeException e) {
            return CliSupport.fail("export", "cannot write " + out + ": " + e.getMessage());
        }
    }

    private static Map<String, Double> readMetrics(Path file) throws CliSupport.CliException {
        JsonNode n;
        try {
            n = JSON.readTree(Files.readAllBytes(file));
        } catch (NoSuchFileException e) {
            throw new CliSupport.CliException("--metrics file not found: " + file.toAbsolutePath(), e);
        } catch (JsonProcessingException e) {
            throw new CliSupport.CliException(file + ": not valid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new CliSupport.CliException(file + ": cannot read: " + e.getMessage(), e);
        }
        Map<String, Double> m = new LinkedHashMap<>();
        for (String k : new String[] {"top1", "top5", "meanClassAccuracy"}) {
            if (n != null && n.has(k) && n.get(k).isNumber()) {
                m.put(k, n.get(k).doubleValue());
            }
        }
        if (m.isEmpty()) {
            throw new CliSupport.CliException(file + ": no top1, top5 or meanClassAccuracy number (expected an evaluate --out file)");
        }
        return m;
    }
}
