package org.dualdistill.model.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dualdistill.internal.torch.TensorBridge;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The restricted torch.save reader against files written by real PyTorch (native/dev/make_checkpoint_fixtures.py,
 * Debian torch 1.13): every dtype, views, shared storages, zip and legacy formats, protocols 2/4/5, big-endian; and
 * its refusals: foreign globals (whose side effect must never happen), truncation, bit flips, pickle bombs, missing
 * entries and tensors that do not fit their storage.
 */
class TorchFileTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    static final Path MARKER = Path.of("/tmp/dualdistill_evil_ran");

    static Path fixture(String name) throws Exception {
        return Path.of(TorchFileTest.class.getResource("/fixtures/checkpoints/" + name).toURI());
    }

    /** @return the tensor's values as doubles, row-major (any dtype; through LibTorch's conversion) */
    static double[] values(Tensor t) {
        try (PointerScope s = new PointerScope()) {
            Tensor d = t.to(ScalarType.Double).contiguous();
            if (d.numel() == 0) {
                return new double[0];
            }
            return TensorBridge.borrow(d, "t", false).toArray(ValueLayout.JAVA_DOUBLE);
        }
    }

    static long[] longValues(Tensor t) {
        try (PointerScope s = new PointerScope()) {
            Tensor d = t.to(ScalarType.Long).contiguous();
            return TensorBridge.borrow(d, "t", false).toArray(ValueLayout.JAVA_LONG);
        }
    }

    static void assertMatchesTorch(Path file, TorchFile.Format format) throws Exception {
        JsonNode want = JSON.readTree(fixture("basic_expected.json").toFile());
        try (TorchFile f = TorchFile.open(file); PointerScope scope = new PointerScope()) {
            assertEquals(format, f.format());
            assertEquals("model_state", f.stateKey());
            assertEquals(java.util.List.of("epoch", "model_state", "optimizer_state", "cfg"), f.topLevelKeys());
            assertEquals(7L, f.scalar("epoch"));
            assertEquals(want.get("cfg").asText(), f.scalar("cfg"));
            JsonNode tensors = want.get("tensors");
            assertEquals(tensors.size(), f.tensors().size());
            for (Iterator<Map.Entry<String, JsonNode>> it = tensors.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String name = e.getKey();
                JsonNode w = e.getValue();
                TorchFile.StoredTensor st = f.tensors().get(name);
                String dt = w.get("dtype").asText();
                assertEquals(switch (dt) {
                    case "float32" -> DType.FLOAT32;
                    case "float16" -> DType.FLOAT16;
                    case "bfloat16" -> DType.BFLOAT16;
                    case "float64" -> DType.FLOAT64;
                    case "int64" -> DType.INT64;
                    case "int32" -> DType.INT32;
                    case "uint8" -> DType.UINT8;
                    case "bool" -> DType.BOOL;
                    default -> throw new AssertionError(dt);
                }, st.dtype(), name);
                assertArrayEquals(longs(w.get("shape")), st.shape(), name + " shape");
                assertArrayEquals(longs(w.get("stride")), st.stride(), name + " stride");
                assertEquals(w.get("offset").asLong(), st.offset(), name + " offset");
                assertEquals(w.get("requires_grad").asBoolean(), st.requiresGrad(), name + " requires_grad");
                Tensor t = f.tensor(name);
                assertArrayEquals(st.shape(), TensorBridge.shape(t), name);
                if (st.dtype() == DType.INT64) {
                    long[] got = longValues(t);
                    for (int i = 0; i < got.length; i++) {
                        assertEquals(Long.parseLong(w.get("values").get(i).asText()), got[i], name + "[" + i + "]");
                    }
                } else {
                    double[] got = values(t);
                    double[] exp = new double[w.get("values").size()];
                    for (int i = 0; i < exp.length; i++) {
                        exp[i] = w.get("values").get(i).asDouble();
                    }
                    assertArrayEquals(exp, got, name); // exact: same bits through the same conversions
                }
            }
            // views share their base's storage; shared_a / shared_b share one storage
            String base = f.tensors().get("base").storageKey();
            assertEquals(base, f.tensors().get("transposed").storageKey());
            assertEquals(base, f.tensors().get("row2").storageKey());
            assertEquals(base, f.tensors().get("strided").storageKey());
            assertEquals(f.tensors().get("shared_a").storageKey(), f.tensors().get("shared_b").storageKey());
            assertNotEquals(base, f.tensors().get("shared_a").storageKey());
            assertFalse(f.tensor("transposed").is_contiguous());
            if (format == TorchFile.Format.ZIP && !file.getFileName().toString().contains("bigendian")) {
                // zero copy: the two views of one storage point into the same memory
                long a = f.tensor("shared_a").data_ptr().address();
                long b = f.tensor("shared_b").data_ptr().address();
                assertEquals(a + 4 * 4, b);
            }
        }
    }

    static long[] longs(JsonNode a) {
        long[] r = new long[a.size()];
        for (int i = 0; i < r.length; i++) {
            r[i] = a.get(i).asLong();
        }
        return r;
    }

    @ParameterizedTest
    @ValueSource(strings = {"basic_zip.pt", "basic_zip_p4.pt", "basic_zip_p5.pt", "basic_bigendian.pt"})
    void zipFilesGiveTorchsValues(String name) throws Exception {
        assertMatchesTorch(fixture(name), TorchFile.Format.ZIP);
    }

    @Test
    void legacyFileGivesTorchsValues() throws Exception {
        assertMatchesTorch(fixture("basic_legacy.pt"), TorchFile.Format.LEGACY);
    }

    @ParameterizedTest
    @ValueSource(strings = {"evil_system.pt", "evil_eval_legacy.pt"})
    void foreignGlobalsAreRefusedByNameAndNeverRun(String name) throws Exception {
        Files.deleteIfExists(MARKER);
        Path f = fixture(name);
        IOException e = assertThrows(IOException.class, () -> TorchFile.open(f));
        String g = name.contains("system") ? "posix.system" : "__builtin__.eval"; // protocol 2 spells builtins so
        assertTrue(e.getMessage().contains(name) && e.getMessage().contains(g) && e.getMessage().contains("not allowed"),
                e.getMessage());
        assertThrows(IOException.class, () -> Weights.open(f));
        assertFalse(Files.exists(MARKER), "the pickle's side effect happened");
    }

    // ---- hand-made pickles -----------------------------------------------------------------------------------------

    /** A tiny pickle writer for hostile inputs. */
    static final class P {
        final ByteArrayOutputStream b = new ByteArrayOutputStream();

        P op(int... ops) {
            for (int o : ops) {
                b.write(o);
            }
            return this;
        }

        P str(String s) {
            byte[] u = s.getBytes(StandardCharsets.UTF_8);
            op(0x8c, u.length);
            b.writeBytes(u);
            return this;
        }

        P global(String module, String name) {
            op('c');
            b.writeBytes((module + "\n" + name + "\n").getBytes(StandardCharsets.UTF_8));
            return this;
        }

        P int1(int v) {
            return op('K', v);
        }

        P int4(int v) {
            return op('J', v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff);
        }

        byte[] bytes() {
            return b.toByteArray();
        }
    }

    /** {'w': tensor over storage '0' of {@code numel} floats, with the given shape and stride} */
    static P tensorDict(int numel, int offset, int[] shape, int[] stride) {
        P p = new P().op(0x80, 2).op('}').str("w");
        p.global("torch._utils", "_rebuild_tensor_v2");
        p.op('(', '(').str("storage").global("torch", "FloatStorage").str("0").str("cpu").int4(numel).op('t', 'Q');
        p.int4(offset).op('(');
        for (int s : shape) {
            p.int4(s);
        }
        p.op('t', '(');
        for (int s : stride) {
            p.int4(s);
        }
        p.op('t').op(0x89).global("collections", "OrderedDict").op(')', 'R').op('t', 'R', 's', '.');
        return p;
    }

    /** Writes a torch.save-like zip: archive/data.pkl, archive/version and the given storages. */
    static Path zip(Path dir, String name, byte[] pkl, Map<String, byte[]> storages) throws IOException {
        Path f = dir.resolve(name);
        try (ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(f))) {
            put(z, "archive/data.pkl", pkl);
            for (Map.Entry<String, byte[]> e : storages.entrySet()) {
                put(z, "archive/data/" + e.getKey(), e.getValue());
            }
            put(z, "archive/version", "3\n".getBytes(StandardCharsets.US_ASCII));
        }
        return f;
    }

    static void put(ZipOutputStream z, String name, byte[] data) throws IOException {
        ZipEntry e = new ZipEntry(name);
        e.setMethod(ZipEntry.STORED);
        e.setSize(data.length);
        CRC32 c = new CRC32();
        c.update(data);
        e.setCrc(c.getValue());
        z.putNextEntry(e);
        z.write(data);
        z.closeEntry();
    }

    static byte[] floats(float... v) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4 * v.length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (float x : v) {
            b.putFloat(x);
        }
        return b.array();
    }

    @Test
    void handMadeZipReadsAndItsStridesAreHonoured(@TempDir Path dir) throws Exception {
        Path f = zip(dir, "ok.pt", tensorDict(6, 1, new int[] {2, 2}, new int[] {1, 2}).bytes(),
                Map.of("0", floats(0, 1, 2, 3, 4, 5)));
        try (TorchFile t = TorchFile.open(f); PointerScope s = new PointerScope()) {
            assertNull(t.stateKey());
            // offset 1, strides (1, 2): [[1, 3], [2, 4]]
            assertArrayEquals(new double[] {1, 3, 2, 4}, values(t.tensor("w")));
        }
    }

    @Test
    void aShapeThatDoesNotFitItsStorageIsRefused(@TempDir Path dir) throws Exception {
        Path f = zip(dir, "big.pt", tensorDict(4, 0, new int[] {10}, new int[] {1}).bytes(), Map.of("0", floats(0, 1, 2, 3)));
        IOException e = assertThrows(IOException.class, () -> TorchFile.open(f));
        assertTrue(e.getMessage().contains("big.pt") && e.getMessage().contains("does not fit its storage"), e.getMessage());
        Path g = zip(dir, "offset.pt", tensorDict(4, 3, new int[] {2}, new int[] {1}).bytes(), Map.of("0", floats(0, 1, 2, 3)));
        assertTrue(assertThrows(IOException.class, () -> TorchFile.open(g)).getMessage().contains("does not fit"));
        Path h = zip(dir, "short.pt", tensorDict(4, 0, new int[] {4}, new int[] {1}).bytes(), Map.of("0", floats(0, 1, 2)));
        assertTrue(assertThrows(IOException.class, () -> TorchFile.open(h)).getMessage().contains("has 12 bytes"));
    }

    @Test
    void aZipWithoutItsDataEntryIsRefused(@TempDir Path dir) throws Exception {
        Path f = zip(dir, "nodata.pt", tensorDict(4, 0, new int[] {4}, new int[] {1}).bytes(), Map.of());
        IOException e = assertThrows(IOException.class, () -> TorchFile.open(f));
        assertTrue(e.getMessage().contains("nodata.pt") && e.getMessage().contains("archive/data/0"), e.getMessage());
        // the same from a real file: basic_zip.pt without one of its storages
        Path g = dir.resolve("missing.pt");
        try (java.util.zip.ZipFile in = new java.util.zip.ZipFile(fixture("basic_zip.pt").toFile());
             ZipOutputStream out = new ZipOutputStream(Files.newOutputStream(g))) {
            for (ZipEntry e2 : java.util.Collections.list(in.entries())) {
                byte[] data = in.getInputStream(e2).readAllBytes();
                if (!e2.getName().endsWith("/data/3")) {
                    put(out, e2.getName(), data);
                }
            }
        }
        assertTrue(assertThrows(IOException.class, () -> TorchFile.open(g)).getMessage().contains("/data/3"));
    }

    @Test
    void foreignGlobalsAnywhereAreRefusedAndNothingRuns(@TempDir Path dir) throws Exception {
        Path marker = dir.resolve("ran");
        String[][] globals = {{"posix", "system"}, {"builtins", "eval"}, {"os", "system"}, {"subprocess", "Popen"},
                {"torch", "load"}, {"builtins", "getattr"}, {"numpy.core.multiarray", "_reconstruct"}};
        for (String[] g : globals) {
            // nested deep inside an otherwise valid checkpoint: {'w': tensor, 'x': [{'y': g('touch marker')}]}
            P p = new P().op(0x80, 2).op('}').str("x").op(']', '}').str("y").global(g[0], g[1])
                    .str("touch " + marker).op(0x85, 'R', 's', 'a', 's', '.');
            Path f = zip(dir, g[1] + ".pt", p.bytes(), Map.of());
            IOException e = assertThrows(IOException.class, () -> TorchFile.open(f));
            assertTrue(e.getMessage().contains("'" + g[0] + "." + g[1] + "'") && e.getMessage().contains(f.toString()),
                    e.getMessage());
            // STACK_GLOBAL spelling of the same
            P q = new P().op(0x80, 4).str(g[0]).str(g[1]).op(0x93).str("touch " + marker).op(0x85, 'R', '.');
            Path f2 = zip(dir, g[1] + "_stack.pt", q.bytes(), Map.of());
            assertTrue(assertThrows(IOException.class, () -> TorchFile.open(f2)).getMessage().contains(g[0] + "." + g[1]));
        }
        // INST / OBJ build objects directly: refused too
        Path fi = zip(dir, "inst.pt", new P().op(0x80, 2).op('(', 'i').bytes(), Map.of());
        assertTrue(assertThrows(IOException.class, () -> TorchFile.open(fi)).getMessage().contains("INST"));
        assertFalse(Files.exists(marker));
    }

    @Test
    void pickleBombsFailCleanly(@TempDir Path dir) throws Exception {
        // deep nesting with a bounded stack: each new list goes into the memo, is appended to its parent, fetched back
        P deep = new P().op(0x80, 2).op(']').op('r', 0, 0, 0, 0);
        for (int i = 1; i < 5000; i++) {
            deep.op(']').op('r', i & 0xff, (i >> 8) & 0xff, 0, 0).op('a', '0').op('j', i & 0xff, (i >> 8) & 0xff, 0, 0);
        }
        deep.op('0').op('j', 0, 0, 0, 0).op('.');
        Path f = zip(dir, "deep.pt", deep.bytes(), Map.of());
        assertTrue(assertThrows(IOException.class, () -> TorchFile.open(f)).getMessage().contains("deeper than"));
        // a self-containing list (cycle): not a hang
        P cycle = new P().op(0x80, 2).op('}').str("a").op(']', 'q', 1, 'h', 1, 'a', 's', '.');
        Path fc = zip(dir, "cycle.pt", cycle.bytes(), Map.of());
        assertTrue(assertThrows(IOException.class, () -> TorchFile.open(fc)).getMessage().contains("no tensors"));
        // a 4 GiB string length in a tiny file
        P huge = new P().op(0x80, 2).op('X', 0xff, 0xff, 0xff, 0xff).op('.');
        Path fh = zip(dir, "huge.pt", huge.bytes(), Map.of());
        assertTrue(assertThrows(IOException.class, () -> TorchFile.open(fh)).getMessage().contains("remain"));
        P huge8 = new P().op(0x80, 4).op(0x8e, 0, 0, 0, 0, 0, 0, 0, 0x7f).op('.');
        Path fh8 = zip(dir, "huge8.pt", huge8.bytes(), Map.of());
        assertTrue(assertThrows(IOException.class, () -> TorchFile.open(fh8)).getMessage().contains("remain"));
        // an integer of 200 bytes
        P bigInt = new P().op(0x80, 2).op(0x8a, 200);
        for (int i = 0; i < 200; i++) {
            bigInt.op(1);
        }
        Path fb = zip(dir, "bigint.pt", bigInt.op('.').bytes(), Map.of());
        assertTrue(assertThrows(IOException.class, () -> TorchFile.open(fb)).getMessage().contains("limit"));
        // a memo index far out, and a GET of one never stored
        P memo = new P().op(0x80, 2).op('}').op('r', 0xff, 0xff, 0xff, 0xff).op('j', 0xfe, 0xff, 0xff, 0xff).op('.');
        Path fm = zip(dir, "memo.pt", memo.bytes(), Map.of());
        assertTrue(assertThrows(IOException.class, () -> TorchFile.open(fm)).getMessage().contains("never stored"));
        // a stack of 200,000 Nones
        P wide = new P().op(0x80, 2);
        for (int i = 0; i < 200_000; i++) {
            wide.op('N');
        }
        Path fw = zip(dir, "wide.pt", wide.op('.').bytes(), Map.of());
        assertTrue(assertThrows(IOException.class, () -> TorchFile.open(fw)).getMessage().contains("stack exceeds"));
        // a shape whose element count overflows
        Path fo = zip(dir, "overflow.pt", tensorDict(4, 0, new int[] {1 << 30, 1 << 30, 1 << 30}, new int[] {1, 1, 1}).bytes(),
                Map.of("0", floats(0, 1, 2, 3)));
        assertThrows(IOException.class, () -> TorchFile.open(fo));
    }

    @Test
    void everyTruncationFailsWithTheFileName(@TempDir Path dir) throws Exception {
        for (String name : new String[] {"basic_zip.pt", "basic_legacy.pt"}) {
            byte[] all = Files.readAllBytes(fixture(name));
            for (int cut = 0; cut < all.length; cut += Math.max(1, all.length / 97)) {
                Path f = dir.resolve("cut_" + cut + "_" + name);
                Files.write(f, java.util.Arrays.copyOf(all, cut));
                IOException e = assertThrows(IOException.class, () -> TorchFile.open(f), name + " cut at " + cut);
                assertTrue(e.getMessage().contains(f.getFileName().toString()), e.getMessage());
                Files.delete(f);
            }
        }
    }

    @Test
    void bitFlipsInZipFilesNeverGiveSilentlyWrongValues(@TempDir Path dir) throws Exception {
        byte[] all = Files.readAllBytes(fixture("basic_zip.pt"));
        Map<String, double[]> good = new java.util.HashMap<>();
        try (TorchFile f = TorchFile.open(fixture("basic_zip.pt")); PointerScope s = new PointerScope()) {
            for (String n : f.tensors().keySet()) {
                good.put(n, values(f.tensor(n)));
            }
        }
        int refused = 0;
        for (int pos = 0; pos < all.length; pos += 7) {
            byte[] bad = all.clone();
            bad[pos] ^= (byte) (1 << (pos % 8));
            Path f = dir.resolve("flip.pt");
            Files.write(f, bad);
            try (TorchFile t = TorchFile.open(f); PointerScope s = new PointerScope()) {
                // a flip outside every checked byte (padding, a comment, a timestamp): the values must be intact
                assertEquals(good.keySet(), t.tensors().keySet(), "flip at " + pos);
                for (String n : t.tensors().keySet()) {
                    assertArrayEquals(good.get(n), values(t.tensor(n)), "flip at " + pos + " changed " + n);
                }
            } catch (IOException e) {
                assertTrue(e.getMessage().contains("flip.pt"), e.getMessage());
                refused++;
            }
        }
        assertTrue(refused > all.length / 7 / 3, "only " + refused + " flips detected");
    }

    @Test
    void notACheckpointIsNamed(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("notes.pth");
        Files.writeString(f, "hello, world");
        IOException e = assertThrows(IOException.class, () -> TorchFile.open(f));
        assertTrue(e.getMessage().contains("notes.pth") && e.getMessage().contains("not a PyTorch checkpoint"), e.getMessage());
        assertThrows(java.nio.file.NoSuchFileException.class, () -> TorchFile.open(dir.resolve("none.pth")));
        // a pickle that is not torch.save's (no magic number)
        Path g = dir.resolve("plain.pkl");
        Files.write(g, new P().op(0x80, 2).op('N', '.').bytes());
        assertTrue(assertThrows(IOException.class, () -> TorchFile.open(g)).getMessage().contains("magic number"));
    }

    @Test
    void tensorsAreViewsThatDieWithTheFile() throws Exception {
        TorchFile f = TorchFile.open(fixture("basic_zip.pt"));
        f.close();
        assertThrows(IllegalStateException.class, () -> f.tensor("f32"));
        f.close(); // idempotent
    }
}
