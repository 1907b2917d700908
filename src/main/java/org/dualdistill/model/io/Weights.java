package org.dualdistill.model.io;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.StringTensorDictItem;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.internal.torch.TensorBridge;
import org.dualdistill.internal.torch.TorchRuntime;

/**
 * Weight files of any supported kind ({@code torch.save} zip or legacy through {@link TorchFile}, or safetensors),
 * loaded into a module through a {@link KeyMap} with a {@link WeightReport}. A load is all or nothing: the file is
 * checked and every name and shape is matched before the first tensor is copied, so a failure leaves the module as
 * it was. Thread-safe (no shared state).
 */
public final class Weights {
    static {
        TorchRuntime.init();
    }

    private static final int NAMES_IN_MESSAGE = 20;

    private Weights() {
    }

    /** How {@link #load} treats names that do not fit. */
    public enum Mode {
        /** any missing, unexpected or shape-mismatched tensor fails the load, naming them (PyTorch's strict=True) */
        STRICT,
        /** load what fits by name and shape; report the rest (PySlowFast's fine-tuning behaviour) */
        NON_STRICT
    }

    /** One tensor's name, dtype and shape, as a file stores it. */
    public record Info(String name, DType dtype, long[] shape) {
    }

    /**
     * An opened weight file: its tensors' descriptions, and views of them over the mapped file. Closing unmaps it.
     * Not thread-safe.
     */
    public static final class Source implements AutoCloseable {
        private final Path file;
        private final String kind;
        private final Map<String, Info> infos;
        private final TorchFile torchFile;
        private final Arena arena;
        private final MemorySegment data;
        private final Map<String, SafeTensors.Entry> entries;

        private Source(Path file, String kind, Map<String, Info> infos, TorchFile torch, Arena arena, MemorySegment data,
                       Map<String, SafeTensors.Entry> entries) {
            this.file = file;
            this.kind = kind;
            this.infos = infos;
            this.torchFile = torch;
            this.arena = arena;
            this.data = data;
            this.entries = entries;
        }

        /** @return the file */
        public Path file() {
            return file;
        }

        /** @return a short description of the format: "torch.save zip", "torch.save legacy" or "safetensors" */
        public String kind() {
            return kind;
        }

        /** @return the torch.save file, or null for safetensors */
        public TorchFile torchFile() {
            return torchFile;
        }

        /** @return the tensors' descriptions, by name in file order */
        public Map<String, Info> tensors() {
            return infos;
        }

        /**
         * @param name a key of {@link #tensors()}
         * @return a CPU view over the mapped file, valid until {@link #close()} (read only); the wrapper belongs to the
         *         caller's PointerScope
         */
        public Tensor tensor(String name) {
            if (closed.get()) {
                throw new IllegalStateException("Weights.Source is closed (" + file + ")");
            }
            if (torchFile != null) {
                return torchFile.tensor(name);
            }
            SafeTensors.Entry e = entries.get(name);
            if (e == null) {
                throw new IllegalArgumentException(file + ": no tensor '" + name + "'");
            }
            DType d = infos.get(name).dtype();
            if (e.end() == e.begin()) {
                return torch.zeros(e.shape(), new TensorOptions(d.scalarType()));
            }
            MemorySegment s = data.asSlice(e.begin(), e.end() - e.begin());
            if (s.address() % d.size() != 0) {
                MemorySegment copy = arena.allocate(s.byteSize(), 8);
                copy.copyFrom(s);
                s = copy;
            }
            long addr = s.address();
            return torch.from_blob(new Pointer() {
                {
                    address = addr;
                }
            }, e.shape(), new TensorOptions(d.scalarType()));
        }

        private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();

        /** Unmaps the file. Idempotent and thread-safe. */
        @Override
        public void close() {
            if (closed.getAndSet(true)) {
                return;
            }
            if (torchFile != null) {
                torchFile.close();
            }
            if (arena != null) {
                arena.close();
            }
        }
    }

