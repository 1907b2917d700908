package org.dualdistill.export;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.dualdistill.internal.AtomicFiles;
import org.dualdistill.internal.torch.TorchRuntime;
import org.dualdistill.model.io.SafeTensors;
import org.dualdistill.model.io.WeightLoadException;
import org.dualdistill.model.x3d.X3d;

/**
 * Exports a trained X3D student for deployment, and loads it back.
 *
 * <p>An export is a folder with two files:
 * <pre>
 *   model.safetensors   the student's parameters and buffers (BN running statistics included), nothing else:
 *                       no Structure Discrepancy Branch, hint regressor or frozen projection, which live in the
 *                       DistillationObjective and are needed only for training
 *   model.json          the {@link ModelCard}: format version, architecture, class names, input geometry,
 *                       normalization, metrics, creation time, dualdistill version, SHA-256 of model.safetensors
 * </pre>
 * Writing is crash-safe: both files are written (and fsynced) into a temporary sibling folder that is renamed to the
 * target in one step; when the target folder already exists, the weights replace the old ones first and the card
 * last, so a crash in between leaves a card whose checksum no longer matches, which {@link #load} reports.
 *
 * <p>Loading reads the card, verifies the checksum, rebuilds the X3D from the card's architecture and loads the
 * weights strictly (every tensor present, none extra, shapes equal); the model comes back in eval mode. Any failure
 * is an {@link ExportException} naming the file and the reason. Stateless and thread-safe.
 */
public final class StudentExport {
    /** The weights' file name. */
    public static final String WEIGHTS = "model.safetensors";
    /** The card's file name. */
    public static final String CARD = "model.json";

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    static {
        TorchRuntime.init();
    }

    private StudentExport() {
    }

    /**
     * Writes a student and its card into {@code dir} (created, or updated when it exists).
     *
     * @param dir     the export folder
     * @param student the trained student (borrowed; only its own module tree is written)
     * @param card    the card; its architecture must be {@code student.config()} (its checksum, if any, is replaced)
     * @return the card as written, with the weights' SHA-256
     * @throws IOException              on a write failure (the temporary folder is removed)
     * @throws IllegalArgumentException when the card's architecture is not the student's
     */
    public static ModelCard write(Path dir, X3d student, ModelCard card) throws IOException {
        if (dir == null || student == null || card == null) {
            throw new IllegalArgumentException("dir, student and card must not be null");
        }
        if (!ModelCard.sameArchitecture(card.architecture(), student.config())) {
            throw new IllegalArgumentException("card architecture " + card.architecture() + " is not the student's "
                    + student.config());
        }
        Path target = dir.toAbsolutePath().normalize();
        Path parent = target.getParent();
        Files.createDirectories(parent);
        Path tmp = Files.createTempDirectory(parent, target.getFileName() + ".tmp");
        try {
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("format", "pt");
            meta.put("producer", "dualdistill " + card.dualdistillVersion());
            SafeTensors.save(student.module(), tmp.resolve(WEIGHTS), meta);
            ModelCard written = card.withWeightsSha256(sha256(tmp.resolve(WEIGHTS)));
            writeSynced(tmp.resolve(CARD), JSON.writeValueAsBytes(toJson(written)));
            if (!Files.exists(target)) {
                try {
                    Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
                    return written;
                } catch (AtomicMoveNotSupportedException | FileAlreadyExistsException e) {
                    Files.createDirectories(target); // fall through to the file-by-file replacement
                }
            }
            AtomicFiles.replace(tmp.resolve(WEIGHTS), target.resolve(WEIGHTS));
            AtomicFiles.replace(tmp.resolve(CARD), target.resolve(CARD));
            return written;
        } finally {
            deleteTree(tmp);
        }
    }

    /**
     * Loads an export.
     *
     * @param dir the export folder
     * @return the student in eval mode and its card; caller must close
     * @throws ExportException when a file is missing, the card is not valid JSON, has an unknown format version or a
     *                         missing or invalid field, the checksum does not match, or the weights do not fit the
     *                         architecture (message names the file and the reason)
     */
    public static ExportedStudent load(Path dir) throws ExportException {
        if (dir == null) {
            throw new IllegalArgumentException("dir must not be null");
        }
        Path cardFile = dir.resolve(CARD);
        ModelCard card = readCard(cardFile);
        Path weights = dir.resolve(WEIGHTS);
        String actual;
        try {
            actual = sha256(weights);
        } catch (NoSuchFileException e) {
            throw new ExportException(weights, "weights file not found", e);
        } catch (IOException e) {
            throw new ExportException(weights, "cannot read the weights: " + e.getMessage(), e);
        }
        if (!actual.equals(card.weightsSha256())) {
            throw new ExportException(weights, "SHA-256 mismatch: " + CARD + " says " + card.weightsSha256() + ", the file has "
                    + actual + " (corrupted, truncated or replaced)", null);
        }
        X3d model = build(card.architecture());
        try {
            SafeTensors.loadInto(model.module(), weights, SafeTensors.Mode.STRICT, null);
            model.module().eval();
            return new ExportedStudent(dir, model, card);
        } catch (WeightLoadException e) {
            model.close();
            throw new ExportException(weights, "weights do not fit the card's architecture: " + e.getMessage(), e);
        } catch (IOException | RuntimeException e) {
            model.close();
            throw new ExportException(weights, "cannot load the weights: " + e.getMessage(), e);
        }
    }

