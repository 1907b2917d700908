package org.dualdistill.distill;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.internal.AtomicFiles;
import org.dualdistill.internal.torch.TensorBridge;

/**
 * Cache of frozen teachers' outputs (logits, the tapped feature map and the embedding), one entry per sample, so a
 * teacher runs once per distinct input instead of once per epoch. Teachers cost ~12x the student per clip
 * (REFERENCE section 6), so with fixed views the cache removes most of a distillation step's cost.
 *
 * <p>Keys: a fingerprint of the teacher's weights ({@link #fingerprint}) plus {@link
 * org.dualdistill.video.ViewRecord#cacheKey()}, i.e. video, time window, crop box, flip and view geometry. A view that
 * differs in any of these is a different entry, so the cache is correct for any sampler; it only pays off where views
 * repeat (fixed views, or few distinct windows), which is why training turns it on by default only for deterministic
 * views. Values are float32 copies of each sample's rows.
 *
 * <p>Storage: an in-memory LRU bounded in bytes, optionally backed by a folder (write-through; on a memory miss the
 * folder is read). Disk entries are written atomically (temporary file then rename) with their key and a CRC32, so a
 * crash never leaves a half-written entry that is read as valid; a damaged or foreign entry counts as a miss and is
 * rewritten. A cached value equals what the teacher computed for that sample, but in the batch it was computed with:
 * LibTorch may round a sample differently in another batch composition (observed up to ~1e-9 relative on wide heads),
 * so a run with the cache matches one without to float rounding, not bit for bit.
 *
 * <p>Thread-safe (all methods synchronized); holds no native memory (values live on the Java heap and disk).
 */
public final class TeacherCache implements AutoCloseable {
    private static final int MAGIC = 0x44445443; // "DDTC"
    private static final int VERSION = 1;

    /**
     * One sample's teacher outputs.
     *
     * @param logits       [C]
     * @param featureShape the feature map's shape without the batch dimension, or null when the teacher has none
     * @param features     the feature map's values, or null
     * @param embedding    [D], or null
     */
    public record Entry(float[] logits, long[] featureShape, float[] features, float[] embedding) {
        long bytes() {
            return 4L * (logits.length + (features == null ? 0 : features.length) + (embedding == null ? 0 : embedding.length))
                    + 64;
        }
    }

    private final long maxBytes;
    private final Path dir;
    private final LinkedHashMap<String, Entry> memory = new LinkedHashMap<>(256, 0.75f, true);
    private long bytes;
    private long hits;
    private long misses;
    private long diskHits;
    private long damaged;
    private boolean closed;

    private TeacherCache(long maxBytes, Path dir) throws IOException {
        if (maxBytes < 0) {
            throw new IllegalArgumentException("maxBytes must be >= 0, got " + maxBytes);
        }
        this.maxBytes = maxBytes;
        this.dir = dir;
        if (dir != null) {
            Files.createDirectories(dir);
        }
    }

