package org.dualdistill.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.dualdistill.export.ExportException;
import org.dualdistill.inference.ClassificationException;
import org.dualdistill.inference.Prediction;
import org.dualdistill.inference.VideoClassifier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Classifies one video file with an exported student through {@link VideoClassifier}; prints the top-k labels. */
@Command(name = "predict", mixinStandardHelpOptions = true,
        description = "Classify a video with an exported student; prints the top-k labels with probabilities.")
final class PredictCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "export folder (export, or distill --export)")
    Path model;
    @Parameters(index = "0", paramLabel = "VIDEO", description = "the video file")
    Path video;
    @Option(names = "--top", description = "labels printed (default ${DEFAULT-VALUE})")
    int top = 5;
    @Option(names = "--clips", description = "windows per video, evenly spaced (default ${DEFAULT-VALUE})")
    int clips = 1;
    @Option(names = "--crops", description = "crops per window: 1 (centre) or 3 (default ${DEFAULT-VALUE})")
    int crops = 1;
    @Option(names = "--json", description = "print one JSON object instead of a table")
    boolean json;
    @Option(names = "--device", paramLabel = "cpu|cuda|cuda:N|auto", description = "where the model runs (default ${DEFAULT-VALUE})")
    String device = "cpu";

    @Override
    public Integer call() {
        if (top < 1 || clips < 1 || (crops != 1 && crops != 3)) {
            return Cli.fail("predict", "need --top >= 1, --clips >= 1 and --crops 1 or 3, got " + top + ", " + clips
                    + ", " + crops);
        }
        if (!Files.isRegularFile(video)) {
            return Cli.fail("predict", "video file not found: " + video.toAbsolutePath());
        }
        if (!Files.isDirectory(model)) {
            return Cli.fail("predict", "model folder not found: " + model.toAbsolutePath());
        }
        List<Prediction> ps;
        try (VideoClassifier c = VideoClassifier.builder(model).optTopK(top).optViews(clips, crops).optMaxBatch(1)
                .optDevice(device).build()) {
            ps = c.classify(video);
        } catch (ExportException | ClassificationException | IllegalArgumentException e) {
            return Cli.fail("predict", e.getMessage());
        } catch (RuntimeException e) {
            return Cli.fail("predict", video + ": " + e.getMessage());
        }
        if (json) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("video", video.toString());
            m.put("model", model.toString());
            List<Map<String, Object>> rows = new ArrayList<>();
            for (Prediction p : ps) {
                Map<String, Object> r = new LinkedHashMap<>();
                r.put("label", p.label());
                r.put("index", p.index());
                r.put("probability", p.probability());
                rows.add(r);
            }
            m.put("predictions", rows);
            try {
                System.out.println(JSON.writeValueAsString(m));
            } catch (JsonProcessingException e) {
                throw new IllegalStateException(e);
            }
        } else {
            for (Prediction p : ps) {
                System.out.printf(Locale.ROOT, "%-24s %7.4f%n", p.label(), p.probability());
            }
        }
        return 0;
    }
}