    /**
     * Reads and validates a card without touching the weights.
     *
     * @param cardFile a {@code model.json}
     * @return the card
     * @throws ExportException when it is missing, not valid JSON, of an unknown format version, or lacks a field
     */
    public static ModelCard readCard(Path cardFile) throws ExportException {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(cardFile);
        } catch (NoSuchFileException e) {
            throw new ExportException(cardFile, "model card not found", e);
        } catch (IOException e) {
            throw new ExportException(cardFile, "cannot read the model card: " + e.getMessage(), e);
        }
        JsonNode root;
        try {
            root = JSON.readTree(bytes);
        } catch (JsonProcessingException e) {
            throw new ExportException(cardFile, "model card is not valid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new ExportException(cardFile, "cannot parse the model card: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new ExportException(cardFile, "model card is not a JSON object", null);
        }
        Fields f = new Fields(cardFile);
        int version = f.integer(root, "formatVersion");
        if (version != ModelCard.FORMAT_VERSION) {
            throw new ExportException(cardFile, "unsupported formatVersion " + version + " (this dualdistill reads "
                    + ModelCard.FORMAT_VERSION + ")", null);
        }
        try {
            JsonNode a = f.object(root, "architecture");
            String family = f.text(a, "family");
            if (!family.equals("x3d")) {
                throw new ExportException(cardFile, "unsupported architecture.family " + family + " (this dualdistill exports x3d)", null);
            }
            JsonNode headsNode = f.array(a, "heads");
            long[] heads = new long[headsNode.size()];
            for (int i = 0; i < heads.length; i++) {
                heads[i] = headsNode.get(i).asLong();
            }
            X3d.Config arch = new X3d.Config(f.longValue(a, "numClasses"), f.number(a, "widthFactor"), f.number(a, "depthFactor"),
                    f.number(a, "bottleneckFactor"), f.number(a, "seRatio"), f.longValue(a, "stemDimIn"), f.longValue(a, "headDimOut"),
                    f.number(a, "dropout"), f.integer(a, "clipLength"), f.integer(a, "crop"), heads);
            List<String> names = new ArrayList<>();
            for (JsonNode n : f.array(root, "classNames")) {
                names.add(n.asText());
            }
            JsonNode in = f.object(root, "input");
            ModelCard.Input input = new ModelCard.Input(f.integer(in, "clipLength"), f.integer(in, "frameStride"),
                    f.integer(in, "crop"), f.integer(in, "shortSide"));
            JsonNode norm = f.object(root, "normalization");
            float[] mean = f.floats3(norm, "mean");
            float[] std = f.floats3(norm, "std");
            Map<String, Double> metrics = new LinkedHashMap<>();
            JsonNode m = root.get("metrics");
            if (m != null && m.isObject()) {
                m.fields().forEachRemaining(e -> metrics.put(e.getKey(), e.getValue().asDouble()));
            }
            Instant created = Instant.parse(f.text(root, "created"));
            String lib = f.text(root, "dualdistillVersion");
            JsonNode w = f.object(root, "weights");
            String sha = f.text(w, "sha256");
            return new ModelCard(version, arch, names, input, mean, std, metrics, created, lib, sha);
        } catch (IllegalArgumentException | DateTimeParseException e) {
            throw new ExportException(cardFile, "invalid model card: " + e.getMessage(), e);
        }
    }

    /** Required-field readers that name the field in their errors. */
    private record Fields(Path file) {
        JsonNode field(JsonNode parent, String name) throws ExportException {
            JsonNode v = parent.get(name);
            if (v == null || v.isNull()) {
                throw new ExportException(file, "model card has no field \"" + name + "\"", null);
            }
            return v;
        }

        JsonNode object(JsonNode parent, String name) throws ExportException {
            JsonNode v = field(parent, name);
            if (!v.isObject()) {
                throw new ExportException(file, "model card field \"" + name + "\" is not an object", null);
            }
            return v;
        }

