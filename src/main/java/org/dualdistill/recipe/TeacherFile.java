package org.dualdistill.recipe;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.dualdistill.model.ModelView;
import org.dualdistill.model.VideoModel;
import org.dualdistill.model.io.SafeTensors;

/**
 * A trained teacher on disk: one safetensors file whose {@code __metadata__} says what it is (registry arch, classes
 * in label order, the view it was trained at), so a distillation run refuses a teacher that does not fit by name,
 * before any weight is read. {@code train-teacher --out DIR} writes {@code DIR/teacher.safetensors}; a teacher's
 * {@code weights} key may name the file or its folder.
 *
 * <p>Stateless; thread-safe.
 */
public final class TeacherFile {
    /** The file name inside a teacher folder. */
    public static final String FILE = "teacher.safetensors";
    static final String META_KIND = "dualdistill.kind";
    static final String META_ARCH = "dualdistill.arch";
    static final String META_CLASSES = "dualdistill.numClasses";
    static final String META_CLASS_NAMES = "dualdistill.classNames";
    static final String META_VIEW = "dualdistill.view";
    static final String KIND = "teacher";
    private static final ObjectMapper JSON = new ObjectMapper();

    private TeacherFile() {
    }

    /**
     * What a teacher file says about itself.
     *
     * @param file       the file read
     * @param arch       registry name
     * @param numClasses head classes
     * @param classNames class names in label order
     * @param view       the view it was trained at
     */
    public record Info(Path file, String arch, long numClasses, List<String> classNames, ModelView view) {
        Map<String, String> metadata() {
            Map<String, String> m = new LinkedHashMap<>();
            m.put(META_KIND, KIND);
            m.put(META_ARCH, arch);
            m.put(META_CLASSES, Long.toString(numClasses));
            try {
                m.put(META_CLASS_NAMES, JSON.writeValueAsString(classNames));
                m.put(META_VIEW, JSON.writeValueAsString(view));
            } catch (JsonProcessingException e) {
                throw new IllegalStateException(e);
            }
            return m;
        }
    }

    /** @return {@code p} when it is a file, {@code p/teacher.safetensors} when it is a folder */
    public static Path resolve(Path p) {
        return Files.isDirectory(p) ? p.resolve(FILE) : p;
    }

    /**
     * Writes a teacher's parameters and buffers with its description as metadata (atomically).
     *
     * @param file    target file
     * @param teacher the model (borrowed)
     * @param info    what it is ({@code info.file} is ignored)
     * @throws IOException when the file cannot be written
     */
    public static void write(Path file, VideoModel teacher, Info info) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        SafeTensors.save(teacher.module(), file, info.metadata());
    }

    /**
     * @param path a teacher file or its folder
     * @return its description
     * @throws RecipeException when the file is missing, not safetensors, or not a teacher written by train-teacher
     */
    public static Info read(Path path) throws RecipeException {
        Path file = resolve(path);
        Map<String, String> meta = metadata(file);
        if (!KIND.equals(meta.get(META_KIND))) {
            throw new RecipeException(file + ": not a teacher written by train-teacher (no " + META_KIND + "=teacher in "
                    + "its safetensors metadata)");
        }
        try {
            List<String> names = JSON.readValue(meta.get(META_CLASS_NAMES), new TypeReference<List<String>>() { });
            ModelView view = JSON.readValue(meta.get(META_VIEW), ModelView.class);
            return new Info(file, meta.get(META_ARCH), Long.parseLong(meta.get(META_CLASSES)), names, view);
        } catch (RuntimeException | JsonProcessingException e) {
            throw new RecipeException(file + ": bad teacher metadata " + meta + ": " + e.getMessage(), e);
        }
    }

    /**
     * @param info       a teacher file's description
     * @param arch       the registry arch the run's slot takes
     * @param classNames the run's classes, in label order
     * @param view       the view the run feeds it
     * @return what does not fit, empty when it fits: arch, classes, frames, crop, normalization
     */
    public static List<String> mismatches(Info info, String arch, List<String> classNames, ModelView view) {
        List<String> p = new ArrayList<>();
        if (!info.arch().equals(arch)) {
            p.add("arch " + info.arch() + " (the config says " + arch + ")");
        }
        if (!info.classNames().equals(classNames)) {
            p.add(info.numClasses() + " classes " + info.classNames() + " (the dataset has " + classNames + ")");
        }
        if (info.view().frames() != view.frames()) {
            p.add(info.view().frames() + " frames (this run feeds " + view.frames() + ")");
        }
        if (info.view().crop() != view.crop()) {
            p.add("crop " + info.view().crop() + " (this run feeds " + view.crop() + ")");
        }
        if (!info.view().mean().equals(view.mean()) || !info.view().std().equals(view.std())) {
            p.add("normalization mean " + info.view().mean() + " std " + info.view().std() + " (this run uses "
                    + view.mean() + " / " + view.std() + ")");
        }
        return p;
    }

    /** @return the {@code __metadata__} of a safetensors file (empty when it has none) */
    static Map<String, String> metadata(Path file) throws RecipeException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            while (len.hasRemaining() && ch.read(len) >= 0) {
                // read the 8-byte header length
            }
            if (len.hasRemaining()) {
                throw new RecipeException(file + ": not a safetensors file (shorter than its 8-byte header length)");
            }
            long n = len.flip().getLong();
            if (n <= 1 || n > 100_000_000L || 8 + n > ch.size()) {
                throw new RecipeException(file + ": not a safetensors file (header length " + n + ", file " + ch.size()
                        + " bytes)");
            }
            ByteBuffer h = ByteBuffer.allocate((int) n);
            while (h.hasRemaining() && ch.read(h) >= 0) {
                // read the JSON header
            }
            JsonNode root = JSON.readTree(new String(h.array(), StandardCharsets.UTF_8));
            JsonNode meta = root == null ? null : root.get("__metadata__");
            Map<String, String> out = new LinkedHashMap<>();
            if (meta != null && meta.isObject()) {
                meta.fields().forEachRemaining(e -> out.put(e.getKey(), e.getValue().asText()));
            }
            return out;
        } catch (NoSuchFileException e) {
            throw new RecipeException("teacher file not found: " + file.toAbsolutePath(), e);
        } catch (JsonProcessingException e) {
            throw new RecipeException(file + ": not a safetensors file (header is not JSON: " + e.getOriginalMessage() + ")", e);
        } catch (IOException e) {
            throw new RecipeException(file + ": cannot read: " + e.getMessage(), e);
        }
    }
}
