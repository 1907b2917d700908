package org.dualdistill.model.io;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.internal.torch.TorchRuntime;
import org.dualdistill.model.io.TorchPickle.StorageRef;
import org.dualdistill.model.io.TorchPickle.TensorRef;
import org.dualdistill.model.io.TorchPickle.Tuple;

/**
 * A {@code torch.save} file opened without Python and without running anything from it: the zip format
 * ({@code <dir>/data.pkl}, {@code <dir>/data/<key>}, {@code <dir>/version}, {@code <dir>/byteorder}; PyTorch >= 1.6)
 * and the legacy format (magic number, protocol, sys info, pickle, storage keys, raw storages; written with
 * {@code _use_new_zipfile_serialization=False} and by PyTorch < 1.6). The pickle goes through {@link TorchPickle},
 * which allows only the globals that rebuild tensors and plain containers.
 *
 * <p>The file is memory-mapped once into an {@link Arena} that this object owns. Zip entries that torch.save writes
 * are stored (not compressed), so each storage is a slice of the mapping and the tensors returned by {@link #tensor}
 * are LibTorch views over it (no copy) with the file's storage offset and strides; tensors sharing a storage share
 * the memory. A big-endian file ({@code byteorder} = {@code big}) and a storage not aligned to its element size are
 * the exceptions: those storages are copied once (byte-swapped) into memory of this arena.
 *
 * <p>Everything is checked at {@link #open}, before any tensor is handed out, so a load is all or nothing: every zip
 * entry's CRC-32, every storage's size against its persistent id, every tensor's extent against its storage. Errors
 * are {@link IOException}s naming the file and the reason.
 *
 * <p>{@link #close()} unmaps the file: tensors from {@link #tensor} must not be used after it (clone them to keep
 * them). After {@link #open} the object is read-only: {@link #tensor} may be called from several threads (the arena
 * is shared), each caller owning the wrappers it gets.
 */
public final class TorchFile implements AutoCloseable {
    static {
        TorchRuntime.init();
    }

    /** Keys under which checkpoints keep their state dict (PySlowFast/pytorchvideo, Lightning, others). */
    private static final List<String> STATE_KEYS = List.of("model_state", "state_dict", "model", "module");
    private static final int MAX_ZIP_ENTRIES = 1_000_000;
    private static final int MAX_NESTING = 64;
    private static final byte[] ZIP_MAGIC = {'P', 'K', 3, 4};
    /** Legacy format magic number, 0x1950a86a20f9469cfc6c. */
    private static final java.math.BigInteger LEGACY_MAGIC = new java.math.BigInteger("1950a86a20f9469cfc6c", 16);

    /** The format of a file. */
    public enum Format {
        /** PyTorch >= 1.6 zip archive */
        ZIP,
        /** legacy pickle stream followed by raw storages */
        LEGACY
    }

