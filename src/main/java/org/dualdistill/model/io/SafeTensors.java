package org.dualdistill.model.io;

import org.dualdistill.internal.AtomicFiles;
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
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.StringTensorDictItem;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dualdistill.internal.torch.TensorBridge;
import org.dualdistill.internal.torch.TorchRuntime;

/**
 * safetensors (the Hugging Face format: u64 little-endian header length, a JSON header of
 * {@code name -> {dtype, shape, data_offsets}}, then the raw little-endian data) read and written without passing
 * tensor data through the Java heap.
 *
 * <p>Reading memory-maps the file with {@link FileChannel#map} into an {@link Arena}-owned {@link MemorySegment};
 * each tensor is wrapped in place by {@code torch.from_blob} and copied (with dtype conversion) straight into the
 * destination parameter, then the mapping is released. Writing streams each contiguous CPU tensor's native memory
 * to the file through a segment view, into a temporary file that is fsynced and renamed, so a crash never leaves a
 * half-written file under the final name.
 *
 * <p>Integrity: {@link #save} records the SHA-256 of the data section in the metadata ({@link #META_DATA_SHA256});
 * {@link #loadInto} and {@link #readAll} check it when the file has one, so flipped data bytes fail on load with a
 * message naming the file instead of loading as garbage weights.
 *
 * <p>Errors name the file and the reason: {@link java.io.IOException} for unreadable, malformed or corrupted files,
 * {@link WeightLoadException} for missing, unexpected or mis-shaped tensors. Thread-safe (no shared state).
 */
public final class SafeTensors {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long MAX_HEADER = 100L << 20;
    /**
     * Metadata key under which {@link #save} records the SHA-256 (lower-case hex) of the data section, the bytes after
     * the header; {@link #loadInto} and {@link #readAll} check it where present.
     */
    public static final String META_DATA_SHA256 = "dualdistill.dataSha256";

    static {
        TorchRuntime.init();
    }

    private SafeTensors() {
    }

    /** One tensor's entry in a file header. */
    public record Entry(String name, String dtype, long[] shape, long begin, long end) {
    }

    /** How {@link #loadInto} treats names. */
    public enum Mode {
        /** every parameter and buffer must be in the file, and nothing else (PyTorch's strict=True) */
        STRICT,
        /** load what matches; report the rest in the returned {@link LoadReport} (strict=False) */
        NON_STRICT
    }

    /**
     * What {@link #loadInto} did.
     *
     * @param loaded     names copied into the module
     * @param missing    module tensors absent from the file (kept as they were)
     * @param unexpected file tensors the module does not have
     */
    public record LoadReport(List<String> loaded, List<String> missing, List<String> unexpected) {
    }

