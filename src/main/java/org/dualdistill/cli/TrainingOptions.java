package org.dualdistill.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.dualdistill.data.Hmdb51Dataset;
import org.dualdistill.train.TrainConfig;
import picocli.CommandLine.Option;

/**
 * The options every training subcommand ({@code train-teacher}, {@code distill}, {@code ablation}) takes the same
 * way: the dataset folder and split, and the settings chain (embedded demo preset, then {@code --config}, then
 * {@code --set}, then the explicit {@code --epochs/--batch/--lr/--seed}). A picocli mixin: one definition, one help
 * text.
 */
final class TrainingOptions {
    @Option(names = "--data", required = true, paramLabel = "DIR", description = "HMDB51-layout folder (class folders + splits/)")
    Path data;
    @Option(names = "--split", description = "HMDB51 split number (default ${DEFAULT-VALUE})")
    int split = 1;
    @Option(names = "--epochs", description = "epochs (default: schedule.epochs of the config)")
    Integer epochs;
    @Option(names = "--batch", description = "clips per step (default: data.batchSize of the config)")
    Integer batch;
    @Option(names = "--lr", description = "peak learning rate (default: optimizer.lr of the config)")
    Double lr;
    @Option(names = "--seed", description = "master seed for LibTorch and the samplers (default: run.seed of the config)")
    Long seed;
    @Option(names = "--config", paramLabel = "FILE.json|FILE.yaml", description = "JSON or YAML config applied onto the embedded demo preset")
    Path config;
    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "config override, repeatable (e.g. optimizer.lr=0.01)")
    List<String> sets = new ArrayList<>();

    /** @return the resolved settings; @throws CliSupport.CliException naming the file and key path */
    TrainConfig config() throws CliSupport.CliException {
        return CliSupport.resolveConfig(config, sets, epochs, batch, lr, seed);
    }

    /** @return the split's subset of {@code --data}; @throws CliSupport.CliException naming the folder */
    Hmdb51Dataset dataset(Hmdb51Dataset.Subset subset) throws CliSupport.CliException {
        return CliSupport.dataset(data, split, subset);
    }
}
