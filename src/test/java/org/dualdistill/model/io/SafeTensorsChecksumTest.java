package org.dualdistill.model.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.bytedeco.javacpp.PointerScope;
import org.dualdistill.model.x3d.X3d;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link SafeTensors#save} records the SHA-256 of the data section in the metadata, computed here independently from
 * the file's bytes; a flipped data byte then fails on load with a message naming the file, while files without the
 * key (other writers) load as before.
 */
class SafeTensorsChecksumTest {
    @TempDir
    Path dir;

    private static JsonNode header(byte[] file) throws IOException {
        long n = ByteBuffer.wrap(file, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        return new ObjectMapper().readTree(new String(file, 8, (int) n, StandardCharsets.UTF_8));
    }

    @Test
    void savedChecksumMatchesTheDataAndAFlippedByteFailsNamingTheFile() throws Exception {
        Path f = dir.resolve("teacher.safetensors");
        try (X3d a = SafeTensorsTest.tiny(); X3d b = SafeTensorsTest.tiny()) {
            SafeTensors.save(a.module(), f, Map.of("dualdistill.kind", "teacher"));
            byte[] bytes = Files.readAllBytes(f);
            long n = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
            byte[] data = Arrays.copyOfRange(bytes, (int) (8 + n), bytes.length);
            String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
            JsonNode meta = header(bytes).get("__metadata__");
            assertEquals(sha, meta.get(SafeTensors.META_DATA_SHA256).asText());
            assertEquals("teacher", meta.get("dualdistill.kind").asText(), "the caller's metadata is kept");
            SafeTensors.loadInto(b.module(), f, SafeTensors.Mode.STRICT, null); // intact: loads

            bytes[bytes.length - 5] ^= 0x40; // one bit of the last tensor's data
            Files.write(f, bytes);
            IOException e = assertThrows(IOException.class, () -> SafeTensors.loadInto(b.module(), f, SafeTensors.Mode.STRICT, null));
            assertTrue(e.getMessage().startsWith(f + ": corrupted: its tensor data does not match the SHA-256"), e.getMessage());
            assertFalse(e.getMessage().contains("\n"));
            try (PointerScope scope = new PointerScope()) {
                IOException r = assertThrows(IOException.class, () -> SafeTensors.readAll(f));
                assertTrue(r.getMessage().startsWith(f + ": corrupted"), r.getMessage());
            }
            assertEquals(SafeTensors.header(SafeTensorsTest.fixture("x3d_tiny.safetensors")).size(), SafeTensors.header(f).size(),
                    "the header itself still reads");
        }
    }

    @Test
    void aFileWithoutTheKeyIsReadAsBefore() throws Exception {
        Path fixture = SafeTensorsTest.fixture("x3d_tiny.safetensors"); // written by the Python fixture script
        assertFalse(header(Files.readAllBytes(fixture)).path("__metadata__").has(SafeTensors.META_DATA_SHA256));
        try (X3d b = SafeTensorsTest.tiny()) {
            assertTrue(SafeTensors.loadInto(b.module(), fixture, SafeTensors.Mode.STRICT, null).missing().isEmpty());
        }
    }
}