    /**
     * Reads the header only.
     *
     * @param file a .safetensors file
     * @return entries in file order
     * @throws IOException when the file is missing or not a valid safetensors file (the message names it)
     */
    public static List<Entry> header(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return parseHeader(file, ch).entries;
        } catch (NoSuchFileException e) {
            throw new NoSuchFileException(file.toString(), null, "safetensors file not found");
        }
    }

    private record Header(List<Entry> entries, long dataStart, Map<String, String> metadata) {
    }

    private static Header parseHeader(Path file, FileChannel ch) throws IOException {
        long size = ch.size();
        if (size < 8) {
            throw new IOException(file + ": not a safetensors file (" + size + " bytes, shorter than the 8-byte header length)");
        }
        ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, lenBuf, 0, file);
        long n = lenBuf.flip().getLong();
        if (n <= 1 || n > MAX_HEADER || 8 + n > size) {
            throw new IOException(file + ": bad safetensors header length " + n + " (file has " + size + " bytes)");
        }
        ByteBuffer hb = ByteBuffer.allocate((int) n);
        readFully(ch, hb, 8, file);
        JsonNode root;
        try {
            root = JSON.readTree(new String(hb.array(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IOException(file + ": safetensors header is not valid JSON: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new IOException(file + ": safetensors header is not a JSON object");
        }
        long dataStart = 8 + n;
        long dataLen = size - dataStart;
        List<Entry> entries = new ArrayList<>();
        Map<String, String> meta = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> f = it.next();
            if (f.getKey().equals("__metadata__")) {
                f.getValue().fields().forEachRemaining(m -> meta.put(m.getKey(), m.getValue().asText()));
                continue;
            }
            JsonNode v = f.getValue();
            JsonNode off = v.get("data_offsets");
            JsonNode shp = v.get("shape");
            if (!v.has("dtype") || off == null || off.size() != 2 || shp == null || !shp.isArray()) {
                throw new IOException(file + ": tensor '" + f.getKey() + "' has no dtype, shape or data_offsets");
            }
            long[] shape = new long[shp.size()];
            long count = 1;
            for (int i = 0; i < shape.length; i++) {
                shape[i] = shp.get(i).asLong();
                if (shape[i] < 0) {
                    throw new IOException(file + ": tensor '" + f.getKey() + "' has a negative dimension");
                }
                count *= shape[i];
            }
            String dtype = v.get("dtype").asText();
            long begin = off.get(0).asLong();
            long end = off.get(1).asLong();
            if (begin < 0 || end < begin || end > dataLen) {
                throw new IOException(file + ": tensor '" + f.getKey() + "' data_offsets [" + begin + ", " + end
                        + "] fall outside the " + dataLen + "-byte data section (truncated file?)");
            }
            if (count * elementSize(dtype, file, f.getKey()) != end - begin) {
                throw new IOException(file + ": tensor '" + f.getKey() + "' has " + (end - begin) + " bytes for shape "
                        + java.util.Arrays.toString(shape) + " of " + dtype);
            }
            entries.add(new Entry(f.getKey(), dtype, shape, begin, end));
        }
        return new Header(entries, dataStart, meta);
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long pos, Path file) throws IOException {
        while (buf.hasRemaining()) {
            int r = ch.read(buf, pos + buf.position());
            if (r < 0) {
                throw new IOException(file + ": unexpected end of file");
            }
        }
    }

    private static int elementSize(String dtype, Path file, String name) throws IOException {
        return switch (dtype) {
            case "F64", "I64", "U64" -> 8;
            case "F32", "I32", "U32" -> 4;
            case "F16", "BF16", "I16", "U16" -> 2;
            case "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2" -> 1;
            default -> throw new IOException(file + ": tensor '" + name + "' has unsupported dtype " + dtype);
        };
    }

    private static ScalarType scalarType(String dtype, Path file, String name) throws IOException {
        return switch (dtype) {
            case "F64" -> ScalarType.Double;
            case "F32" -> ScalarType.Float;
            case "F16" -> ScalarType.Half;
            case "BF16" -> ScalarType.BFloat16;
            case "I64" -> ScalarType.Long;
            case "I32" -> ScalarType.Int;
            case "I16" -> ScalarType.Short;
            case "I8" -> ScalarType.Char;
            case "U8" -> ScalarType.Byte;
            case "BOOL" -> ScalarType.Bool;
            default -> throw new IOException(file + ": tensor '" + name + "' has dtype " + dtype + " that LibTorch cannot take here");
        };
    }

    private static String dtypeName(ScalarType t) {
        return switch (t) {
            case Double -> "F64";
            case Float -> "F32";
            case Half -> "F16";
            case BFloat16 -> "BF16";
            case Long -> "I64";
            case Int -> "I32";
            case Short -> "I16";
            case Char -> "I8";
            case Byte -> "U8";
            case Bool -> "BOOL";
            default -> throw new IllegalArgumentException("safetensors cannot store dtype " + t);
        };
    }

    /**
     * Copies a file's tensors into a module's parameters and buffers by name (dtype converted to the module's).
     *
     * @param module the destination (borrowed); its tensors keep their dtype and device
     * @param file   the safetensors file
     * @param mode   strict or not
     * @param rename maps a file name to the module's name (for foreign key schemes), or null for identity; a
     *               mapping to null drops the tensor
     * @return what was loaded, missing and unexpected
     * @throws IOException         when the file is unreadable or malformed
     * @throws WeightLoadException on a shape mismatch, or (strict) any missing or unexpected tensor
     */
    public static LoadReport loadInto(Module module, Path file, Mode mode, java.util.function.UnaryOperator<String> rename)
            throws IOException {
        try (PointerScope scope = new PointerScope();
             FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
             Arena arena = Arena.ofConfined()) {
            Header h = parseHeader(file, ch);
            MemorySegment data = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            verifyChecksum(file, h, data);
            Map<String, Tensor> views = new LinkedHashMap<>();
            for (Entry e : h.entries()) {
                MemorySegment src = data.asSlice(h.dataStart() + e.begin(), e.end() - e.begin());
                views.put(e.name(), torch.from_blob(pointerAt(src), e.shape(),
                        new TensorOptions(scalarType(e.dtype(), file, e.name()))));
            }
            return copyInto(module, views, file, mode, rename); // copies while the mapping is alive
        } catch (NoSuchFileException e) {
            throw new NoSuchFileException(file.toString(), null, "safetensors file not found");
        }
    }

    /**
     * Copies named source tensors into a module's parameters and buffers (dtype converted, no gradient), with the
     * strict / non-strict rules of {@link #loadInto}. Shared by every checkpoint format.
     *
     * @param module destination (borrowed)
     * @param source name -> tensor (borrowed; any dtype)
     * @param file   the file the tensors came from, for messages
     * @param mode   strict or not
     * @param rename file name -> module name, null for identity; mapping to null drops a tensor
     * @return the report
     * @throws WeightLoadException on shape mismatches, or (strict) missing or unexpected tensors
     */
    static LoadReport copyInto(Module module, Map<String, Tensor> source, Path file, Mode mode,
                               java.util.function.UnaryOperator<String> rename) {
        Map<String, Tensor> targets = new TreeMap<>();
        List<String> loaded = new ArrayList<>();
        List<String> unexpected = new ArrayList<>();
        List<String> mismatched = new ArrayList<>();
        try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            collect(module.named_parameters(), targets);
            collect(module.named_buffers(), targets);
            for (Map.Entry<String, Tensor> e : source.entrySet()) {
                String name = rename == null ? e.getKey() : rename.apply(e.getKey());
                if (name == null) {
                    continue;
                }
                Tensor dst = targets.get(name);
                if (dst == null) {
                    unexpected.add(e.getKey());
                    continue;
                }
                long[] want = TensorBridge.shape(dst);
                long[] have = TensorBridge.shape(e.getValue());
                if (!java.util.Arrays.equals(want, have)) {
                    mismatched.add(name + ": file " + java.util.Arrays.toString(have) + " vs module "
                            + java.util.Arrays.toString(want));
                    continue;
                }
                dst.copy_(e.getValue());
                loaded.add(name);
            }
        }
        List<String> missing = new ArrayList<>(targets.keySet());
        missing.removeAll(loaded);
        if (!mismatched.isEmpty()) {
            throw new WeightLoadException(file + ": " + mismatched.size() + " tensor(s) have the wrong shape: " + mismatched);
        }
        if (mode == Mode.STRICT && (!missing.isEmpty() || !unexpected.isEmpty())) {
            throw new WeightLoadException(file + ": strict load failed: missing " + missing + ", unexpected " + unexpected);
        }
        return new LoadReport(List.copyOf(loaded), List.copyOf(missing), List.copyOf(unexpected));
    }

    /**
     * Reads every tensor of a file into new CPU tensors (copied out of the mapping, in the file's dtype).
     *
     * @param file the file
     * @return name -> tensor in file order; the tensors belong to the caller's PointerScope
     * @throws IOException when the file is missing or malformed
     */
    public static Map<String, Tensor> readAll(Path file) throws IOException {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ); Arena arena = Arena.ofConfined()) {
            Header h = parseHeader(file, ch);
            MemorySegment data = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            verifyChecksum(file, h, data);
            for (Entry e : h.entries()) {
                MemorySegment src = data.asSlice(h.dataStart() + e.begin(), e.end() - e.begin());
                try (PointerScope inner = new PointerScope()) {
                    Tensor copy = torch.from_blob(pointerAt(src), e.shape(),
                            new TensorOptions(scalarType(e.dtype(), file, e.name()))).clone();
                    copy.retainReference();
                    out.put(e.name(), copy);
                }
            }
        } catch (NoSuchFileException e) {
            throw new NoSuchFileException(file.toString(), null, "safetensors file not found");
        }
        // hand the retained tensors to the caller's scope, if any
        PointerScope outer = PointerScope.getInnerScope();
        for (Tensor t : out.values()) {
            if (outer != null) {
                outer.attach(t);
                t.releaseReference();
            }
        }
        return out;
    }

    /** A non-owning JavaCPP pointer at a segment's address (the segment's arena keeps the memory alive). */
    private static Pointer pointerAt(MemorySegment s) {
        return new Pointer() {
            {
                address = s.address();
            }
        };
    }

    private static void collect(StringTensorDict d, Map<String, Tensor> out) {
        for (long i = 0; i < d.size(); i++) {
            StringTensorDictItem it = d.get(i);
            out.put(it.key().getString(), it.value());
        }
    }

    /**
     * Writes a module's parameters and buffers (CPU copies, in their own dtype) atomically.
     *
     * @param module   the source (borrowed)
     * @param file     the target path (replaced atomically)
     * @param metadata string metadata for the header's {@code __metadata__} (may be empty)
     * @throws IOException on write failure
     */
    public static void save(Module module, Path file, Map<String, String> metadata) throws IOException {
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            collect(module.named_parameters(), tensors);
            collect(module.named_buffers(), tensors);
            save(tensors, file, metadata);
        }
    }

    /**
     * Writes named tensors atomically (temporary file, fsync, rename).
     *
     * @param tensors  name -> tensor (borrowed; any device; made contiguous CPU for writing)
     * @param file     target path
     * @param metadata header metadata
     * @throws IOException on write failure
     */
    public static void save(Map<String, Tensor> tensors, Path file, Map<String, String> metadata) throws IOException {
        try (PointerScope scope = new PointerScope()) {
            ObjectNode header = JSON.createObjectNode();
            List<Tensor> cpu = new ArrayList<>();
            for (Tensor t : tensors.values()) {
                cpu.add(t.detach().cpu().contiguous());
            }
            MessageDigest md = sha256();
            for (Tensor t : cpu) {
                long bytes = t.nbytes();
                if (bytes > 0) {
                    MemorySegment seg = TensorBridge.borrow(t, "tensor", false);
                    for (long pos = 0; pos < bytes; pos += 1L << 30) {
                        md.update(seg.asSlice(pos, Math.min(1L << 30, bytes - pos)).asByteBuffer());
                    }
                }
            }
            ObjectNode m = header.putObject("__metadata__");
            if (metadata != null) {
                metadata.forEach(m::put);
            }
            m.put(META_DATA_SHA256, HexFormat.of().formatHex(md.digest()));
            long offset = 0;
            int k = 0;
            for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
                Tensor t = cpu.get(k++);
                ObjectNode n = header.putObject(e.getKey());
                n.put("dtype", dtypeName(TensorBridge.dtype(t)));
                var shape = n.putArray("shape");
                for (long d : TensorBridge.shape(t)) {
                    shape.add(d);
                }
                long bytes = t.nbytes();
                n.putArray("data_offsets").add(offset).add(offset + bytes);
                offset += bytes;
            }
            byte[] h = JSON.writeValueAsBytes(header);
            int pad = (8 - h.length % 8) % 8; // data aligned to 8 bytes, padded with spaces as the format allows
            byte[] hp = java.util.Arrays.copyOf(h, h.length + pad);
            java.util.Arrays.fill(hp, h.length, hp.length, (byte) ' ');
            Path dir = file.toAbsolutePath().getParent();
            Files.createDirectories(dir);
            Path tmp = Files.createTempFile(dir, file.getFileName().toString(), ".tmp");
            try {
                try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                    ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(hp.length).flip();
                    writeFully(ch, len);
                    writeFully(ch, ByteBuffer.wrap(hp));
                    for (Tensor t : cpu) {
                        long bytes = t.nbytes();
                        if (bytes == 0) {
                            continue;
                        }
                        MemorySegment seg = TensorBridge.borrow(t, "tensor", false);
                        for (long pos = 0; pos < bytes; pos += 1L << 30) {
                            long chunk = Math.min(1L << 30, bytes - pos);
                            writeFully(ch, seg.asSlice(pos, chunk).asByteBuffer());
                        }
                    }
                    ch.force(true);
                }
                AtomicFiles.replace(tmp, file);
            } finally {
                Files.deleteIfExists(tmp);
            }
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is not available", e);
        }
    }

    /**
     * Checks the data section against the checksum {@link #save} recorded in the metadata, when there is one (files
     * from other writers have none and are read as they are).
     *
     * @throws IOException naming the file when the data bytes do not hash to the recorded SHA-256
     */
    private static void verifyChecksum(Path file, Header h, MemorySegment data) throws IOException {
        String want = h.metadata().get(META_DATA_SHA256);
        if (want == null) {
            return;
        }
        MessageDigest md = sha256();
        long start = h.dataStart();
        long end = data.byteSize();
        for (long pos = start; pos < end; pos += 1L << 30) {
            md.update(data.asSlice(pos, Math.min(1L << 30, end - pos)).asByteBuffer());
        }
        String got = HexFormat.of().formatHex(md.digest());
        if (!got.equalsIgnoreCase(want)) {
            throw new IOException(file + ": corrupted: its tensor data does not match the SHA-256 recorded when it was "
                    + "written (" + META_DATA_SHA256 + " " + want + ", data hashes to " + got + ")");
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    /** @return the float value at a byte offset of a mapped segment (for tests of the raw layout) */
    static float floatAt(MemorySegment s, long offset) {
        return s.get(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), offset);
    }
}