        JsonNode array(JsonNode parent, String name) throws ExportException {
            JsonNode v = field(parent, name);
            if (!v.isArray()) {
                throw new ExportException(file, "model card field \"" + name + "\" is not an array", null);
            }
            return v;
        }

        String text(JsonNode parent, String name) throws ExportException {
            JsonNode v = field(parent, name);
            if (!v.isTextual()) {
                throw new ExportException(file, "model card field \"" + name + "\" is not a string", null);
            }
            return v.asText();
        }

        double number(JsonNode parent, String name) throws ExportException {
            JsonNode v = field(parent, name);
            if (!v.isNumber()) {
                throw new ExportException(file, "model card field \"" + name + "\" is not a number", null);
            }
            return v.asDouble();
        }

        long longValue(JsonNode parent, String name) throws ExportException {
            JsonNode v = field(parent, name);
            if (!v.isIntegralNumber()) {
                throw new ExportException(file, "model card field \"" + name + "\" is not an integer", null);
            }
            return v.asLong();
        }

        int integer(JsonNode parent, String name) throws ExportException {
            long v = longValue(parent, name);
            if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
                throw new ExportException(file, "model card field \"" + name + "\" is out of range: " + v, null);
            }
            return (int) v;
        }

        float[] floats3(JsonNode parent, String name) throws ExportException {
            JsonNode v = array(parent, name);
            if (v.size() != 3) {
                throw new ExportException(file, "model card field \"" + name + "\" must have 3 values, has " + v.size(), null);
            }
            float[] out = new float[3];
            for (int i = 0; i < 3; i++) {
                out[i] = (float) v.get(i).asDouble();
            }
            return out;
        }
    }

    private static ObjectNode toJson(ModelCard c) {
        ObjectNode root = JSON.createObjectNode();
        root.put("format", "dualdistill-student");
        root.put("formatVersion", c.formatVersion());
        X3d.Config a = c.architecture();
        ObjectNode arch = root.putObject("architecture");
        arch.put("family", "x3d");
        arch.put("numClasses", a.numClasses());
        ArrayNode heads = arch.putArray("heads");
        for (long h : a.heads()) {
            heads.add(h);
        }
        arch.put("widthFactor", a.widthFactor());
        arch.put("depthFactor", a.depthFactor());
        arch.put("bottleneckFactor", a.bottleneckFactor());
        arch.put("seRatio", a.seRatio());
        arch.put("stemDimIn", a.stemDimIn());
        arch.put("headDimOut", a.headDimOut());
        arch.put("dropout", a.dropout());
        arch.put("clipLength", a.clipLength());
        arch.put("crop", a.crop());
        ArrayNode names = root.putArray("classNames");
        c.classNames().forEach(names::add);
        ObjectNode in = root.putObject("input");
        in.put("clipLength", c.input().clipLength());
        in.put("frameStride", c.input().frameStride());
        in.put("crop", c.input().crop());
        in.put("shortSide", c.input().shortSide());
        ObjectNode norm = root.putObject("normalization");
        ArrayNode mean = norm.putArray("mean");
        ArrayNode std = norm.putArray("std");
        for (int i = 0; i < 3; i++) {
            mean.add(c.mean()[i]);
            std.add(c.std()[i]);
        }
        ObjectNode metrics = root.putObject("metrics");
        c.metrics().forEach(metrics::put);
        root.put("created", c.created().toString());
        root.put("dualdistillVersion", c.dualdistillVersion());
        ObjectNode w = root.putObject("weights");
        w.put("file", WEIGHTS);
        w.put("sha256", c.weightsSha256());
        return root;
    }

    /** Rebuilds the network a configuration describes. */
    static X3d build(X3d.Config a) {
        X3d.Builder b = X3d.builder().widthFactor(a.widthFactor()).depthFactor(a.depthFactor())
                .bottleneckFactor(a.bottleneckFactor()).seRatio(a.seRatio()).stemDimIn(a.stemDimIn()).headDimOut(a.headDimOut())
                .dropout(a.dropout()).clipLength(a.clipLength()).crop(a.crop());
        if (a.heads().length == 1) {
            b.numClasses(a.numClasses());
        } else {
            b.heads(a.heads());
        }
        return b.build();
    }

    /**
     * @param file a file
     * @return its SHA-256 as lower-case hex
     * @throws IOException when it cannot be read
     */
    public static String sha256(Path file) throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
        byte[] buf = new byte[1 << 16];
        try (InputStream in = Files.newInputStream(file)) {
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    private static void writeSynced(Path file, byte[] bytes) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) {
                ch.write(b);
            }
            ch.force(true);
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