    /**
     * Opens a weight file of any supported kind (decided by its first bytes: zip or pickle is torch.save, anything
     * else must be safetensors).
     *
     * @param file the file
     * @return the opened source (caller closes)
     * @throws IOException when missing, unreadable or malformed (names the file and the reason)
     */
    public static Source open(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new NoSuchFileException(file.toString(), null, "weight file not found");
        }
        if (TorchFile.looksLikeTorchFile(file)) {
            TorchFile t = TorchFile.open(file);
            Map<String, Info> infos = new LinkedHashMap<>();
            t.tensors().forEach((k, v) -> infos.put(k, new Info(k, v.dtype(), v.shape())));
            return new Source(file, "torch.save " + t.format().name().toLowerCase(java.util.Locale.ROOT), infos, t,
                    null, null, null);
        }
        List<SafeTensors.Entry> list = SafeTensors.header(file);
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            while (len.hasRemaining() && ch.read(len, len.position()) >= 0) {
                // read the 8-byte header length (already validated by header())
            }
            long dataStart = 8 + len.flip().getLong();
            MemorySegment data = ch.map(FileChannel.MapMode.READ_ONLY, dataStart, ch.size() - dataStart, arena);
            Map<String, Info> infos = new LinkedHashMap<>();
            Map<String, SafeTensors.Entry> entries = new LinkedHashMap<>();
            for (SafeTensors.Entry e : list) {
                DType d = DType.ofSafetensors(e.dtype());
                if (d == null) {
                    throw new IOException(file + ": tensor '" + e.name() + "' has dtype " + e.dtype() + ", which is not supported");
                }
                infos.put(e.name(), new Info(e.name(), d, e.shape()));
                entries.put(e.name(), e);
            }
            return new Source(file, "safetensors", infos, null, arena, data, entries);
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /**
     * Loads a weight file into a module's parameters and buffers (dtype converted to the module's, no gradient).
     *
     * @param module   the destination (borrowed)
     * @param file     any supported weight file
     * @param keys     file name -> module name
     * @param mode     strict or not
     * @param tolerate module names that may be missing or shape-mismatched even in strict mode (a classifier about to
     *                 be re-initialized); empty for none
     * @return what was loaded, missing, unexpected and mismatched
     * @throws IOException         when the file is missing, unreadable or malformed
     * @throws WeightLoadException (strict) on any missing, unexpected or shape-mismatched tensor, naming them; two file
     *                             tensors mapping to the same name; nothing is copied then
     */
    public static WeightReport load(Module module, Path file, KeyMap keys, Mode mode, Set<String> tolerate)
            throws IOException {
        try (Source src = open(file); PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            Map<String, Tensor> targets = new LinkedHashMap<>();
            collect(module.named_parameters(), targets);
            collect(module.named_buffers(), targets);
            Map<String, String> plan = new LinkedHashMap<>(); // model name -> file name
            List<String> unexpected = new ArrayList<>();
            List<String> mismatched = new ArrayList<>();
            List<String> mismatchedNames = new ArrayList<>();
            for (Info info : src.tensors().values()) {
                String name = keys.toModel(info.name());
                Tensor dst = name == null ? null : targets.get(name);
                if (dst == null) {
                    unexpected.add(info.name());
                    continue;
                }
                if (plan.containsKey(name)) {
                    throw new WeightLoadException(file + ": file tensors '" + plan.get(name) + "' and '" + info.name()
                            + "' both map to '" + name + "'");
                }
                long[] want = TensorBridge.shape(dst);
                long[] have = keys.modelShape(name, info.shape());
                if (!Arrays.equals(want, have) || numel(have) != numel(info.shape())) {
                    mismatched.add(name + ": file " + Arrays.toString(info.shape()) + " vs model " + Arrays.toString(want));
                    mismatchedNames.add(name);
                    continue;
                }
                plan.put(name, info.name());
            }
            List<String> missing = new ArrayList<>();
            for (String t : targets.keySet()) {
                if (!plan.containsKey(t) && !mismatchedNames.contains(t)) {
                    missing.add(t);
                }
            }
            if (mode == Mode.STRICT) {
                List<String> m = missing.stream().filter(n -> !tolerate.contains(n)).toList();
                List<String> x = new ArrayList<>();
                for (int i = 0; i < mismatched.size(); i++) {
                    if (!tolerate.contains(mismatchedNames.get(i))) {
                        x.add(mismatched.get(i));
                    }
                }
                if (!m.isEmpty() || !unexpected.isEmpty() || !x.isEmpty()) {
                    throw new WeightLoadException(file + ": strict load failed (nothing was loaded): missing "
                            + names(m) + ", unexpected " + names(unexpected) + ", shape-mismatched " + names(x));
                }
            }
            for (Map.Entry<String, String> e : plan.entrySet()) {
                Tensor dst = targets.get(e.getKey());
                Tensor s = src.tensor(e.getValue());
                dst.copy_(Arrays.equals(TensorBridge.shape(dst), TensorBridge.shape(s)) ? s : s.reshape(TensorBridge.shape(dst)));
            }
            return new WeightReport(file.toString(), new ArrayList<>(plan.keySet()), missing, unexpected, mismatched, List.of());
        }
    }

