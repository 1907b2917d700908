package org.dualdistill.distill;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.internal.torch.TensorBridge;
import org.dualdistill.model.x3d.X3d;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TeacherCacheTest {
    @TempDir
    Path dir;

    @Test
    void splitAndStackRoundTripExactly() {
        try (PointerScope s = new PointerScope()) {
            torch.manual_seed(3);
            TeacherOutputs out = new TeacherOutputs(torch.randn(3, 5), torch.randn(3, 4, 2, 3, 3), torch.randn(3, 6));
            List<TeacherCache.Entry> e = TeacherCache.split(out);
            assertEquals(3, e.size());
            assertArrayEquals(new long[]{4, 2, 3, 3}, e.get(1).featureShape());
            TeacherOutputs back = TeacherCache.stack(e);
            assertArrayEquals(TensorBridge.toFloats(out.logits()), TensorBridge.toFloats(back.logits()));
            assertArrayEquals(TensorBridge.toFloats(out.features()), TensorBridge.toFloats(back.features()));
            assertArrayEquals(TensorBridge.toFloats(out.embedding()), TensorBridge.toFloats(back.embedding()));
            assertArrayEquals(TensorBridge.shape(out.features()), TensorBridge.shape(back.features()));
            TeacherOutputs noFeat = TeacherCache.stack(TeacherCache.split(new TeacherOutputs(out.logits(), null, null)));
            assertNull(noFeat.features());
            assertNull(noFeat.embedding());
        }
    }

    @Test
    void diskEntriesSurviveAndDamageIsAMiss() throws Exception {
        TeacherCache.Entry e = new TeacherCache.Entry(new float[]{1, 2, 3}, new long[]{1, 2}, new float[]{4, 5}, null);
        try (TeacherCache c = TeacherCache.onDisk(dir, 1 << 20)) {
            c.put("k1", e);
            c.put("k2", e);
        }
        try (TeacherCache c = TeacherCache.onDisk(dir, 1 << 20)) { // a later run: memory empty, folder full
            TeacherCache.Entry got = c.get("k1");
            assertArrayEquals(e.logits(), got.logits());
            assertArrayEquals(e.features(), got.features());
            assertArrayEquals(e.featureShape(), got.featureShape());
            assertEquals(1, c.diskHits());
            assertNull(c.get("absent"));
            assertEquals(1, c.misses());
        }
        // damage every entry file: flip one byte in the middle
        List<Path> files;
        try (Stream<Path> w = Files.walk(dir)) {
            files = w.filter(p -> p.toString().endsWith(".bin")).toList();
        }
        assertEquals(2, files.size());
        for (Path f : files) {
            byte[] b = Files.readAllBytes(f);
            b[b.length / 2] ^= 0x40;
            Files.write(f, b);
        }
        try (TeacherCache c = TeacherCache.onDisk(dir, 1 << 20)) {
            assertNull(c.get("k1"));
            assertEquals(1, c.damaged());
            c.put("k1", e); // rewritten
            assertArrayEquals(e.logits(), c.get("k1").logits());
        }
    }

    @Test
    void memoryIsBoundedLeastRecentlyUsedFirst() {
        TeacherCache.Entry e = new TeacherCache.Entry(new float[100], null, null, null); // 464 bytes
        try (TeacherCache c = TeacherCache.inMemory(1000)) {
            c.put("a", e);
            c.put("b", e);
            c.get("a"); // b is now the eldest
            c.put("c", e);
            assertEquals(2, c.size());
            assertTrue(c.memoryBytes() <= 1000);
            assertNull(c.get("b"));
            assertEquals(e, c.get("a"));
        } catch (java.io.IOException ex) {
            throw new AssertionError(ex);
        }
    }

    @Test
    void fingerprintFollowsTheWeights() {
        torch.manual_seed(1);
        try (X3d a = X3d.builder().widthFactor(0.5).depthFactor(0.5).headDimOut(64).numClasses(4).clipLength(4).crop(32).build();
             X3d b = X3d.builder().widthFactor(0.5).depthFactor(0.5).headDimOut(64).numClasses(4).clipLength(4).crop(32).build()) {
            String fa = TeacherCache.fingerprint(a.module());
            assertEquals(fa, TeacherCache.fingerprint(a.module()));
            assertNotEquals(fa, TeacherCache.fingerprint(b.module()), "differently initialized teachers share a fingerprint");
        }
    }
}
