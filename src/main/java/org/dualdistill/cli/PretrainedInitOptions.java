package org.dualdistill.cli;

import java.io.IOException;
import java.nio.file.Path;

import org.dualdistill.model.Pretrained;
import org.dualdistill.model.VideoModel;
import org.dualdistill.model.io.WeightReport;
import org.dualdistill.model.io.Zoo;
import picocli.CommandLine.Option;

/**
 * {@code --init FILE [--from ZOO]}: fine-tuning init of a freshly built model from a zoo checkpoint (see
 * {@link Pretrained#init}). A picocli mixin, so that any training command takes it with two lines.
 */
final class PretrainedInitOptions {
    @Option(names = "--init", paramLabel = "FILE",
            description = "start from this checkpoint (.pyth/.pth/.pt or .safetensors, any class count); the classifier is re-initialized when its size differs")
    Path init;
    @Option(names = "--from", paramLabel = "ZOO",
            description = "names in the --init file: pyslowfast, pytorchvideo, torchvision or dualdistill (default)")
    String from = "dualdistill";

    /**
     * Loads {@code --init} into the model when given, printing the report.
     *
     * @param model the model just built (borrowed)
     * @throws IOException naming the file and the reason when it cannot be loaded
     */
    void apply(VideoModel model) throws IOException {
        if (init == null) {
            return;
        }
        try {
            WeightReport r = Pretrained.init(model, init, Zoo.parse(from));
            System.out.println("init " + r.summary());
        } catch (IOException | RuntimeException e) {
            throw new IOException("--init " + e.getMessage(), e);
        }
    }
}
