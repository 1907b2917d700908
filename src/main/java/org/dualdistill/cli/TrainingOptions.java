package org.dualdistill.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.dualdistill.recipe.Recipe;
import org.dualdistill.recipe.RecipeException;
import org.dualdistill.train.TrainConfig;
import picocli.CommandLine.Option;

/**
 * The options every training subcommand ({@code train-teacher}, {@code distill}, {@code ablation}) takes the same
 * way. The config is the only source of truth: the embedded demo preset, then {@code --config}, then {@code --set}
 * overrides, then the shorthand flags, each of which is one config key ({@code --data} = {@code data.root},
 * {@code --split} = {@code data.split}, {@code --epochs} = {@code schedule.epochs}, {@code --batch} =
 * {@code data.batchSize}, {@code --lr} = {@code optimizer.lr}, {@code --seed} = {@code run.seed}, {@code --device} =
 * {@code run.device}). A picocli mixin: one definition, one help text.
 */
final class TrainingOptions {
    @Option(names = "--data", paramLabel = "DIR", description = "HMDB51-layout folder (class folders + splits/); data.root")
    Path data;
    @Option(names = "--split", description = "HMDB51 split number; data.split")
    Integer split;
    @Option(names = "--epochs", description = "epochs; schedule.epochs")
    Integer epochs;
    @Option(names = "--batch", description = "clips per step; data.batchSize")
    Integer batch;
    @Option(names = "--lr", description = "peak learning rate; optimizer.lr")
    Double lr;
    @Option(names = "--seed", description = "master seed for LibTorch and the samplers; run.seed")
    Long seed;
    @Option(names = "--device", paramLabel = "cpu|cuda|cuda:N|auto", description = "where models, batches and the optimizer live; run.device")
    String device;
    @Option(names = "--config", paramLabel = "FILE.json|FILE.yaml", description = "JSON or YAML config applied onto the embedded demo preset")
    Path config;
    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "config override, repeatable (e.g. optimizer.lr=0.01, run.maxSteps=1)")
    List<String> sets = new ArrayList<>();

    /**
     * @param extra more shorthand overrides of the command (applied after {@code --set})
     * @return the resolved settings
     * @throws RecipeException naming the file and key path
     */
    TrainConfig config(List<String> extra) throws RecipeException {
        return config(TrainConfig.embeddedDemo(), extra);
    }

    /**
     * @param base  the defaults under {@code --config} (the embedded demo preset, or a checkpoint's saved config)
     * @param extra more shorthand overrides of the command (applied after {@code --set})
     * @return the resolved settings
     * @throws RecipeException naming the file and key path
     */
    TrainConfig config(TrainConfig base, List<String> extra) throws RecipeException {
        List<String> o = new ArrayList<>(sets);
        add(o, "data.root", data == null ? null : data.toString());
        add(o, "data.split", split);
        add(o, "schedule.epochs", epochs);
        add(o, "data.batchSize", batch);
        add(o, "optimizer.lr", lr);
        add(o, "run.seed", seed);
        add(o, "run.device", device);
        o.addAll(extra);
        return Recipe.config(base, config, o);
    }

    static void add(List<String> overrides, String key, Object value) {
        if (value != null) {
            overrides.add(key + "=" + value);
        }
    }

    /**
     * Sets a teacher's weights file by role ({@code --vit-teacher}, {@code --cnn-teacher} are shorthands for
     * {@code teachers.N.weights} of the teacher with that role).
     */
    static TrainConfig withTeacherWeights(TrainConfig cfg, String role, Path file, String option) throws RecipeException {
        if (file == null) {
            return cfg;
        }
        TrainConfig.Teacher t = cfg.teacher(role);
        if (t == null) {
            throw new RecipeException(option + ": the config has no teacher with role " + role);
        }
        List<TrainConfig.Teacher> ts = new ArrayList<>(cfg.teachers());
        ts.set(ts.indexOf(t), new TrainConfig.Teacher(role, t.arch(), file.toString(), t.view()));
        return cfg.withTeachers(ts);
    }
}
