package org.dualdistill.train;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import org.dualdistill.datw.Normalization;
import org.dualdistill.datw.ScoreMode;
import org.dualdistill.datw.Weighting;

/**
 * The whole training run as one immutable tree, the only source of truth of a run: the model being trained and its
 * view, the frozen teachers (role, registry arch, weights file, view), data, objective weights and knobs, optimizer,
 * schedule and run settings (seed, device, precision, logging, checkpoints). Read from JSON or YAML (a file, then
 * {@code key.path=value} overrides applied onto the tree), checked against the schema of the defaults, and
 * validated field by field. Both formats go through the same tree check, so a YAML file is exactly as strict as its
 * JSON twin: YAML only changes the syntax (see {@link Format}). Every key is read by the recipe layer
 * ({@code org.dualdistill.recipe}); the CLI's flags are shorthands for keys.
 *
 * <p>Architectures are registry names ({@link org.dualdistill.model.ModelZoo}). A view whose fields are 0 (and whose
 * mean/std are empty) takes the preset's canonical view field by field; {@code model.numClasses} 0 takes the
 * dataset's. The recipe resolves both, and the config it saves with a checkpoint or an export has every value
 * explicit, so a resumed run or an evaluation rebuilds exactly the same models.
 *
 * <p>Errors are {@link IllegalArgumentException}s whose message starts with the key path:
 * {@code "optimizer.lr: must be > 0, got -1"}, {@code "objective.sddWeigth: unknown key (did you mean sddWeight?)"}.
 * Array elements are addressed by index ({@code teachers.1.weights}).
 *
 * <p>{@link #reference()} reproduces the paper's settings (X3D-S student, MViTv2-S + X3D-M teachers, DATW
 * product/softmax T = 4, a_ce = a_kd = b = g = 1, d = 0, SGD lr 0.1 momentum 0.9 nesterov wd 5e-5, cosine with linear
 * warmup, bf16 on CUDA). {@link #embeddedDemo()} is the small CPU case (the demo's reduced models). Immutable and
 * thread-safe.
 *
 * @param model     the model being trained (the student in {@code distill}, the teacher in {@code train-teacher})
 * @param teachers  frozen teachers, at most one per role; empty = cross-entropy training
 * @param data      dataset and loader settings
 * @param objective the loss weights and DATW knobs
 * @param optimizer optimizer and gradient clipping
 * @param schedule  learning-rate schedule
 * @param run       output, seed, device, precision, logging and checkpoint cadence
 */
