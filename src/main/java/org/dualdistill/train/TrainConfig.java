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
 * The whole training run as one immutable tree: student, teachers, data, objective weights and knobs, optimizer,
 * schedule and run settings. Read from JSON or YAML (a file, then {@code key.path=value} overrides applied onto the
 * tree), checked against the schema of the defaults, and validated field by field. Both formats go through the same
 * tree check, so a YAML file is exactly as strict as its JSON twin: YAML only changes the syntax (see {@link Format}).
 *
 * <p>Errors are {@link IllegalArgumentException}s whose message starts with the key path:
 * {@code "optimizer.lr: must be > 0, got -1"}, {@code "objective.sddWeigth: unknown key (did you mean sddWeight?)"}.
 * Array elements are addressed by index ({@code teachers.1.checkpoint}).
 *
 * <p>{@link #reference()} reproduces the paper's reference settings (../shared/REFERENCE.md): X3D-S student,
 * MViTv2-S + X3D-M teachers, DATW product/softmax T = 4, a_ce = a_kd = b = g = 1, d = 0, SGD lr 0.1 momentum 0.9
 * nesterov wd 5e-5, cosine with linear warmup. {@link #embeddedDemo()} is a tiny CPU preset (reduced X3D student,
 * synthetic data, a few steps). Immutable and thread-safe.
 *
 * @param student   the student network
 * @param teachers  K >= 1 teachers (the ViT teacher at {@code objective.vitTeacher}, the CNN one at {@code cnnTeacher})
 * @param data      dataset and loader settings
 * @param objective the loss weights and DATW knobs
 * @param optimizer optimizer and gradient clipping
 * @param schedule  learning-rate schedule
 * @param run       output, seeds, logging and checkpoint cadence
 */
public record TrainConfig(Student student, List<Teacher> teachers, Data data, Objective objective,
                          Optimizer optimizer, Schedule schedule, Run run) {

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(SerializationFeature.INDENT_OUTPUT);
    /** Reads YAML into the same node tree the JSON path checks; only the syntax differs. */
    private static final YAMLMapper YAML = new YAMLMapper();

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
        require(student != null, "student", "missing section");
        require(teachers != null && !teachers.isEmpty(), "teachers", "at least one teacher is required");
        require(data != null, "data", "missing section");
        require(objective != null, "objective", "missing section");
        require(optimizer != null, "optimizer", "missing section");
        require(schedule != null, "schedule", "missing section");
        require(run != null, "run", "missing section");
        teachers = List.copyOf(teachers);
        for (int i = 0; i < teachers.size(); i++) {
            require(teachers.get(i) != null, "teachers." + i, "missing teacher");
        }
        if (objective.sddWeight() != 0 || objective.rkdWeight() != 0 || objective.hintWeight() != 0) {
            require(objective.vitTeacher() < teachers.size(), "objective.vitTeacher",
                    "must index one of the " + teachers.size() + " teachers, got " + objective.vitTeacher());
            require(objective.cnnTeacher() < teachers.size(), "objective.cnnTeacher",
                    "must index one of the " + teachers.size() + " teachers, got " + objective.cnnTeacher());
        }
        require(schedule.warmupEpochs() <= schedule.epochs(), "schedule.warmupEpochs",
                "must be <= schedule.epochs (" + schedule.epochs() + "), got " + fmt(schedule.warmupEpochs()));
    }

    /**
     * The student network.
     *
     * @param arch         architecture key ({@code x3d_xs}, {@code x3d_s}, {@code x3d_m}, {@code x3d_l})
     * @param numClasses   classes of the head (>= 1)
     * @param widthFactor  width multiplier override, 0 = the preset's
     * @param depthFactor  depth multiplier override, 0 = the preset's
     * @param headDimOut   head hidden width override, 0 = the preset's
     * @param pretrained   safetensors file to start from, or "" for random initialisation
     */
    public record Student(String arch, long numClasses, double widthFactor, double depthFactor, long headDimOut,
                          String pretrained) {
        public Student {
            nonBlank(arch, "student.arch");
            require(numClasses >= 1, "student.numClasses", "must be >= 1, got " + numClasses);
            require(widthFactor >= 0 && Double.isFinite(widthFactor), "student.widthFactor",
                    "must be >= 0 (0 = preset), got " + widthFactor);
            require(depthFactor >= 0 && Double.isFinite(depthFactor), "student.depthFactor",
                    "must be >= 0 (0 = preset), got " + depthFactor);
            require(headDimOut >= 0, "student.headDimOut", "must be >= 0 (0 = preset), got " + headDimOut);
            require(pretrained != null, "student.pretrained", "must not be null (use \"\")");
        }
    }

    /**
     * One frozen teacher.
     *
     * @param arch       architecture key ({@code mvitv2_s}, {@code x3d_m}, or {@code torchscript})
     * @param checkpoint weights or TorchScript file, "" when none (tests, random teachers)
     * @param clipLength frames the teacher consumes (>= 1)
     * @param crop       spatial size the teacher consumes (>= 1)
     */
    public record Teacher(String arch, String checkpoint, int clipLength, int crop) {
        public Teacher {
            nonBlank(arch, "arch");
            require(checkpoint != null, "checkpoint", "must not be null (use \"\")");
            require(clipLength >= 1, "clipLength", "must be >= 1, got " + clipLength);
            require(crop >= 1, "crop", "must be >= 1, got " + crop);
        }
    }

    /**
     * Dataset and loader.
     *
     * @param dataset    dataset kind ({@code kinetics400}, {@code hmdb51}, {@code folder}, {@code csv}, {@code synthetic})
     * @param root       dataset root folder ("" for synthetic)
     * @param split      split name or number ("1" for HMDB51 split 1)
     * @param clipLength student frames per clip (>= 1)
     * @param frameStride frames between samples (>= 1)
     * @param crop       student crop side (>= 1)
     * @param batchSize  clips per step (>= 1)
     * @param workers    decoding workers (>= 0)
     * @param flipProbability probability of a left-right flip in training augmentation, in [0, 1]. Kinetics-style
     *                   data uses 0.5; set 0 for direction-sensitive classes (the synthetic dataset's pairs such as
     *                   move_left/move_right and rotate_cw/rotate_ccw are mirror images: flipping swaps their labels)
     * @param maxSkippedFraction the largest fraction of the videos that may be unusable (missing, corrupt) before
     *                   training stops, in [0, 1]; default 0.1: a few broken downloads are left out and reported, a
     *                   wrong folder or codec stops the run at once instead of training on what is left (1 = never
     *                   stop for this; a dataset with no usable video stops in any case)
     */
    public record Data(String dataset, String root, String split, int clipLength, int frameStride, int crop,
                       int batchSize, int workers, double flipProbability, double maxSkippedFraction) {
        public Data {
            nonBlank(dataset, "data.dataset");
            require(root != null, "data.root", "must not be null (use \"\")");
            require(split != null, "data.split", "must not be null (use \"\")");
            require(clipLength >= 1, "data.clipLength", "must be >= 1, got " + clipLength);
            require(frameStride >= 1, "data.frameStride", "must be >= 1, got " + frameStride);
            require(crop >= 1, "data.crop", "must be >= 1, got " + crop);
            require(batchSize >= 1, "data.batchSize", "must be >= 1, got " + batchSize);
            require(workers >= 0, "data.workers", "must be >= 0, got " + workers);
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
     * @param labelSmoothing CE label smoothing in [0, 1)
     * @param rkdDistanceWeight RKD distance weight (>= 0)
     * @param rkdAngleWeight RKD angle weight (>= 0)
     * @param vitTeacher     index of the ViT teacher (>= 0)
     * @param cnnTeacher     index of the CNN teacher (>= 0)
     * @param alignDim       SDD alignment width D, 0 = student channels
     * @param alignSeed      seed of the frozen projections
     */
    public record Objective(double alphaCe, double alphaKd, double sddWeight, double rkdWeight, double hintWeight,
                            Weighting weighting, ScoreMode scoreMode, Normalization normalization, double temperature,
                            double tauConf, double tauWeight, double labelSmoothing, double rkdDistanceWeight,
                            double rkdAngleWeight, int vitTeacher, int cnnTeacher, long alignDim, long alignSeed) {
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
            require(vitTeacher >= 0, "objective.vitTeacher", "must be >= 0, got " + vitTeacher);
            require(cnnTeacher >= 0, "objective.cnnTeacher", "must be >= 0, got " + cnnTeacher);
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
     * Cosine schedule with linear warmup, stepped per optimizer step ({@link CosineSchedule}).
     *
     * @param epochs        training epochs (>= 1)
     * @param warmupEpochs  linear warmup length in epochs (>= 0, <= epochs; may be fractional)
     * @param warmupStartLr learning rate at step 0 (>= 0)
     * @param minLr         floor of the cosine (>= 0)
     * @param stepsPerEpoch optimizer steps per epoch, 0 = derive from the dataset size and batch
     */
    public record Schedule(int epochs, double warmupEpochs, double warmupStartLr, double minLr, long stepsPerEpoch) {
        public Schedule {
            require(epochs >= 1, "schedule.epochs", "must be >= 1, got " + epochs);
            nonNegative(warmupEpochs, "schedule.warmupEpochs");
            nonNegative(warmupStartLr, "schedule.warmupStartLr");
            nonNegative(minLr, "schedule.minLr");
            require(stepsPerEpoch >= 0, "schedule.stepsPerEpoch", "must be >= 0 (0 = derived), got " + stepsPerEpoch);
        }
    }

    /**
     * Run settings.
     *
     * @param outputDir       folder for checkpoints and logs
     * @param seed            master seed (torch generator and the Java samplers)
     * @param device          {@code cpu} or {@code cuda[:i]}
     * @param logEvery        steps between log lines (>= 1)
     * @param checkpointEvery epochs between checkpoints (>= 1)
     * @param keepCheckpoints checkpoints kept besides the best and the last (>= 0)
     * @param evalEvery       epochs between evaluations (>= 1)
     * @param maxSteps        stop after this many steps, 0 = run every epoch
     * @param onNonFinite     what a NaN/infinite loss term or gradient norm does: {@code stop} (default) or
     *                        {@code skip} that optimizer step ({@link NonFinitePolicy})
     * @param maxNonFiniteSkips with {@code skip}, the most consecutive skipped steps before stopping anyway (>= 0,
     *                        default 5)
     */
    public record Run(String outputDir, long seed, String device, int logEvery, int checkpointEvery,
                      int keepCheckpoints, int evalEvery, long maxSteps, NonFinitePolicy onNonFinite,
                      int maxNonFiniteSkips) {
        public Run {
            nonBlank(outputDir, "run.outputDir");
            nonBlank(device, "run.device");
            String d = device.toLowerCase(Locale.ROOT);
            require(d.equals("cpu") || d.matches("cuda(:\\d+)?"), "run.device",
                    "must be cpu or cuda[:index], got \"" + device + "\"");
            require(logEvery >= 1, "run.logEvery", "must be >= 1, got " + logEvery);
            require(checkpointEvery >= 1, "run.checkpointEvery", "must be >= 1, got " + checkpointEvery);
            require(keepCheckpoints >= 0, "run.keepCheckpoints", "must be >= 0, got " + keepCheckpoints);
            require(evalEvery >= 1, "run.evalEvery", "must be >= 1, got " + evalEvery);
            require(maxSteps >= 0, "run.maxSteps", "must be >= 0 (0 = no limit), got " + maxSteps);
            require(onNonFinite != null, "run.onNonFinite", "must be one of [stop, skip]");
            require(maxNonFiniteSkips >= 0, "run.maxNonFiniteSkips", "must be >= 0, got " + maxNonFiniteSkips);
        }
    }

    // ---------------------------------------------------------------- presets

    /** @return the paper's reference settings (X3D-S from MViTv2-S + X3D-M on Kinetics-400, PySlowFast recipe) */
    public static TrainConfig reference() {
        return new TrainConfig(
                new Student("x3d_s", 400, 0, 0, 0, ""),
                List.of(new Teacher("mvitv2_s", "", 16, 224), new Teacher("x3d_m", "", 16, 224)),
                new Data("kinetics400", "", "train", 13, 6, 160, 128, 8, 0.5, 0.1),
                new Objective(1, 1, 1, 1, 0, Weighting.DATW, ScoreMode.PRODUCT, Normalization.SOFTMAX, 4.0, 1.0, 0.25,
                        0, 1, 2, 0, 1, 0, 0),
                new Optimizer(Algorithm.SGD, 0.1, 0.9, true, 5e-5, 0.9, 0.999, 1e-8, 0),
                new Schedule(300, 35, 0.01, 0, 0),
                new Run("runs/x3d_s-dualdistill", 0, "cuda", 50, 10, 3, 10, 0, NonFinitePolicy.STOP, 5));
    }

    /** @return a tiny CPU preset: reduced X3D student and teachers, synthetic data, 2 epochs of 4 steps */
    public static TrainConfig embeddedDemo() {
        return new TrainConfig(
                new Student("x3d_xs", 5, 0.5, 1.0, 64, ""),
                List.of(new Teacher("x3d_s", "", 4, 64), new Teacher("x3d_xs", "", 4, 64)),
                new Data("synthetic", "", "train", 4, 2, 64, 2, 0, 0, 0.1),
                new Objective(1, 1, 1, 1, 0, Weighting.DATW, ScoreMode.PRODUCT, Normalization.SOFTMAX, 4.0, 1.0, 0.25,
                        0, 1, 2, 0, 1, 0, 0),
                new Optimizer(Algorithm.SGD, 0.05, 0.9, true, 5e-5, 0.9, 0.999, 1e-8, 1.0),
                new Schedule(2, 0.5, 0.005, 0, 4),
                new Run("runs/demo", 0, "cpu", 1, 1, 1, 1, 0, NonFinitePolicy.STOP, 5));
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
                // teacher records validate without the list prefix; add it
                if (m != null && !m.startsWith("teachers")) {
                    String p = pathOf(e);
                    if (p.startsWith("teachers.")) {
                        throw new IllegalArgumentException(p + "." + m, iae);
                    }
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
