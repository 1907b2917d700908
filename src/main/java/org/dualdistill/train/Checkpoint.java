package org.dualdistill.train;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.InputArchive;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.OutputArchive;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.StringTensorDictItem;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.distill.DistillationObjective;
import org.dualdistill.internal.torch.TorchRuntime;
import org.dualdistill.model.io.SafeTensors;
import org.dualdistill.sdd.FeatureAlignment;
import org.dualdistill.sdd.FrozenProjection;

/**
 * A training checkpoint: one folder holding everything needed to resume bit-exactly.
 * <pre>
 *   manifest.json            format, and {path -> {bytes, sha256}} of every other file
 *   state.json               epoch, step, scheduler step, Java seeds, metrics
 *   config.json              the run's {@link TrainConfig} as JSON
 *   student.safetensors      student parameters and buffers (BN running statistics included)
 *   sdb.safetensors          Structure Discrepancy Branch (when the objective has one)
 *   hint.safetensors         hint regressor psi (when the objective has one)
 *   alignment/vit.proj, alignment/cnn.proj   the frozen projections ({@link FeatureAlignment#save})
 *   optimizer.pt             optimizer state (momentum buffers, Adam moments) via LibTorch's OutputArchive
 *   rng.bin                  LibTorch's default CPU generator state
 * </pre>
 * Written into a temporary sibling folder, every file fsynced, then renamed onto the final name (an existing
 * checkpoint of that name is replaced only after the new one is complete), so a crash leaves either the old or the
 * new checkpoint, never a mix. Loading verifies every file's size and SHA-256 against the manifest before touching
 * any module; a missing, truncated or corrupted file throws {@link CheckpointException} naming it.
 *
 * <p>Stateless and thread-safe as a class; the modules and optimizer passed in must not be in use by another thread.
 */
public final class Checkpoint {
    /** Current folder format. */
    public static final int FORMAT = 1;
    /** The manifest's file name. */
    public static final String MANIFEST = "manifest.json";

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    static {
        TorchRuntime.init();
    }

    private Checkpoint() {
    }

    /**
     * Where training stood.
     *
     * @param epoch         completed epochs
     * @param step          completed optimizer steps
     * @param schedulerStep the schedule's counter ({@link CosineSchedule#step()})
     * @param seeds         Java-side seeds and sampler states the caller controls (name -> value)
     * @param metrics       latest metrics (name -> value)
     */
    public record State(long epoch, long step, long schedulerStep, Map<String, Long> seeds,
                        Map<String, Double> metrics) {
        public State {
            seeds = Map.copyOf(seeds == null ? Map.of() : seeds);
            metrics = Map.copyOf(metrics == null ? Map.of() : metrics);
        }
    }