    /**
     * Reads every tensor of a weight file under mapped names, as new contiguous CPU tensors in the file's dtype.
     *
     * @param file any supported weight file
     * @param keys file name -> wanted name; names mapping to null are left out
     * @return name -> tensor in file order; the tensors belong to the caller's PointerScope
     * @throws IOException         when the file is missing, unreadable or malformed
     * @throws WeightLoadException when two file tensors map to the same name
     */
    public static Map<String, Tensor> readAll(Path file, KeyMap keys) throws IOException {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (Source src = open(file)) {
            for (String name : src.tensors().keySet()) {
                String to = keys.toModel(name);
                if (to == null) {
                    continue;
                }
                if (out.containsKey(to)) {
                    throw new WeightLoadException(file + ": two file tensors map to '" + to + "'");
                }
                Tensor view;
                long[] shape = keys.modelShape(to, src.tensors().get(name).shape());
                if (numel(shape) != numel(src.tensors().get(name).shape())) {
                    throw new WeightLoadException(file + ": tensor '" + name + "' cannot take the shape " + Arrays.toString(shape));
                }
                try (PointerScope inner = new PointerScope()) {
                    view = src.tensor(name).reshape(shape).contiguous().clone();
                    view.retainReference();
                }
                out.put(to, view);
            }
        }
        PointerScope outer = PointerScope.getInnerScope();
        for (Tensor t : out.values()) {
            if (outer != null) {
                outer.attach(t);
                t.releaseReference();
            }
        }
        return out;
    }

    /**
     * A checksum of a tensor's values: SHA-256 of its elements in row-major order as little-endian bytes of its own
     * dtype, first 16 hex digits. Equal tensors get equal checksums whatever file, strides or device they come from.
     *
     * @param t the tensor (borrowed; any device)
     * @return 16 lower-case hex digits
     */
    public static String checksum(Tensor t) {
        try (PointerScope scope = new PointerScope()) {
            Tensor c = t.detach().cpu().contiguous();
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            long bytes = c.nbytes();
            if (bytes > 0) {
                MemorySegment seg = TensorBridge.borrow(c, "tensor", false);
                for (long pos = 0; pos < bytes; pos += 1L << 30) {
                    md.update(seg.asSlice(pos, Math.min(1L << 30, bytes - pos)).asByteBuffer());
                }
            }
            return HexFormat.of().formatHex(md.digest(), 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is not available", e);
        }
    }

    /** @return names joined, the first {@value #NAMES_IN_MESSAGE} of them and a count of the rest */
    static String names(List<String> l) {
        if (l.size() <= NAMES_IN_MESSAGE) {
            return l.toString();
        }
        return l.subList(0, NAMES_IN_MESSAGE) + " and " + (l.size() - NAMES_IN_MESSAGE) + " more";
    }

    private static long numel(long[] s) {
        long n = 1;
        for (long d : s) {
            n *= d;
        }
        return n;
    }

    static void collect(StringTensorDict d, Map<String, Tensor> out) {
        for (long i = 0; i < d.size(); i++) {
            StringTensorDictItem it = d.get(i);
            out.put(it.key().getString(), it.value());
        }
    }
}