    /**
     * One tensor of the state dict, as stored.
     *
     * @param name         its key in the file
     * @param dtype        element type
     * @param shape        sizes
     * @param stride       strides in elements (a view may be non-contiguous)
     * @param offset       storage offset in elements
     * @param storageKey   the storage it views (shared storages have equal keys)
     * @param requiresGrad whether it was saved as a parameter requiring grad
     */
    public record StoredTensor(String name, DType dtype, long[] shape, long[] stride, long offset, String storageKey,
                               boolean requiresGrad) {
        /** @return number of elements */
        public long numel() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }
    }

    private final Path file;
    private final Format format;
    private final Arena arena;
    private final Object root;
    private final String stateKey;
    private final Map<String, StoredTensor> tensors;
    private final Map<String, MemorySegment> storages;
    private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();

    private TorchFile(Path file, Format format, Arena arena, Object root, String stateKey,
                      Map<String, StoredTensor> tensors, Map<String, MemorySegment> storages) {
        this.file = file;
        this.format = format;
        this.arena = arena;
        this.root = root;
        this.stateKey = stateKey;
        this.tensors = tensors;
        this.storages = storages;
    }

    /**
     * @param file a path
     * @return whether the file starts like a torch.save file (zip or legacy pickle), judged from its first bytes
     * @throws IOException when it cannot be read
     */
    public static boolean looksLikeTorchFile(Path file) throws IOException {
        byte[] head = new byte[4];
        try (var in = Files.newInputStream(file)) {
            int n = in.readNBytes(head, 0, 4);
            return n == 4 && (Arrays.equals(head, ZIP_MAGIC) || (head[0] & 0xff) == 0x80);
        }
    }

    /**
     * Opens and fully checks a file.
     *
     * @param file a torch.save file
     * @return the opened file (the caller closes it)
     * @throws IOException when the file is missing, unreadable, malformed, refers to a global that is not allowed,
     *                     or has a storage or tensor that does not fit (the message names the file and the reason)
     */
    public static TorchFile open(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new NoSuchFileException(file.toString(), null, "checkpoint not found");
        }
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 4) {
                throw new IOException(file + ": not a PyTorch checkpoint (" + size + " bytes)");
            }
            MemorySegment map = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            byte[] head = map.asSlice(0, 4).toArray(ValueLayout.JAVA_BYTE);
            TorchFile f;
            if (Arrays.equals(head, ZIP_MAGIC)) {
                f = openZip(file, arena, map);
            } else if ((head[0] & 0xff) == 0x80) {
                f = openLegacy(file, arena, map);
            } else {
                throw new IOException(file + ": not a PyTorch checkpoint (neither a zip archive nor a pickle; "
                        + "tar-format files of PyTorch < 0.4 and TorchScript archives are not read here)");
            }
            return f;
        } catch (IOException | RuntimeException | Error e) {
            arena.close();
            if (e instanceof OutOfMemoryError oom) {
                throw new IOException(file + ": the checkpoint needs more memory than is available", oom);
            }
            if (e instanceof RuntimeException && !(e instanceof WeightLoadException)) {
                throw new IOException(file + ": malformed checkpoint: " + e, e);
            }
            throw e;
        }
    }

    // ---- zip -------------------------------------------------------------------------------------------------------

    private record ZipEntry(String name, long dataOffset, long size, int crc) {
    }

    private static TorchFile openZip(Path file, Arena arena, MemorySegment map) throws IOException {
        Map<String, ZipEntry> entries = zipEntries(file, map);
        String prefix = null;
        for (String n : entries.keySet()) {
            int slash = n.indexOf('/');
            if (slash > 0 && n.substring(slash + 1).equals("data.pkl")) {
                if (prefix != null) {
                    throw new IOException(file + ": the zip archive holds more than one data.pkl");
                }
                prefix = n.substring(0, slash + 1);
            }
        }
        if (prefix == null) {
            throw new IOException(file + ": the zip archive has no <dir>/data.pkl entry (not a torch.save file"
                    + (entries.containsKey("constants.pkl") || entries.keySet().stream().anyMatch(k -> k.endsWith("/constants.pkl"))
                    ? "; it looks like a TorchScript archive" : "") + ")");
        }
        ZipEntry version = entries.get(prefix + "version");
        if (version != null) {
            String v = new String(checked(file, map, version).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.US_ASCII).trim();
            if (!v.matches("[0-9]{1,3}") || Integer.parseInt(v) > 20) {
                throw new IOException(file + ": unknown torch.save archive version '" + v + "'");
            }
        }
        ByteOrder order = ByteOrder.LITTLE_ENDIAN;
        ZipEntry bo = entries.get(prefix + "byteorder");
        if (bo != null) {
            String v = new String(checked(file, map, bo).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.US_ASCII).trim();
            order = switch (v) {
                case "little" -> ByteOrder.LITTLE_ENDIAN;
                case "big" -> ByteOrder.BIG_ENDIAN;
                default -> throw new IOException(file + ": unknown byteorder '" + v + "' in the archive");
            };
        }
        MemorySegment pkl = checked(file, map, entries.get(prefix + "data.pkl"));
        Map<String, StorageRef> refs = new LinkedHashMap<>();
        String source = file + " (" + prefix + "data.pkl)";
        Object root = new TorchPickle(source, pkl.asByteBuffer(), pid -> storageRef(pid, refs, false)).load();
        Map<String, MemorySegment> storages = new HashMap<>();
        for (StorageRef s : refs.values()) {
            ZipEntry e = entries.get(prefix + "data/" + s.key());
            if (e == null) {
                throw new IOException(file + ": the zip archive has no entry " + prefix + "data/" + s.key()
                        + " for a storage the pickle uses (incomplete archive?)");
            }
            long want = Math.multiplyExact(s.numel(), (long) s.dtype().size());
            if (e.size() != want) {
                throw new IOException(file + ": storage " + s.key() + " has " + e.size() + " bytes but its "
                        + s.numel() + " " + s.dtype() + " elements need " + want);
            }
            storages.put(s.key(), native_(arena, checked(file, map, e), s.dtype(), order));
        }
        return finish(file, Format.ZIP, arena, root, refs, storages);
    }

    /** An entry's bytes, after checking that it is stored and that its CRC-32 matches. */
    private static MemorySegment checked(Path file, MemorySegment map, ZipEntry e) throws IOException {
        MemorySegment s = map.asSlice(e.dataOffset(), e.size());
        CRC32 crc = new CRC32();
        for (long pos = 0; pos < e.size(); pos += 1L << 30) {
            crc.update(s.asSlice(pos, Math.min(1L << 30, e.size() - pos)).asByteBuffer());
        }
        if ((int) crc.getValue() != e.crc()) {
            throw new IOException(file + ": zip entry " + e.name() + " fails its CRC-32 check (corrupted file)");
        }
        return s;
    }

    private static Map<String, ZipEntry> zipEntries(Path file, MemorySegment map) throws IOException {
        long size = map.byteSize();
        long eocd = -1;
        for (long p = size - 22; p >= Math.max(0, size - 22 - 65535); p--) {
            if (u32(map, p) == 0x06054b50L) {
                eocd = p;
                break;
            }
        }
        if (eocd < 0) {
            throw new IOException(file + ": the zip archive has no end-of-central-directory record (truncated file?)");
        }
        long count = u16(map, eocd + 10);
        long cdSize = u32(map, eocd + 12);
        long cdOffset = u32(map, eocd + 16);
        if (count == 0xffff || cdSize == 0xffffffffL || cdOffset == 0xffffffffL) {
            long loc = eocd - 20;
            if (loc < 0 || u32(map, loc) != 0x07064b50L) {
                throw new IOException(file + ": the zip archive's ZIP64 locator is missing (truncated file?)");
            }
            long z = map.get(LE64, loc + 8);
            if (z < 0 || z + 56 > size || u32(map, z) != 0x06064b50L) {
                throw new IOException(file + ": the zip archive's ZIP64 directory record is malformed");
            }
            count = map.get(LE64, z + 32);
            cdSize = map.get(LE64, z + 40);
            cdOffset = map.get(LE64, z + 48);
        }
        if (count < 0 || count > MAX_ZIP_ENTRIES || cdOffset < 0 || cdSize < 0 || cdOffset + cdSize > size) {
            throw new IOException(file + ": the zip archive's central directory lies outside the file (truncated file?)");
        }
        Map<String, ZipEntry> out = new LinkedHashMap<>();
        long p = cdOffset;
        for (long i = 0; i < count; i++) {
            if (p + 46 > cdOffset + cdSize || u32(map, p) != 0x02014b50L) {
                throw new IOException(file + ": the zip archive's central directory is malformed at entry " + i);
            }
            int method = u16(map, p + 10);
            int crc = (int) u32(map, p + 16);
            long comp = u32(map, p + 20);
            long uncomp = u32(map, p + 24);
            int nameLen = u16(map, p + 28);
            int extraLen = u16(map, p + 30);
            int commentLen = u16(map, p + 32);
            long local = u32(map, p + 42);
            if (p + 46 + nameLen + extraLen + commentLen > cdOffset + cdSize) {
                throw new IOException(file + ": the zip archive's central directory is malformed at entry " + i);
            }
            String name = new String(map.asSlice(p + 46, nameLen).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
            // ZIP64 extended information: 8-byte values for the fields saturated above, in this order
            long x = p + 46 + nameLen;
            long xEnd = x + extraLen;
            while (x + 4 <= xEnd) {
                int id = u16(map, x);
                int len = u16(map, x + 2);
                if (id == 1) {
                    long q = x + 4;
                    if (uncomp == 0xffffffffL && q + 8 <= x + 4 + len) {
                        uncomp = map.get(LE64, q);
                        q += 8;
                    }
                    if (comp == 0xffffffffL && q + 8 <= x + 4 + len) {
                        comp = map.get(LE64, q);
                        q += 8;
                    }
                    if (local == 0xffffffffL && q + 8 <= x + 4 + len) {
                        local = map.get(LE64, q);
                    }
                }
                x += 4 + len;
            }
            if (method != 0 || comp != uncomp) {
                throw new IOException(file + ": zip entry " + name + " is compressed (method " + method
                        + "); torch.save stores entries uncompressed, re-save the file with torch.save");
            }
            if (local < 0 || local + 30 > size || u32(map, local) != 0x04034b50L) {
                throw new IOException(file + ": zip entry " + name + " has no local header (truncated or corrupted file)");
            }
            long data = local + 30 + u16(map, local + 26) + u16(map, local + 28);
            if (uncomp < 0 || data + uncomp > size) {
                throw new IOException(file + ": zip entry " + name + " extends past the end of the file (truncated file?)");
            }
            out.put(name, new ZipEntry(name, data, uncomp, crc));
            p += 46 + nameLen + extraLen + commentLen;
        }
        return out;
    }

    private static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static long u32(MemorySegment m, long at) {
        if (at < 0 || at + 4 > m.byteSize()) {
            return -1;
        }
        return m.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), at) & 0xffffffffL;
    }

    private static int u16(MemorySegment m, long at) {
        if (at < 0 || at + 2 > m.byteSize()) {
            return 0;
        }
        return m.get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), at) & 0xffff;
    }

    // ---- legacy ----------------------------------------------------------------------------------------------------

    private static TorchFile openLegacy(Path file, Arena arena, MemorySegment map) throws IOException {
        ByteBuffer all = map.asByteBuffer();
        if (map.byteSize() > Integer.MAX_VALUE) {
            // the pickles come first and are small; storages are read through the segment
            all = map.asSlice(0, Integer.MAX_VALUE).asByteBuffer();
        }
        int[] pos = {0};
        Object magic = pickleAt(file, all, pos, "magic number", null);
        if (!LEGACY_MAGIC.equals(magic)) {
            throw new IOException(file + ": not a PyTorch checkpoint (a pickle, but without torch.save's magic number)");
        }
        Object proto = pickleAt(file, all, pos, "protocol version", null);
        if (!Long.valueOf(1001).equals(proto)) {
            throw new IOException(file + ": unsupported legacy protocol version " + proto + " (1001 is)");
        }
        // sys info: legacy storages are written little-endian whatever the host, so its little_endian flag only
        // describes the writer
        pickleAt(file, all, pos, "sys info", null);
        Map<String, StorageRef> refs = new LinkedHashMap<>();
        Object root = pickleAt(file, all, pos, "object", pid -> storageRef(pid, refs, true));
        Object keys = pickleAt(file, all, pos, "storage keys", null);
        if (!(keys instanceof List<?> keyList)) {
            throw new IOException(file + ": the legacy storage key list is missing or malformed");
        }
        long at = pos[0];
        Map<String, MemorySegment> storages = new HashMap<>();
        for (Object k : keyList) {
            StorageRef s = refs.get(String.valueOf(k));
            if (s == null) {
                throw new IOException(file + ": legacy storage key " + k + " is not used by the pickle");
            }
            if (at + 8 > map.byteSize()) {
                throw new IOException(file + ": the file ends before storage " + k + " (truncated file?)");
            }
            long numel = map.get(LE64, at);
            at += 8;
            if (numel != s.numel()) {
                throw new IOException(file + ": storage " + k + " holds " + numel + " elements but its persistent id says "
                        + s.numel());
            }
            long bytes = Math.multiplyExact(numel, (long) s.dtype().size());
            if (numel < 0 || at + bytes > map.byteSize()) {
                throw new IOException(file + ": the file ends inside storage " + k + " (truncated file?)");
            }
            storages.put(s.key(), native_(arena, map.asSlice(at, bytes), s.dtype(), ByteOrder.LITTLE_ENDIAN));
            at += bytes;
        }
        for (String k : refs.keySet()) {
            if (!storages.containsKey(k)) {
                throw new IOException(file + ": storage " + k + " is used by the pickle but not stored in the file");
            }
        }
        if (at != map.byteSize()) {
            throw new IOException(file + ": " + (map.byteSize() - at) + " unexpected bytes after the last storage");
        }
        return finish(file, Format.LEGACY, arena, root, refs, storages);
    }

    /** Runs the pickle that starts at pos[0] and advances pos[0] past it. */
    private static Object pickleAt(Path file, ByteBuffer all, int[] pos, String what,
                                   java.util.function.Function<Tuple, Object> pid) throws IOException {
        ByteBuffer b = all.duplicate().position(pos[0]);
        if (!b.hasRemaining()) {
            throw new IOException(file + ": the file ends before the legacy " + what + " (truncated file?)");
        }
        TorchPickle p = new TorchPickle(file + " (legacy " + what + ")", b.slice(), pid == null ? t -> {
            throw new IllegalArgumentException("a persistent id appears outside the main pickle");
        } : pid);
        Object o = p.load();
        pos[0] += p.consumed();
        return o;
    }

    // ---- shared ----------------------------------------------------------------------------------------------------

    /**
     * zip: ('storage', storage_type, key, location, numel); legacy adds view_metadata (None, or
     * (view_key, offset, view_size) of PyTorch < 1.0, not supported).
     */
    private static Object storageRef(Tuple pid, Map<String, StorageRef> refs, boolean legacy) {
        if (pid.size() < 5 || !"storage".equals(pid.get(0)) || !(pid.get(1) instanceof TorchPickle.StorageClass c)
                || !(pid.get(2) instanceof String key) || !(pid.get(4) instanceof Long numel)) {
            throw new IllegalArgumentException("malformed persistent id (expected ('storage', torch.*Storage, key, location, numel))");
        }
        if (legacy && pid.size() >= 6 && pid.get(5) != null) {
            throw new IllegalArgumentException("storage views of PyTorch < 1.0 (view_metadata) are not supported");
        }
        if (numel < 0) {
            throw new IllegalArgumentException("storage " + key + " has a negative size");
        }
        if (!key.matches("[A-Za-z0-9_.-]{1,64}")) {
            throw new IllegalArgumentException("storage key '" + key + "' is not a plain name");
        }
        StorageRef prev = refs.get(key);
        if (prev != null) {
            if (prev.dtype() != c.dtype() || prev.numel() != numel) {
                throw new IllegalArgumentException("storage " + key + " is described twice, differently");
            }
            return prev;
        }
        StorageRef r = new StorageRef(c.dtype(), key, String.valueOf(pid.get(3)), numel);
        refs.put(key, r);
        return r;
    }

    /** The storage in native (little-endian) order and aligned to its element size: the slice itself when it is. */
    private static MemorySegment native_(Arena arena, MemorySegment src, DType d, ByteOrder order) {
        boolean aligned = src.address() % d.size() == 0;
        if (aligned && (order == ByteOrder.nativeOrder() || d.size() == 1)) {
            return src;
        }
        MemorySegment dst = arena.allocate(Math.max(1, src.byteSize()), Math.max(8, d.size()));
        dst = dst.asSlice(0, src.byteSize());
        dst.copyFrom(src);
        if (order != ByteOrder.nativeOrder() && d.size() > 1) {
            int w = d.size();
            long n = src.byteSize() / w;
            for (long i = 0; i < n; i++) {
                long o = i * w;
                for (int a = 0, b = w - 1; a < b; a++, b--) {
                    byte x = dst.get(ValueLayout.JAVA_BYTE, o + a);
                    dst.set(ValueLayout.JAVA_BYTE, o + a, dst.get(ValueLayout.JAVA_BYTE, o + b));
                    dst.set(ValueLayout.JAVA_BYTE, o + b, x);
                }
            }
        }
        return dst;
    }

    private static TorchFile finish(Path file, Format format, Arena arena, Object root, Map<String, StorageRef> refs,
                                    Map<String, MemorySegment> storages) throws IOException {
        checkNesting(file, root);
        String stateKey = null;
        Map<?, ?> dict = null;
        if (root instanceof Map<?, ?> m) {
            for (String k : STATE_KEYS) {
                if (m.get(k) instanceof Map<?, ?> inner && holdsTensor(inner)) {
                    stateKey = k;
                    dict = inner;
                    break;
                }
            }
            if (dict == null) {
                dict = m;
            }
        } else {
            throw new IOException(file + ": the checkpoint is a " + (root == null ? "None" : root.getClass().getSimpleName())
                    + ", not a dict of tensors");
        }
        Map<String, StoredTensor> tensors = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : dict.entrySet()) {
            if (e.getKey() instanceof String name && e.getValue() instanceof TensorRef t) {
                tensors.put(name, check(file, name, t));
            }
        }
        if (tensors.isEmpty()) {
            throw new IOException(file + ": the checkpoint holds no tensors under string keys"
                    + (stateKey == null ? " (looked at the top level and under " + STATE_KEYS + ")" : ""));
        }
        return new TorchFile(file, format, arena, root, stateKey, tensors, storages);
    }

    private static boolean holdsTensor(Map<?, ?> m) {
        for (Object v : m.values()) {
            if (v instanceof TensorRef) {
                return true;
            }
        }
        return false;
    }

    /** Walks the graph without recursion, refusing cycles through containers and nesting beyond a bound. */
    private static void checkNesting(Path file, Object root) throws IOException {
        IdentityHashMap<Object, Integer> seen = new IdentityHashMap<>();
        ArrayList<Object[]> todo = new ArrayList<>();
        todo.add(new Object[] {root, 0});
        while (!todo.isEmpty()) {
            Object[] cur = todo.remove(todo.size() - 1);
            Object o = cur[0];
            int depth = (Integer) cur[1];
            if (!(o instanceof Map<?, ?> || o instanceof List<?> || o instanceof Tuple || o instanceof java.util.Set<?>)) {
                continue;
            }
            if (depth > MAX_NESTING) {
                throw new IOException(file + ": the checkpoint nests containers deeper than " + MAX_NESTING + " levels (pickle bomb?)");
            }
            if (seen.put(o, depth) != null) {
                continue; // shared or cyclic: walked once
            }
            Iterable<?> kids = o instanceof Map<?, ?> m ? m.values() : o instanceof Tuple t ? t.items() : (Iterable<?>) o;
            for (Object k : kids) {
                todo.add(new Object[] {k, depth + 1});
            }
        }
    }

    private static StoredTensor check(Path file, String name, TensorRef t) throws IOException {
        long extent = 0; // highest element index + 1, relative to the offset
        boolean empty = false;
        for (int i = 0; i < t.shape().length; i++) {
            if (t.shape()[i] < 0 || t.stride()[i] < 0) {
                throw new IOException(file + ": tensor '" + name + "' has a negative size or stride");
            }
            if (t.shape()[i] == 0) {
                empty = true;
            }
        }
        try {
            long last = 0;
            for (int i = 0; i < t.shape().length; i++) {
                if (t.shape()[i] > 0) {
                    last = Math.addExact(last, Math.multiplyExact(t.shape()[i] - 1, t.stride()[i]));
                }
            }
            extent = empty ? 0 : Math.addExact(Math.addExact(t.offset(), last), 1);
            long numel = 1;
            for (long d : t.shape()) {
                numel = Math.multiplyExact(numel, d);
            }
        } catch (ArithmeticException e) {
            throw new IOException(file + ": tensor '" + name + "' has a shape whose size overflows");
        }
        if (t.offset() < 0 || extent > t.storage().numel()) {
            throw new IOException(file + ": tensor '" + name + "' of shape " + Arrays.toString(t.shape()) + ", stride "
                    + Arrays.toString(t.stride()) + " and offset " + t.offset() + " does not fit its storage "
                    + t.storage().key() + " of " + t.storage().numel() + " elements");
        }
        return new StoredTensor(name, t.storage().dtype(), t.shape().clone(), t.stride().clone(), t.offset(),
                t.storage().key(), t.requiresGrad());
    }

    // ---- accessors -------------------------------------------------------------------------------------------------

    /** @return the file */
    public Path file() {
        return file;
    }

    /** @return its format */
    public Format format() {
        return format;
    }

    /** @return the key of the top-level dict that holds the state dict (e.g. model_state), or null for the top level */
    public String stateKey() {
        return stateKey;
    }

    /** @return the top-level keys of the checkpoint (e.g. epoch, model_state, optimizer_state, cfg) */
    public List<String> topLevelKeys() {
        List<String> out = new ArrayList<>();
        if (root instanceof Map<?, ?> m) {
            for (Object k : m.keySet()) {
                out.add(String.valueOf(k));
            }
        }
        return out;
    }

    /**
     * @param key a top-level key
     * @return its value when it is a string, long, double or boolean, else null (e.g. PySlowFast's cfg YAML, epoch)
     */
    public Object scalar(String key) {
        if (root instanceof Map<?, ?> m) {
            Object v = m.get(key);
            if (v instanceof String || v instanceof Long || v instanceof Double || v instanceof Boolean) {
                return v;
            }
        }
        return null;
    }

    /** @return the state dict's tensors, by name in file order */
    public Map<String, StoredTensor> tensors() {
        return java.util.Collections.unmodifiableMap(tensors);
    }

    /**
     * A LibTorch CPU view of one stored tensor over this file's memory (no copy), with the stored strides and
     * offset. Valid until {@link #close()}; the wrapper belongs to the caller's PointerScope.
     *
     * @param name a key of {@link #tensors()}
     * @return the view (read-only by contract: the mapping is read-only, writing to it crashes)
     * @throws IllegalArgumentException for an unknown name
     * @throws IllegalStateException    after close
     */
    public Tensor tensor(String name) {
        StoredTensor t = tensors.get(name);
        if (t == null) {
            throw new IllegalArgumentException(file + ": no tensor '" + name + "'");
        }
        if (closed.get()) {
            throw new IllegalStateException("TorchFile is closed (" + file + ")");
        }
        MemorySegment s = storages.get(t.storageKey());
        long base = s.address() + t.offset() * t.dtype().size();
        Pointer p = new Pointer() {
            {
                address = base;
            }
        };
        if (t.numel() == 0) {
            return torch.empty(t.shape(), new TensorOptions(t.dtype().scalarType()), null);
        }
        return torch.from_blob(p, t.shape(), t.stride(), new TensorOptions(t.dtype().scalarType()));
    }

    /** Unmaps the file (and frees byte-swapped copies). Idempotent and thread-safe. */
    @Override
    public void close() {
        if (!closed.getAndSet(true)) {
            arena.close();
        }
    }
}