public record TrainConfig(Model model, List<Teacher> teachers, Data data, Objective objective,
                          Optimizer optimizer, Schedule schedule, Run run) {

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(SerializationFeature.INDENT_OUTPUT);
    /** Reads YAML into the same node tree the JSON path checks; only the syntax differs. */
    private static final YAMLMapper YAML = new YAMLMapper();

    /** Teacher roles: the heterogeneous ViT teacher and the structurally similar CNN teacher. */
    public static final List<String> ROLES = List.of("vit", "cnn");

    /** The syntax of a config file. */
    public enum Format {
        /** A JSON object. */
        JSON,
        /** A YAML mapping (block or flow style); anchors and aliases are expanded, tags other than the core ones fail. */
        YAML;

        /**
         * Picks the format of a config file: by extension ({@code .json}, {@code .yaml}/{@code .yml}), otherwise by
         * content (JSON when the first non-blank character is <code>{</code>, else YAML).
         *
         * @param fileName the file name, or null when unknown
         * @param text     the contents
         * @return the format
         */
        public static Format detect(String fileName, String text) {
            String n = fileName == null ? "" : fileName.toLowerCase(Locale.ROOT);
            if (n.endsWith(".json")) {
                return JSON;
            }
            if (n.endsWith(".yaml") || n.endsWith(".yml")) {
                return YAML;
            }
            return text.strip().startsWith("{") ? JSON : YAML;
        }
    }

    /** Validates every section (messages carry the key path). */
    public TrainConfig {
        require(model != null, "model", "missing section");
        require(teachers != null, "teachers", "missing section (use [] for cross-entropy training)");
        require(data != null, "data", "missing section");
        require(objective != null, "objective", "missing section");
        require(optimizer != null, "optimizer", "missing section");
        require(schedule != null, "schedule", "missing section");
        require(run != null, "run", "missing section");
        teachers = List.copyOf(teachers);
        List<String> seen = new ArrayList<>();
        for (int i = 0; i < teachers.size(); i++) {
            Teacher t = teachers.get(i);
            require(t != null, "teachers." + i, "missing teacher");
            require(!seen.contains(t.role()), "teachers." + i + ".role", "two teachers with role " + t.role());
            seen.add(t.role());
        }
        if (!teachers.isEmpty() && (objective.sddWeight() != 0 || objective.rkdWeight() != 0 || objective.hintWeight() != 0)) {
            require(seen.containsAll(ROLES), "teachers", "SDD, RKD and the hint need a vit and a cnn teacher, got roles "
                    + seen + " (set objective.sddWeight, rkdWeight and hintWeight to 0 for KD alone)");
        }
        require(schedule.warmupEpochs() <= schedule.epochs(), "schedule.warmupEpochs",
                "must be <= schedule.epochs (" + schedule.epochs() + "), got " + fmt(schedule.warmupEpochs()));
    }

    /** @return the teacher of a role ({@code vit} or {@code cnn}), or null */
    public Teacher teacher(String role) {
        for (Teacher t : teachers) {
            if (t.role().equals(role)) {
                return t;
            }
        }
        return null;
    }

    /** @return this config with another model section */
    public TrainConfig withModel(Model m) {
        return new TrainConfig(m, teachers, data, objective, optimizer, schedule, run);
    }

    /** @return this config with other teachers */
    public TrainConfig withTeachers(List<Teacher> t) {
        return new TrainConfig(model, t, data, objective, optimizer, schedule, run);
    }

    /**
     * A model's input view; 0 (or an empty list) takes the preset's value for that field.
     *
     * @param frames            frames per clip
     * @param frameStride       source frames between samples
     * @param crop              square crop side
     * @param trainShortSideMin smallest training short side (scale jitter)
     * @param trainShortSideMax largest training short side
     * @param testShortSide     test-time short side
     * @param mean              per-channel mean (3 values, or empty)
     * @param std               per-channel std (3 values, or empty)
     */
    public record View(int frames, int frameStride, int crop, int trainShortSideMin, int trainShortSideMax,
                       int testShortSide, List<Double> mean, List<Double> std) {
        /** The all-defaults view: every field is the preset's. */
        public static final View PRESET = new View(0, 0, 0, 0, 0, 0, List.of(), List.of());

        public View {
            require(frames >= 0, "frames", "must be >= 0 (0 = preset), got " + frames);
            require(frameStride >= 0, "frameStride", "must be >= 0 (0 = preset), got " + frameStride);
            require(crop >= 0, "crop", "must be >= 0 (0 = preset), got " + crop);
            require(trainShortSideMin >= 0, "trainShortSideMin", "must be >= 0 (0 = preset), got " + trainShortSideMin);
            require(trainShortSideMax >= 0, "trainShortSideMax", "must be >= 0 (0 = preset), got " + trainShortSideMax);
            require(testShortSide >= 0, "testShortSide", "must be >= 0 (0 = preset), got " + testShortSide);
            mean = mean == null ? List.of() : List.copyOf(mean);
            std = std == null ? List.of() : List.copyOf(std);
            require(mean.isEmpty() || mean.size() == 3, "mean", "must have 3 values (or none = preset), got " + mean);
            require(std.isEmpty() || std.size() == 3, "std", "must have 3 values (or none = preset), got " + std);
        }

        /** @return a view with every field explicit */
        public static View of(org.dualdistill.model.ModelView v) {
            return new View(v.frames(), v.frameStride(), v.crop(), v.trainShortSideMin(), v.trainShortSideMax(),
                    v.testShortSide(), v.mean(), v.std());
        }

        /**
         * @param preset the preset's canonical view
         * @return this view with every 0 or empty field taken from the preset
         * @throws IllegalArgumentException when the result is inconsistent (e.g. crop above the short side)
         */
        public org.dualdistill.model.ModelView resolve(org.dualdistill.model.ModelView preset) {
            int c = crop > 0 ? crop : preset.crop();
            // a crop override without a short-side override scales the preset's short sides with it
            double k = crop > 0 ? (double) crop / preset.crop() : 1;
            int tmin = trainShortSideMin > 0 ? trainShortSideMin : (int) Math.round(preset.trainShortSideMin() * k);
            int tmax = trainShortSideMax > 0 ? trainShortSideMax : Math.max(tmin, (int) Math.round(preset.trainShortSideMax() * k));
            int test = testShortSide > 0 ? testShortSide : (int) Math.round(preset.testShortSide() * k);
            return new org.dualdistill.model.ModelView(frames > 0 ? frames : preset.frames(),
                    frameStride > 0 ? frameStride : preset.frameStride(), c, Math.max(c, tmin), Math.max(Math.max(c, tmin), tmax),
                    Math.max(c, test), mean.isEmpty() ? preset.mean() : mean, std.isEmpty() ? preset.std() : std);
        }
    }

    /**
     * The model being trained.
     *
     * @param arch       registry name ({@code x3d_s}, {@code x3d_demo}, ...)
     * @param numClasses classes of the head, 0 = the dataset's
     * @param view       its input view (fields 0 = the preset's)
     */
    public record Model(String arch, long numClasses, View view) {
        public Model {
            nonBlank(arch, "model.arch");
            require(numClasses >= 0, "model.numClasses", "must be >= 0 (0 = the dataset's), got " + numClasses);
            require(view != null, "model.view", "missing section");
        }
    }

    /**
     * One frozen teacher.
     *
     * @param role    {@code vit} (the heterogeneous teacher) or {@code cnn} (the structurally similar one)
     * @param arch    registry name ({@code mvitv2_s}, {@code x3d_m}, ...)
     * @param weights a file written by {@code train-teacher} (or its folder), "" = none (refused unless untrained
     *                teachers are allowed)
     * @param view    its input view (fields 0 = the preset's)
     */
    public record Teacher(String role, String arch, String weights, View view) {
        public Teacher {
            require(role != null && ROLES.contains(role), "role", "must be one of " + ROLES + ", got " + role);
            nonBlank(arch, "arch");
            require(weights != null, "weights", "must not be null (use \"\")");
            require(view != null, "view", "missing section");
        }
    }

    /**
     * Dataset and loader.
     *
     * @param dataset    dataset layout; {@code hmdb51} (class folders of videos plus {@code splits/} files, as
     *                   HMDB51 and {@code dualdistill generate} write them)
     * @param root       dataset root folder ({@code --data}), "" = given on the command line
     * @param split      split number (HMDB51: 1, 2 or 3)
     * @param batchSize  clips per step (>= 1)
     * @param workers    decoding workers (>= 1)
     * @param flipProbability probability of a left-right flip in training augmentation, in [0, 1]. Kinetics-style
     *                   data uses 0.5; set 0 for direction-sensitive classes (the synthetic dataset's pairs such as
     *                   move_left/move_right and rotate_cw/rotate_ccw are mirror images: flipping swaps their labels)
     * @param maxSkippedFraction the largest fraction of the videos that may be unusable (missing, corrupt) before
     *                   training stops, in [0, 1]; default 0.1: a few broken downloads are left out and reported, a
     *                   wrong folder or codec stops the run at once instead of training on what is left (1 = never
     *                   stop for this; a dataset with no usable video stops in any case)
     */
    public record Data(String dataset, String root, int split, int batchSize, int workers, double flipProbability,
                       double maxSkippedFraction) {
        public Data {
            require("hmdb51".equals(dataset), "data.dataset", "must be hmdb51 (the layout the CLI reads), got \"" + dataset + "\"");
            require(root != null, "data.root", "must not be null (use \"\")");
            require(split >= 1, "data.split", "must be >= 1, got " + split);
            require(batchSize >= 1, "data.batchSize", "must be >= 1, got " + batchSize);
            require(workers >= 1, "data.workers", "must be >= 1, got " + workers);
            require(flipProbability >= 0 && flipProbability <= 1, "data.flipProbability",
                    "must be in [0, 1], got " + flipProbability);
            require(maxSkippedFraction >= 0 && maxSkippedFraction <= 1, "data.maxSkippedFraction",
                    "must be in [0, 1], got " + maxSkippedFraction);
        }
    }

    /**
     * L = alphaCe L_ce + alphaKd L_kd(DATW) + sddWeight L_sdd + rkdWeight L_rkd + hintWeight L_hint.
     *
     * @param alphaCe        weight of the cross-entropy term (finite)
     * @param alphaKd        weight of the KD term (finite)
     * @param sddWeight      b, weight of L_sdd (finite, >= 0)
     * @param rkdWeight      g, weight of L_rkd (finite, >= 0)
     * @param hintWeight     d, weight of L_hint (finite, >= 0)
     * @param weighting      teacher weighting
     * @param scoreMode      DATW score
     * @param normalization  DATW normalization
     * @param temperature    KD temperature T (> 0)
     * @param tauConf        confidence softmax temperature (> 0)
     * @param tauWeight      weight softmax temperature (> 0)
     * @param labelSmoothing CE label smoothing in [0, 1) (also of cross-entropy training without teachers)
     * @param rkdDistanceWeight RKD distance weight (>= 0)
     * @param rkdAngleWeight RKD angle weight (>= 0)
     * @param alignDim       SDD alignment width D, 0 = student channels
     * @param alignSeed      seed of the frozen projections, 0 = the objective's default
     */
    public record Objective(double alphaCe, double alphaKd, double sddWeight, double rkdWeight, double hintWeight,
                            Weighting weighting, ScoreMode scoreMode, Normalization normalization, double temperature,
                            double tauConf, double tauWeight, double labelSmoothing, double rkdDistanceWeight,
                            double rkdAngleWeight, long alignDim, long alignSeed) {
        public Objective {
            finite(alphaCe, "objective.alphaCe");
            finite(alphaKd, "objective.alphaKd");
            nonNegative(sddWeight, "objective.sddWeight");
            nonNegative(rkdWeight, "objective.rkdWeight");
            nonNegative(hintWeight, "objective.hintWeight");
            require(weighting != null, "objective.weighting", "must be one of " + List.of(Weighting.values()));
            require(scoreMode != null, "objective.scoreMode", "must be one of " + List.of(ScoreMode.values()));
            require(normalization != null, "objective.normalization",
                    "must be one of " + List.of(Normalization.values()));
            positive(temperature, "objective.temperature");
            positive(tauConf, "objective.tauConf");
            positive(tauWeight, "objective.tauWeight");
            require(labelSmoothing >= 0 && labelSmoothing < 1, "objective.labelSmoothing",
                    "must be in [0, 1), got " + labelSmoothing);
            nonNegative(rkdDistanceWeight, "objective.rkdDistanceWeight");
            nonNegative(rkdAngleWeight, "objective.rkdAngleWeight");
            require(alignDim >= 0, "objective.alignDim", "must be >= 0 (0 = student channels), got " + alignDim);
        }
    }

    /** Optimizer algorithms. */
    public enum Algorithm {
        /** SGD with (optionally Nesterov) momentum, decoupled-by-group L2 weight decay */
        SGD,
        /** AdamW (decoupled weight decay) */
        ADAMW
    }

    /**
     * Optimizer.
     *
     * @param name         algorithm
     * @param lr           peak learning rate (> 0)
     * @param momentum     SGD momentum in [0, 1)
     * @param nesterov     SGD Nesterov momentum (needs momentum > 0)
     * @param weightDecay  weight decay (>= 0), applied to conv/linear weights only, never to norm parameters or biases
     * @param beta1        AdamW beta1 in [0, 1)
     * @param beta2        AdamW beta2 in [0, 1)
     * @param eps          AdamW epsilon (> 0)
     * @param clipGradNorm global gradient-norm bound, 0 = no clipping (>= 0)
     */
    public record Optimizer(Algorithm name, double lr, double momentum, boolean nesterov, double weightDecay,
                            double beta1, double beta2, double eps, double clipGradNorm) {
        public Optimizer {
            require(name != null, "optimizer.name", "must be one of " + List.of(Algorithm.values()));
            positive(lr, "optimizer.lr");
            require(momentum >= 0 && momentum < 1, "optimizer.momentum", "must be in [0, 1), got " + fmt(momentum));
            require(!nesterov || momentum > 0, "optimizer.nesterov", "needs optimizer.momentum > 0");
            nonNegative(weightDecay, "optimizer.weightDecay");
            require(beta1 >= 0 && beta1 < 1, "optimizer.beta1", "must be in [0, 1), got " + fmt(beta1));
            require(beta2 >= 0 && beta2 < 1, "optimizer.beta2", "must be in [0, 1), got " + fmt(beta2));
            positive(eps, "optimizer.eps");
            nonNegative(clipGradNorm, "optimizer.clipGradNorm");
        }
    }

    /**
     * Cosine schedule with linear warmup, stepped per optimizer step ({@link CosineSchedule}); the steps per epoch
     * are the training loader's batches.
     *
     * @param epochs        training epochs (>= 1)
     * @param warmupEpochs  linear warmup length in epochs (>= 0, <= epochs; may be fractional)
     * @param warmupStartLr learning rate at step 0 (>= 0)
     * @param minLr         floor of the cosine (>= 0)
     */
    public record Schedule(int epochs, double warmupEpochs, double warmupStartLr, double minLr) {
        public Schedule {
            require(epochs >= 1, "schedule.epochs", "must be >= 1, got " + epochs);
            nonNegative(warmupEpochs, "schedule.warmupEpochs");
            nonNegative(warmupStartLr, "schedule.warmupStartLr");
            nonNegative(minLr, "schedule.minLr");
        }
    }

    /** Precision settings of {@link Run#precision()}. */
    public static final List<String> PRECISIONS = List.of("auto", "fp32", "bf16", "fp16");

    /**
     * Run settings.
     *
     * @param outputDir       folder for metrics and checkpoints ({@code --out}), "" = nothing written
     * @param seed            master seed (torch generator and the Java samplers)
     * @param device          {@code cpu}, {@code cuda}, {@code cuda:N}, or {@code auto} (CUDA when LibTorch sees
     *                        a device, else the CPU; the saved config records the device used)
     * @param precision       forward-pass precision: {@code auto} (bf16 autocast on CUDA, fp32 on the CPU),
     *                        {@code fp32}, {@code bf16} or {@code fp16} (autocast; losses and weights stay fp32)
     * @param logEvery        steps between log lines (>= 1)
     * @param checkpointEvery epochs between checkpoints (>= 1)
     * @param maxSteps        stop after this many optimizer steps (a mid-epoch checkpoint is written there),
     *                        0 = run every epoch
     * @param onNonFinite     what a NaN/infinite loss term or gradient norm does: {@code stop} (default) or
     *                        {@code skip} that optimizer step ({@link NonFinitePolicy})
     * @param maxNonFiniteSkips with {@code skip}, the most consecutive skipped steps before stopping anyway (>= 0,
     *                        default 5)
     */
    public record Run(String outputDir, long seed, String device, String precision, int logEvery, int checkpointEvery,
                      long maxSteps, NonFinitePolicy onNonFinite, int maxNonFiniteSkips) {
        public Run {
            require(outputDir != null, "run.outputDir", "must not be null (use \"\")");
            nonBlank(device, "run.device");
            device = device.toLowerCase(Locale.ROOT);
            require(device.equals("cpu") || device.equals("auto") || device.matches("cuda(:\\d+)?"), "run.device",
                    "must be cpu, cuda, cuda:N or auto, got \"" + device + "\"");
            require(precision != null && PRECISIONS.contains(precision.toLowerCase(Locale.ROOT)), "run.precision",
                    "must be one of " + PRECISIONS + ", got \"" + precision + "\"");
            precision = precision.toLowerCase(Locale.ROOT);
            require(logEvery >= 1, "run.logEvery", "must be >= 1, got " + logEvery);
            require(checkpointEvery >= 1, "run.checkpointEvery", "must be >= 1, got " + checkpointEvery);
            require(maxSteps >= 0, "run.maxSteps", "must be >= 0 (0 = no limit), got " + maxSteps);
            require(onNonFinite != null, "run.onNonFinite", "must be one of [stop, skip]");
            require(maxNonFiniteSkips >= 0, "run.maxNonFiniteSkips", "must be >= 0, got " + maxNonFiniteSkips);
        }
    }

    // ---------------------------------------------------------------- presets

    private static Objective paperObjective() {
        return new Objective(1, 1, 1, 1, 0, Weighting.DATW, ScoreMode.PRODUCT, Normalization.SOFTMAX, 4.0, 1.0, 0.25,
                0, 1, 2, 0, 0);
    }

    /**
     * @return the paper's settings: X3D-S distilled from MViTv2-S + X3D-M, each at its canonical view, PySlowFast's
     *         X3D recipe (SGD lr 0.1, cosine, 35 warmup epochs of 300), on the GPU with bf16
     */
    public static TrainConfig reference() {
        return new TrainConfig(
                new Model("x3d_s", 0, View.PRESET),
                List.of(new Teacher("vit", "mvitv2_s", "", View.PRESET), new Teacher("cnn", "x3d_m", "", View.PRESET)),
                new Data("hmdb51", "", 1, 128, 8, 0.5, 0.1),
                paperObjective(),
                new Optimizer(Algorithm.SGD, 0.1, 0.9, true, 5e-5, 0.9, 0.999, 1e-8, 0),
                new Schedule(300, 35, 0.01, 0),
                new Run("", 0, "cuda", "auto", 50, 10, 0, NonFinitePolicy.STOP, 5));
    }

    /**
     * @return the small CPU case: the demo's reduced models ({@code x3d_demo} student, {@code mvit_demo} ViT and
     *         {@code x3d_demo_wide} CNN teachers), 2 epochs
     */
    public static TrainConfig embeddedDemo() {
        return new TrainConfig(
                new Model("x3d_demo", 0, View.PRESET),
                List.of(new Teacher("vit", "mvit_demo", "", View.PRESET), new Teacher("cnn", "x3d_demo_wide", "", View.PRESET)),
                new Data("hmdb51", "", 1, 2, 1, 0, 0.1),
                paperObjective(),
                new Optimizer(Algorithm.SGD, 0.05, 0.9, true, 5e-5, 0.9, 0.999, 1e-8, 1.0),
                new Schedule(2, 0.5, 0.005, 0),
                new Run("", 0, "cpu", "auto", 1, 1, 0, NonFinitePolicy.STOP, 5));
    }

    /**
     * @param name {@code reference} or {@code demo}
     * @return the preset
     * @throws IllegalArgumentException for any other name
     */
    public static TrainConfig preset(String name) {
        return switch (name) {
            case "reference" -> reference();
            case "demo", "embedded-demo" -> embeddedDemo();
            default -> throw new IllegalArgumentException("preset: unknown preset \"" + name
                    + "\" (expected reference or demo)");
        };
    }

    // ---------------------------------------------------------------- loading

    /**
     * Loads a JSON or YAML file (format by {@link Format#detect}) onto the reference defaults, then applies overrides.
     *
     * @param file      a JSON object or YAML mapping with any subset of the sections; keys it omits keep their default
     * @param overrides {@code key.path=value} strings applied in order
     * @return the validated config
     * @throws IOException              when the file is unreadable or not JSON/YAML (the message names it)
     * @throws IllegalArgumentException for an unknown key or a bad value (the message starts with the key path)
     */
    public static TrainConfig load(Path file, List<String> overrides) throws IOException {
        return load(reference(), file, overrides);
    }

    /**
     * Loads a JSON or YAML file (format by {@link Format#detect}) onto the given defaults, then applies overrides.
     *
     * @param base      the defaults (a preset)
     * @param file      a JSON object or YAML mapping with any subset of the sections
     * @param overrides {@code key.path=value} strings applied in order
     * @return the validated config
     * @throws IOException              when the file is unreadable, or not valid JSON/YAML (the message names the file)
     * @throws IllegalArgumentException for an unknown key or a bad value (message: the file, then the key path)
     */
    public static TrainConfig load(TrainConfig base, Path file, List<String> overrides) throws IOException {
        String text = Files.readString(file);
        ObjectNode user;
        try {
            user = readObject(text, Format.detect(file.getFileName().toString(), text));
        } catch (IllegalArgumentException e) {
            throw new IOException(file + ": " + e.getMessage(), e);
        }
        try {
            return resolve(base, user, overrides);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Parses JSON or YAML text (format by content, see {@link Format#detect}) onto the given defaults, then applies
     * overrides.
     *
     * @param base      the defaults (a preset)
     * @param text      a JSON object (may be "{}") or a YAML mapping
     * @param overrides {@code key.path=value} strings applied in order
     * @return the validated config
     * @throws IllegalArgumentException for malformed text, an unknown key or a bad value (key path first)
     */
    public static TrainConfig parse(TrainConfig base, String text, List<String> overrides) {
        return parse(base, text, Format.detect(null, text), overrides);
    }

    /**
     * Parses text in the given format onto the given defaults, then applies overrides.
     *
     * @param base      the defaults (a preset)
     * @param text      a JSON object or a YAML mapping
     * @param format    its syntax
     * @param overrides {@code key.path=value} strings applied in order
     * @return the validated config
     * @throws IllegalArgumentException for malformed text, an unknown key or a bad value (key path first)
     */
    public static TrainConfig parse(TrainConfig base, String text, Format format, List<String> overrides) {
        return resolve(base, readObject(text, format), overrides);
    }

    /** @return the top-level object of a JSON or YAML text; IllegalArgumentException("config: ...") otherwise */
    private static ObjectNode readObject(String text, Format format) {
        JsonNode user;
        try {
            user = format == Format.YAML ? YAML.readTree(text) : JSON.readTree(text);
        } catch (JsonProcessingException e) {
            String where = e.getLocation() == null ? ""
                    : " (line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() + ")";
            throw new IllegalArgumentException("config: not valid " + format + where + ": " + e.getOriginalMessage(), e);
        }
        if (user == null || !user.isObject()) {
            throw new IllegalArgumentException("config: expected a " + (format == Format.YAML ? "YAML mapping" : "JSON object")
                    + " at the top level");
        }
        return (ObjectNode) user;
    }

    /**
     * @param overrides {@code key.path=value} strings applied in order
     * @return a copy of this config with the overrides applied and validated
     */
    public TrainConfig withOverrides(List<String> overrides) {
        return resolve(this, JsonNodeFactory.instance.objectNode(), overrides);
    }

    /** @return this config as pretty-printed JSON (round-trips through {@link #parse}) */
    public String toJson() {
        try {
            return JSON.writeValueAsString(tree(this));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("TrainConfig is not serializable", e);
        }
    }

    private static ObjectNode tree(TrainConfig c) {
        ObjectNode t = JSON.valueToTree(c);
        return t;
    }

    private static TrainConfig resolve(TrainConfig base, ObjectNode user, List<String> overrides) {
        ObjectNode schema = tree(base);
        ObjectNode merged = schema.deepCopy();
        merge(schema, merged, user, "");
        for (String o : overrides == null ? List.<String>of() : overrides) {
            applyOverride(schema, merged, o);
        }
        return bind(merged);
    }

    /** Copies {@code user} onto {@code target}, checking every key and scalar type against {@code schema}. */
    private static void merge(JsonNode schema, ObjectNode target, JsonNode user, String prefix) {
        Iterator<Map.Entry<String, JsonNode>> it = user.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            String path = prefix.isEmpty() ? e.getKey() : prefix + "." + e.getKey();
            JsonNode s = schema.get(e.getKey());
            if (s == null) {
                throw unknown(path, e.getKey(), schema);
            }
            target.set(e.getKey(), checked(s, e.getValue(), path));
        }
    }

    /** @return {@code value} checked against the schema node (objects and arrays recursively) */
    private static JsonNode checked(JsonNode schema, JsonNode value, String path) {
        if (schema.isObject()) {
            if (!value.isObject()) {
                throw new IllegalArgumentException(path + ": expected an object, got " + value);
            }
            ObjectNode out = schema.deepCopy();
            merge(schema, out, value, path);
            return out;
        }
        if (schema.isArray()) {
            if (!value.isArray()) {
                throw new IllegalArgumentException(path + ": expected an array, got " + value);
            }
            JsonNode element = schema.isEmpty() ? null : schema.get(0);
            ArrayNode out = JsonNodeFactory.instance.arrayNode();
            for (int i = 0; i < value.size(); i++) {
                JsonNode template = i < schema.size() ? schema.get(i) : element;
                out.add(template == null ? value.get(i) : checked(template, value.get(i), path + "." + i));
            }
            return out;
        }
        if (schema.isNumber() && !value.isNumber()) {
            throw new IllegalArgumentException(path + ": expected a number, got " + value);
        }
        if (schema.isIntegralNumber() && !value.isIntegralNumber()) {
            if (value.isNumber() && value.doubleValue() == Math.rint(value.doubleValue())
                    && Math.abs(value.doubleValue()) < 9.0e15) {
                return JsonNodeFactory.instance.numberNode(value.longValue());
            }
            throw new IllegalArgumentException(path + ": expected an integer, got " + value);
        }
        if (schema.isBoolean() && !value.isBoolean()) {
            throw new IllegalArgumentException(path + ": expected true or false, got " + value);
        }
        if (schema.isTextual() && !value.isTextual()) {
            throw new IllegalArgumentException(path + ": expected a string, got " + value);
        }
        return value;
    }

    private static void applyOverride(ObjectNode schema, ObjectNode merged, String override) {
        int eq = override.indexOf('=');
        if (eq <= 0) {
            throw new IllegalArgumentException("override \"" + override + "\": expected key.path=value");
        }
        String path = override.substring(0, eq).trim();
        String raw = override.substring(eq + 1).trim();
        String[] keys = path.split("\\.", -1);
        JsonNode schemaNode = schema;
        JsonNode parent = merged;
        String sofar = "";
        for (int i = 0; i < keys.length; i++) {
            String k = keys[i];
            sofar = sofar.isEmpty() ? k : sofar + "." + k;
            boolean last = i == keys.length - 1;
            JsonNode sChild;
            JsonNode child;
            if (parent.isArray()) {
                int idx;
                try {
                    idx = Integer.parseInt(k);
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException(sofar + ": expected an array index");
                }
                if (idx < 0 || idx >= parent.size()) {
                    throw new IllegalArgumentException(sofar + ": index out of range (array has " + parent.size()
                            + " elements)");
                }
                sChild = idx < schemaNode.size() ? schemaNode.get(idx) : schemaNode.get(0);
                child = parent.get(idx);
                if (last) {
                    ((ArrayNode) parent).set(idx, checked(sChild, parseScalar(sChild, raw, sofar), sofar));
                    return;
                }
            } else if (parent.isObject()) {
                sChild = schemaNode.get(k);
                if (sChild == null) {
                    throw unknown(sofar, k, schemaNode);
                }
                child = parent.get(k);
                if (last) {
                    ((ObjectNode) parent).set(k, checked(sChild, parseScalar(sChild, raw, sofar), sofar));
                    return;
                }
            } else {
                throw new IllegalArgumentException(sofar + ": cannot descend into a scalar");
            }
            schemaNode = sChild;
            parent = child;
        }
    }

    /** Reads an override value: JSON when it parses as such, else a plain string (so {@code run.device=cpu} works). */
    private static JsonNode parseScalar(JsonNode schema, String raw, String path) {
        if (schema.isTextual()) {
            if (raw.startsWith("\"")) {
                try {
                    return JSON.readTree(raw);
                } catch (JsonProcessingException e) {
                    throw new IllegalArgumentException(path + ": bad string literal " + raw);
                }
            }
            return TextNode.valueOf(raw);
        }
        try {
            JsonNode n = JSON.readTree(raw);
            if (n == null || n.isMissingNode()) {
                throw new IllegalArgumentException(path + ": missing value");
            }
            return n;
        } catch (JsonProcessingException e) {
            return TextNode.valueOf(raw); // reported by checked() as a type error naming the path
        }
    }

    private static TrainConfig bind(ObjectNode merged) {
        // enums: accept any case, report the path on a bad name
        normalizeEnum(merged, "objective", "weighting", Weighting.values());
        normalizeEnum(merged, "objective", "scoreMode", ScoreMode.values());
        normalizeEnum(merged, "objective", "normalization", Normalization.values());
        normalizeEnum(merged, "optimizer", "name", Algorithm.values());
        normalizeEnum(merged, "run", "onNonFinite", NonFinitePolicy.values());
        try {
            return JSON.treeToValue(merged, TrainConfig.class);
        } catch (JsonProcessingException e) {
            Throwable c = e;
            while (c.getCause() != null && c.getCause() != c) {
                c = c.getCause();
            }
            if (c instanceof IllegalArgumentException iae) {
                String m = iae.getMessage();
                // nested records (teachers, views) validate without their path; add it
                String p = pathOf(e);
                if (m != null && !p.equals("config") && !m.startsWith(p) && !m.startsWith(p.split("\\.")[0] + ".")) {
                    throw new IllegalArgumentException(p + "." + m, iae);
                }
                throw iae;
            }
            throw new IllegalArgumentException(pathOf(e) + ": " + e.getOriginalMessage(), e);
        }
    }

    private static String pathOf(JsonProcessingException e) {
        if (!(e instanceof com.fasterxml.jackson.databind.JsonMappingException jm)) {
            return "config";
        }
        List<String> parts = new ArrayList<>();
        for (var ref : jm.getPath()) {
            parts.add(ref.getFieldName() != null ? ref.getFieldName() : String.valueOf(ref.getIndex()));
        }
        return parts.isEmpty() ? "config" : String.join(".", parts);
    }

    private static void normalizeEnum(ObjectNode root, String section, String key, Enum<?>[] values) {
        JsonNode s = root.get(section);
        if (s == null || !s.isObject() || !s.has(key) || !s.get(key).isTextual()) {
            return;
        }
        String v = s.get(key).asText();
        for (Enum<?> e : values) {
            if (e.name().equalsIgnoreCase(v)) {
                ((ObjectNode) s).put(key, e.name());
                return;
            }
        }
        List<String> names = new ArrayList<>();
        for (Enum<?> e : values) {
            names.add(e.name().toLowerCase(Locale.ROOT));
        }
        throw new IllegalArgumentException(section + "." + key + ": must be one of " + names + ", got \"" + v + "\"");
    }

    private static IllegalArgumentException unknown(String path, String key, JsonNode schema) {
        String best = null;
        int bestD = Integer.MAX_VALUE;
        Iterator<String> names = schema.fieldNames();
        while (names.hasNext()) {
            String n = names.next();
            int d = distance(key.toLowerCase(Locale.ROOT), n.toLowerCase(Locale.ROOT));
            if (d < bestD) {
                bestD = d;
                best = n;
            }
        }
        String hint = best != null && bestD <= Math.max(2, key.length() / 3) ? " (did you mean " + best + "?)" : "";
        return new IllegalArgumentException(path + ": unknown key" + hint);
    }

    /** Levenshtein distance with adjacent transpositions (optimal string alignment). */
    static int distance(String a, String b) {
        int[][] d = new int[a.length() + 1][b.length() + 1];
        for (int i = 0; i <= a.length(); i++) {
            d[i][0] = i;
        }
        for (int j = 0; j <= b.length(); j++) {
            d[0][j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                d[i][j] = Math.min(Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + cost);
                if (i > 1 && j > 1 && a.charAt(i - 1) == b.charAt(j - 2) && a.charAt(i - 2) == b.charAt(j - 1)) {
                    d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
                }
            }
        }
        return d[a.length()][b.length()];
    }

    // ---------------------------------------------------------------- validation helpers

    private static void require(boolean ok, String path, String what) {
        if (!ok) {
            throw new IllegalArgumentException(path + ": " + what);
        }
    }

    private static void nonBlank(String s, String path) {
        require(s != null && !s.isBlank(), path, "must not be empty");
    }

    private static void finite(double v, String path) {
        require(Double.isFinite(v), path, "must be finite, got " + fmt(v));
    }

    private static void positive(double v, String path) {
        require(v > 0 && Double.isFinite(v), path, "must be > 0, got " + fmt(v));
    }

    private static void nonNegative(double v, String path) {
        require(v >= 0 && Double.isFinite(v), path, "must be >= 0, got " + fmt(v));
    }

    /** Prints -1.0 as -1 so messages read like the config the user wrote. */
    static String fmt(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
    }
}