    /**
     * @param maxBytes bound on the cached values in memory (least recently used entries are dropped beyond it)
     * @return an in-memory cache
     */
    public static TeacherCache inMemory(long maxBytes) {
        try {
            return new TeacherCache(maxBytes, null);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    /**
     * @param dir      folder of the entries (created if missing); reused across runs, keyed by teacher fingerprint
     * @param maxBytes bound of the in-memory layer in front of it
     * @return a disk-backed cache
     * @throws IOException when the folder cannot be created
     */
    public static TeacherCache onDisk(Path dir, long maxBytes) throws IOException {
        return new TeacherCache(maxBytes, dir);
    }

    /**
     * A fingerprint of a module's weights: SHA-256 over every parameter's and buffer's name, shape and float32 values.
     * Two teachers with equal fingerprints compute the same function, so their cache entries are interchangeable.
     *
     * @param module the teacher (borrowed)
     * @return 16 hex digits
     */
    public static String fingerprint(Module module) {
        try (PointerScope scope = new PointerScope()) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (StringTensorDict d : List.of(module.named_parameters(true), module.named_buffers(true))) {
                for (long i = 0; i < d.size(); i++) {
                    var item = d.get(i);
                    Tensor t = item.value();
                    md.update(item.key().getString().getBytes(StandardCharsets.UTF_8));
                    md.update(Arrays.toString(TensorBridge.shape(t)).getBytes(StandardCharsets.UTF_8));
                    if (t.is_floating_point()) {
                        float[] v = TensorBridge.toFloats(t);
                        ByteBuffer bb = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
                        bb.asFloatBuffer().put(v);
                        md.update(bb.array());
                    } else {
                        md.update(Long.toString(t.sum().item_long()).getBytes(StandardCharsets.UTF_8));
                    }
                }
            }
            return HexFormat.of().formatHex(md.digest(), 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * @param key the entry's key
     * @return the entry, or null on a miss
     */
    public synchronized Entry get(String key) {
        open();
        Entry e = memory.get(key);
        if (e == null && dir != null) {
            e = read(key);
            if (e != null) {
                diskHits++;
                remember(key, e);
            }
        }
        if (e == null) {
            misses++;
        } else {
            hits++;
        }
        return e;
    }

    /**
     * Stores an entry (in memory, and on disk when backed by a folder).
     *
     * @param key   the key
     * @param entry the values (kept, not copied: do not modify them afterwards)
     * @throws IOException when a disk entry cannot be written
     */
    public synchronized void put(String key, Entry entry) throws IOException {
        open();
        remember(key, entry);
        if (dir != null) {
            write(key, entry);
        }
    }

    private void remember(String key, Entry e) {
        Entry old = memory.put(key, e);
        if (old != null) {
            bytes -= old.bytes();
        }
        bytes += e.bytes();
        var it = memory.entrySet().iterator();
        while (bytes > maxBytes && it.hasNext()) {
            Map.Entry<String, Entry> eldest = it.next();
            bytes -= eldest.getValue().bytes();
            it.remove();
        }
    }

    /**
     * Splits a batch's teacher outputs into per-sample entries.
     *
     * @param out the teacher's outputs for a batch of N (borrowed)
     * @return N entries
     */
    public static List<Entry> split(TeacherOutputs out) {
        float[] logits = TensorBridge.toFloats(out.logits());
        float[] feats = out.features() == null ? null : TensorBridge.toFloats(out.features());
        float[] emb = out.embedding() == null ? null : TensorBridge.toFloats(out.embedding());
        int n = Math.toIntExact(out.logits().size(0));
        int c = logits.length / n;
        int f = feats == null ? 0 : feats.length / n;
        int d = emb == null ? 0 : emb.length / n;
        long[] sampleShape = null;
        if (feats != null) {
            long[] fs = TensorBridge.shape(out.features());
            sampleShape = Arrays.copyOfRange(fs, 1, fs.length);
        }
        List<Entry> entries = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            entries.add(new Entry(Arrays.copyOfRange(logits, i * c, (i + 1) * c), sampleShape,
                    feats == null ? null : Arrays.copyOfRange(feats, i * f, (i + 1) * f),
                    emb == null ? null : Arrays.copyOfRange(emb, i * d, (i + 1) * d)));
        }
        return entries;
    }

    /**
     * Stacks per-sample entries back into batch tensors (float32, CPU; the caller's PointerScope owns them).
     *
     * @param entries N entries of one teacher, all with equal shapes
     * @return the batch's teacher outputs
     */
    public static TeacherOutputs stack(List<Entry> entries) {
        Entry first = entries.get(0);
        long n = entries.size();
        Tensor logits = fill(new long[]{n, first.logits().length}, entries, Entry::logits);
        Tensor feats = null;
        if (first.features() != null) {
            long[] fshape = new long[first.featureShape().length + 1];
            fshape[0] = n;
            System.arraycopy(first.featureShape(), 0, fshape, 1, first.featureShape().length);
            feats = fill(fshape, entries, Entry::features);
        }
        Tensor emb = first.embedding() == null ? null : fill(new long[]{n, first.embedding().length}, entries, Entry::embedding);
        return new TeacherOutputs(logits, feats, emb);
    }

    private static Tensor fill(long[] shape, List<Entry> entries, java.util.function.Function<Entry, float[]> part) {
        Tensor t = torch.empty(shape);
        FloatPointer p = new FloatPointer(t.data_ptr());
        long at = 0;
        long per = -1;
        for (Entry e : entries) {
            float[] v = part.apply(e);
            if (v == null || (per >= 0 && v.length != per)) {
                throw new IllegalArgumentException("cached entries of one batch differ in shape");
            }
            per = v.length;
            p.position(at).put(v);
            at += v.length;
        }
        return t;
    }

    /** @return lookups answered (memory or disk) */
    public synchronized long hits() {
        return hits;
    }

    /** @return lookups not answered */
    public synchronized long misses() {
        return misses;
    }

    /** @return hits answered from the folder */
    public synchronized long diskHits() {
        return diskHits;
    }

    /** @return disk entries found damaged or foreign (treated as misses) */
    public synchronized long damaged() {
        return damaged;
    }

    /** @return bytes of values held in memory */
    public synchronized long memoryBytes() {
        return bytes;
    }

    /** @return entries held in memory */
    public synchronized int size() {
        return memory.size();
    }

    // ---------------------------------------------------------------- disk format

    private Path file(String key) {
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
            String hex = HexFormat.of().formatHex(h);
            return dir.resolve(hex.substring(0, 2)).resolve(hex.substring(2, 32) + ".bin");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private void write(String key, Entry e) throws IOException {
        Path f = file(key);
        Files.createDirectories(f.getParent());
        ByteArrayOutputStream buf = new ByteArrayOutputStream((int) Math.min(Integer.MAX_VALUE - 16, e.bytes() + key.length() + 64));
        try (DataOutputStream out = new DataOutputStream(buf)) {
            out.writeInt(MAGIC);
            out.writeInt(VERSION);
            out.writeUTF(key);
            floats(out, e.logits());
            out.writeBoolean(e.features() != null);
            if (e.features() != null) {
                out.writeInt(e.featureShape().length);
                for (long s : e.featureShape()) {
                    out.writeLong(s);
                }
                floats(out, e.features());
            }
            out.writeBoolean(e.embedding() != null);
            if (e.embedding() != null) {
                floats(out, e.embedding());
            }
        }
        byte[] body = buf.toByteArray();
        CRC32 crc = new CRC32();
        crc.update(body);
        Path tmp = Files.createTempFile(f.getParent(), ".entry-", ".tmp");
        try {
            try (OutputStream os = Files.newOutputStream(tmp)) {
                os.write(body);
                os.write(ByteBuffer.allocate(8).putLong(crc.getValue()).array());
            }
            AtomicFiles.replace(tmp, f);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private Entry read(String key) {
        Path f = file(key);
        byte[] all;
        try {
            all = Files.readAllBytes(f);
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException e) {
            damaged++;
            return null;
        }
        try {
            if (all.length < 16) {
                throw new IOException("truncated");
            }
            CRC32 crc = new CRC32();
            crc.update(all, 0, all.length - 8);
            if (ByteBuffer.wrap(all, all.length - 8, 8).getLong() != crc.getValue()) {
                throw new IOException("checksum mismatch");
            }
            try (DataInputStream in = new DataInputStream(new java.io.ByteArrayInputStream(all, 0, all.length - 8))) {
                if (in.readInt() != MAGIC || in.readInt() != VERSION) {
                    throw new IOException("not a version " + VERSION + " entry");
                }
                if (!in.readUTF().equals(key)) {
                    return null; // a hash collision on the file name: another key's entry
                }
                float[] logits = floats(in);
                long[] shape = null;
                float[] feats = null;
                if (in.readBoolean()) {
                    int rank = in.readInt();
                    if (rank < 0 || rank > 8) {
                        throw new IOException("bad rank " + rank);
                    }
                    shape = new long[rank];
                    for (int i = 0; i < rank; i++) {
                        shape[i] = in.readLong();
                    }
                    feats = floats(in);
                }
                float[] emb = in.readBoolean() ? floats(in) : null;
                return new Entry(logits, shape, feats, emb);
            }
        } catch (IOException | RuntimeException e) {
            damaged++;
            try {
                Files.deleteIfExists(f);
            } catch (IOException ignored) {
                // a later put rewrites it
            }
            return null;
        }
    }

    private static void floats(DataOutputStream out, float[] v) throws IOException {
        out.writeInt(v.length);
        ByteBuffer bb = ByteBuffer.allocate(4 * v.length);
        bb.asFloatBuffer().put(v);
        out.write(bb.array());
    }

    private static float[] floats(DataInputStream in) throws IOException {
        int n = in.readInt();
        if (n < 0 || n > (1 << 28)) {
            throw new IOException("bad length " + n);
        }
        byte[] b = in.readNBytes(4 * n);
        if (b.length != 4 * n) {
            throw new IOException("truncated");
        }
        float[] v = new float[n];
        ByteBuffer.wrap(b).asFloatBuffer().get(v);
        return v;
    }

    private void open() {
        if (closed) {
            throw new IllegalStateException("TeacherCache is closed");
        }
    }

    /** Drops the in-memory entries (disk entries stay for later runs). Idempotent. */
    @Override
    public synchronized void close() {
        closed = true;
        memory.clear();
        bytes = 0;
    }

    @Override
    public synchronized String toString() {
        return String.format(java.util.Locale.ROOT, "TeacherCache[%d entries, %.1f MB, hits %d, misses %d%s]", memory.size(),
                bytes / 1e6, hits, misses, dir == null ? "" : ", disk " + dir);
    }
}