    /**
     * Writes a checkpoint folder atomically.
     *
     * @param dir        the checkpoint folder (replaced if it exists)
     * @param student    the student's root module (borrowed)
     * @param objective  the objective whose SDB, hint regressor and projections are saved, or null (borrowed)
     * @param optimizer  the optimizer whose state is saved, or null (borrowed)
     * @param state      progress, seeds and metrics
     * @param configJson the run configuration ({@link TrainConfig#toJson()}), or null
     * @throws CheckpointException when a parameter or buffer holds NaN or infinity (nothing is written: a diverged
     *                             state never replaces or joins the good checkpoints)
     * @throws IOException on any write failure (the partial temporary folder is removed)
     */
    public static void save(Path dir, Module student, DistillationObjective objective, TrainingOptimizer optimizer,
                            State state, String configJson) throws IOException {
        requireFinite(dir, "student", student);
        if (objective != null) {
            for (Module m : objective.trainableModules()) {
                requireFinite(dir, m == objective.branch() ? "sdb" : "hint", m);
            }
        }
        Path target = dir.toAbsolutePath().normalize();
        Path parent = target.getParent();
        Files.createDirectories(parent);
        Path tmp = parent.resolve("." + target.getFileName() + ".tmp-" + UUID.randomUUID());
        Files.createDirectory(tmp);
        try {
            writeParts(tmp, student, objective, optimizer, state, configJson);
            writeManifest(tmp);
            fsyncDir(tmp);
            Path old = null;
            if (Files.exists(target)) {
                old = parent.resolve("." + target.getFileName() + ".old-" + UUID.randomUUID());
                move(target, old);
            }
            move(tmp, target);
            fsyncDir(parent);
            if (old != null) {
                deleteTree(old);
            }
        } catch (IOException | RuntimeException e) {
            try {
                deleteTree(tmp);
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    /**
     * Refuses a module whose floating-point parameters or buffers hold NaN or infinity: one fused reduction (an
     * isfinite-all per tensor, stacked, reduced, one host synchronisation); the per-tensor search that names the
     * offender runs only when it fails.
     */
    static void requireFinite(Path dir, String role, Module module) throws CheckpointException {
        String bad = firstNonFinite(module);
        if (bad != null) {
            throw CheckpointException.nonFiniteState(dir, role + " tensor '" + bad + "'");
        }
    }

    /**
     * @param module a module (borrowed)
     * @return the name of its first floating-point parameter or buffer holding NaN or infinity, or null when all are
     *         finite: one fused reduction (an isfinite-all per tensor, stacked, reduced, one host synchronisation);
     *         the per-tensor search that names the offender runs only when it fails
     */
    private static String firstNonFinite(Module module) {
        try (PointerScope scope = new PointerScope()) {
            List<String> names = new ArrayList<>();
            TensorVector flags = new TensorVector();
            for (StringTensorDict d : new StringTensorDict[] {module.named_parameters(true), module.named_buffers(true)}) {
                for (long i = 0; i < d.size(); i++) {
                    StringTensorDictItem it = d.get(i);
                    Tensor t = it.value();
                    if (t.defined() && t.is_floating_point() && t.numel() > 0) {
                        names.add(it.key().getString());
                        flags.push_back(torch.all(torch.isfinite(t.detach())));
                    }
                }
            }
            if (names.isEmpty() || torch.all(torch.stack(flags, 0)).item_bool()) {
                return null;
            }
            for (int i = 0; i < names.size(); i++) {
                if (!flags.get(i).item_bool()) {
                    return names.get(i);
                }
            }
            return "?";
        }
    }

    private static void writeParts(Path tmp, Module student, DistillationObjective objective,
                                   TrainingOptimizer optimizer, State state, String configJson) throws IOException {
        SafeTensors.save(student, tmp.resolve("student.safetensors"), Map.of("role", "student"));
        if (objective != null) {
            if (objective.branch() != null) {
                SafeTensors.save(objective.branch(), tmp.resolve("sdb.safetensors"), Map.of("role", "sdb"));
            }
            for (Module m : objective.trainableModules()) {
                if (m != objective.branch()) {
                    SafeTensors.save(m, tmp.resolve("hint.safetensors"), Map.of("role", "hint"));
                }
            }
            if (objective.alignment() != null) {
                objective.alignment().save(tmp.resolve("alignment"));
            }
        }
        if (optimizer != null) {
            Path file = tmp.resolve("optimizer.pt");
            try (PointerScope scope = new PointerScope()) {
                OutputArchive archive = new OutputArchive();
                optimizer.handle().save(archive);
                archive.save_to(file.toString());
            } catch (RuntimeException e) {
                throw new IOException(file + ": cannot write the optimizer state: " + firstLine(e), e);
            }
        }
        try (PointerScope scope = new PointerScope()) {
            Tensor s = torch.getDefaultCPUGenerator().get_state();
            byte[] bytes = new byte[(int) s.numel()];
            new BytePointer(s.data_ptr()).capacity(bytes.length).get(bytes);
            writeBytes(tmp.resolve("rng.bin"), bytes);
        }
        writeBytes(tmp.resolve("state.json"), JSON.writeValueAsBytes(state));
        if (configJson != null) {
            writeBytes(tmp.resolve("config.json"), configJson.getBytes(StandardCharsets.UTF_8));
        }
    }

    static void writeManifest(Path tmp) throws IOException {
        ObjectNode root = JSON.createObjectNode();
        root.put("format", FORMAT);
        ObjectNode files = root.putObject("files");
        for (Path f : listFiles(tmp)) {
            fsyncFile(f);
            ObjectNode e = files.putObject(relative(tmp, f));
            e.put("bytes", Files.size(f));
            e.put("sha256", sha256(f));
        }
        writeBytes(tmp.resolve(MANIFEST), JSON.writeValueAsBytes(root));
    }

    /**
     * Checks that every file of the manifest is present, complete and matches its SHA-256.
     *
     * @param dir a checkpoint folder
     * @throws CheckpointException naming the first missing, truncated or corrupted file
     */
    public static void verify(Path dir) throws IOException {
        Path manifest = dir.resolve(MANIFEST);
        JsonNode root;
        try {
            root = JSON.readTree(Files.readAllBytes(manifest));
        } catch (NoSuchFileException e) {
            throw new CheckpointException(manifest, "missing: not a checkpoint folder, or its write did not finish", e);
        } catch (JsonProcessingException e) {
            throw new CheckpointException(manifest, "corrupt manifest (not valid JSON): " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.path("files").isObject() || !root.path("format").isInt()) {
            throw new CheckpointException(manifest, "corrupt manifest (no format or files entry)", null);
        }
        if (root.get("format").asInt() != FORMAT) {
            throw new CheckpointException(manifest, "unsupported format " + root.get("format").asInt()
                    + " (this library reads " + FORMAT + ")", null);
        }
        Iterator<Map.Entry<String, JsonNode>> it = root.get("files").fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            Path f = dir.resolve(e.getKey()).normalize();
            if (!f.startsWith(dir.normalize())) {
                throw new CheckpointException(manifest, "entry " + e.getKey() + " escapes the checkpoint folder", null);
            }
            long want = e.getValue().path("bytes").asLong(-1);
            String sum = e.getValue().path("sha256").asText("");
            if (!Files.isRegularFile(f)) {
                throw new CheckpointException(f, "missing (listed in " + MANIFEST + ")", null);
            }
            long have = Files.size(f);
            if (have != want) {
                throw new CheckpointException(f, (have < want ? "truncated" : "too long") + ": expected " + want
                        + " bytes, found " + have, null);
            }
            String got = sha256(f);
            if (!got.equals(sum)) {
                throw new CheckpointException(f, "SHA-256 checksum mismatch: expected " + sum + ", got " + got
                        + " (the file is corrupted)", null);
            }
        }
    }

    /**
     * Verifies the checkpoint, then restores everything it holds into the given objects and the default CPU
     * generator.
     *
     * @param dir       a checkpoint folder
     * @param student   the student's root module, same architecture (borrowed; parameters overwritten)
     * @param objective the objective, or null (borrowed; SDB and hint weights overwritten, projections checked)
     * @param optimizer the optimizer over the same parameters in the same order, or null (borrowed; state replaced)
     * @return the saved progress
     * @throws CheckpointException when a file is missing, truncated, corrupted, or does not fit the given objects
     */
    public static State load(Path dir, Module student, DistillationObjective objective, TrainingOptimizer optimizer)
            throws IOException {
        verify(dir);
        loadWeights(dir.resolve("student.safetensors"), student);
        if (objective != null) {
            if (objective.branch() != null) {
                loadWeights(dir.resolve("sdb.safetensors"), objective.branch());
            }
            for (Module m : objective.trainableModules()) {
                if (m != objective.branch()) {
                    loadWeights(dir.resolve("hint.safetensors"), m);
                }
            }
            if (objective.alignment() != null) {
                checkAlignment(dir.resolve("alignment"), objective.alignment());
            }
        }
        if (optimizer != null) {
            Path file = dir.resolve("optimizer.pt");
            requireFile(file);
            try (PointerScope scope = new PointerScope()) {
                InputArchive archive = new InputArchive();
                archive.load_from(file.toString());
                optimizer.handle().load(archive);
            } catch (RuntimeException e) {
                throw new CheckpointException(file, "not a readable optimizer state for this run (damaged, or written "
                        + "for other parameters or another algorithm): " + firstLine(e), e);
            }
        }
        Path rng = dir.resolve("rng.bin");
        requireFile(rng);
        byte[] bytes = Files.readAllBytes(rng);
        try (PointerScope scope = new PointerScope()) {
            Generator g = torch.getDefaultCPUGenerator();
            Tensor s = g.get_state();
            if (s.numel() != bytes.length) {
                throw new CheckpointException(rng, "generator state has " + bytes.length + " bytes, this LibTorch's has "
                        + s.numel(), null);
            }
            new BytePointer(s.data_ptr()).capacity(bytes.length).put(bytes);
            g.set_state(s);
        } catch (RuntimeException e) {
            throw new CheckpointException(rng, "cannot restore the generator state: " + firstLine(e), e);
        }
        Path statePath = dir.resolve("state.json");
        requireFile(statePath);
        try {
            return JSON.readValue(Files.readAllBytes(statePath), State.class);
        } catch (JsonProcessingException e) {
            throw new CheckpointException(statePath, "corrupt state: " + e.getOriginalMessage(), e);
        }
    }

    /**
     * @param dir a checkpoint folder (verified first)
     * @return its saved progress ({@code state.json}), without touching any module
     * @throws CheckpointException when the checkpoint is damaged
     */
    public static State state(Path dir) throws IOException {
        verify(dir);
        Path statePath = dir.resolve("state.json");
        requireFile(statePath);
        try {
            return JSON.readValue(Files.readAllBytes(statePath), State.class);
        } catch (JsonProcessingException e) {
            throw new CheckpointException(statePath, "corrupt state: " + e.getOriginalMessage(), e);
        }
    }

    /**
     * @param dir a checkpoint folder (verified first)
     * @return the saved configuration JSON, or null when none was saved
     * @throws CheckpointException when the checkpoint is damaged
     */
    public static String configJson(Path dir) throws IOException {
        verify(dir);
        Path f = dir.resolve("config.json");
        return Files.exists(f) ? Files.readString(f) : null;
    }

    private static void loadWeights(Path file, Module module) throws IOException {
        requireFile(file);
        try {
            SafeTensors.loadInto(module, file, SafeTensors.Mode.STRICT, null);
        } catch (IOException | RuntimeException e) {
            throw new CheckpointException(file, "cannot load weights: " + firstLine(e), e);
        }
    }

    private static void checkAlignment(Path folder, FeatureAlignment current) throws IOException {
        try (FeatureAlignment saved = FeatureAlignment.load(folder)) {
            compare(folder.resolve("vit.proj"), saved.vitProjection(), current.vitProjection());
            compare(folder.resolve("cnn.proj"), saved.cnnProjection(), current.cnnProjection());
        } catch (CheckpointException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw new CheckpointException(folder, "cannot load the frozen projections: " + e.getMessage(), e);
        }
    }

    private static void compare(Path file, FrozenProjection saved, FrozenProjection current) throws IOException {
        if (!Arrays.equals(saved.matrix(), current.matrix())) {
            throw new CheckpointException(file, "frozen projection differs from the objective's (built with another "
                    + "objective.alignSeed or channel count?)", null);
        }
    }

    /**
     * The first line of an exception's message: LibTorch's C++ errors carry a multi-line backtrace
     * ({@code "Exception raised from ... (most recent call first):"} and frames) that says nothing to a user.
     */
    static String firstLine(Throwable e) {
        String m = e.getMessage();
        if (m == null || m.isBlank()) {
            return e.getClass().getSimpleName();
        }
        m = m.strip();
        int nl = m.indexOf('\n');
        String line = (nl < 0 ? m : m.substring(0, nl)).strip();
        int raised = line.indexOf("Exception raised from");
        if (raised > 0) {
            line = line.substring(0, raised).strip();
        }
        return line.isEmpty() ? e.getClass().getSimpleName() : line;
    }

    private static void requireFile(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new CheckpointException(file, "missing", null);
        }
    }

    // ---------------------------------------------------------------- file helpers

    private static List<Path> listFiles(Path root) throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            return s.filter(Files::isRegularFile).filter(p -> !p.getFileName().toString().equals(MANIFEST))
                    .sorted().toList();
        }
    }

    private static String relative(Path root, Path f) {
        return root.relativize(f).toString().replace('\\', '/');
    }

    static String sha256(Path f) throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is not available", e);
        }
        byte[] buf = new byte[1 << 16];
        try (InputStream in = Files.newInputStream(f)) {
            int n;
            while ((n = in.read(buf)) > 0) {
                md.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    private static void writeBytes(Path f, byte[] bytes) throws IOException {
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) {
                ch.write(b);
            }
            ch.force(true);
        }
    }

    private static void fsyncFile(Path f) throws IOException {
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
    }

    private static void fsyncDir(Path d) {
        // directory fsync persists the renames; not supported on every platform, so best effort
        try (FileChannel ch = FileChannel.open(d, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException ignored) {
            // Windows and some file systems refuse to open directories
        }
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to);
        }
    }

    private static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> s = Files.walk(root)) {
            List<Path> all = new ArrayList<>(s.sorted().toList());
            java.util.Collections.reverse(all);
            for (Path p : all) {
                Files.deleteIfExists(p);
            }
        }
    }
}
