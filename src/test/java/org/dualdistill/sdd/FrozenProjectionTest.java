package org.dualdistill.sdd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.dualdistill.TestTensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The frozen SDD projections: orthonormal, a pure function of their seed, saved and checked bit for bit. */
class FrozenProjectionTest {

    static double maxGramError(float[] m, int rows, int cols, boolean byRows) {
        int n = byRows ? rows : cols;
        double worst = 0;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double d = 0;
                int len = byRows ? cols : rows;
                for (int k = 0; k < len; k++) {
                    d += byRows ? (double) m[i * cols + k] * m[j * cols + k] : (double) m[k * cols + i] * m[k * cols + j];
                }
                worst = Math.max(worst, Math.abs(d - (i == j ? 1 : 0)));
            }
        }
        return worst;
    }

    @Test
    void rowsAreOrthonormalWhenProjectingDown() {
        try (FrozenProjection p = FrozenProjection.create(768, 192, 7)) {
            assertTrue(maxGramError(p.matrix(), 192, 768, true) < 1e-6, "W W^T = I");
        }
    }

    @Test
    void columnsAreOrthonormalWhenProjectingUp() {
        try (FrozenProjection p = FrozenProjection.create(48, 192, 7)) {
            assertTrue(maxGramError(p.matrix(), 192, 48, false) < 1e-6, "W^T W = I");
        }
    }

    @Test
    void theSeedDefinesTheMatrix() {
        try (FrozenProjection a = FrozenProjection.create(192, 192, 42); FrozenProjection b = FrozenProjection.create(192, 192, 42);
             FrozenProjection c = FrozenProjection.create(192, 192, 43)) {
            assertArrayEquals(a.matrix(), b.matrix());
            assertFalse(java.util.Arrays.equals(a.matrix(), c.matrix()));
        }
    }

    @Test
    void applyIsTheMatrixProductAtEveryPosition() {
        try (FrozenProjection p = FrozenProjection.create(5, 3, 1); PointerScope scope = new PointerScope()) {
            Tensor x = TestTensors.randn(9, 1.0, 2 * 5, 6).view(2, 5, 1, 2, 3);
            float[] xs = TestTensors.toFloats(x);
            float[] y = TestTensors.toFloats(p.apply(x));
            float[] w = p.matrix();
            for (int b = 0; b < 2; b++) {
                for (int o = 0; o < 3; o++) {
                    for (int pos = 0; pos < 6; pos++) {
                        double e = 0;
                        for (int c = 0; c < 5; c++) {
                            e += w[o * 5 + c] * xs[(b * 5 + c) * 6 + pos];
                        }
                        assertEquals(e, y[(b * 3 + o) * 6 + pos], 1e-5);
                    }
                }
            }
        }
    }

    @Test
    void saveLoadRoundTripsAndDetectsDamage(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("vit.proj");
        try (FrozenProjection p = FrozenProjection.create(64, 16, 99)) {
            p.save(f);
            try (FrozenProjection q = FrozenProjection.load(f)) {
                assertArrayEquals(p.matrix(), q.matrix());
                assertEquals(99, q.seed());
            }
        }
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.seek(100);
            raf.writeFloat(0.5f);
        }
        IOException altered = assertThrows(IOException.class, () -> FrozenProjection.load(f));
        assertTrue(altered.getMessage().contains(f.toString()) && altered.getMessage().contains("differ"), altered.getMessage());
        Files.write(f, java.util.Arrays.copyOf(Files.readAllBytes(f), 40));
        IOException truncated = assertThrows(IOException.class, () -> FrozenProjection.load(f));
        assertTrue(truncated.getMessage().contains("truncated"), truncated.getMessage());
        assertThrows(IOException.class, () -> FrozenProjection.load(dir.resolve("missing.proj")));
    }

    @Test
    void badShapesAndUseAfterCloseFailClearly() {
        assertThrows(IllegalArgumentException.class, () -> FrozenProjection.create(0, 4, 1));
        FrozenProjection p = FrozenProjection.create(4, 2, 1);
        try (PointerScope scope = new PointerScope()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> p.apply(TestTensors.randn(1, 1, 3, 8).view(1, 3, 2, 2, 2)));
            assertTrue(e.getMessage().contains("expected [B, 4, T, H, W]"), e.getMessage());
            p.close();
            p.close();
            assertThrows(IllegalStateException.class, () -> p.apply(TestTensors.randn(1, 1, 4, 8).view(1, 4, 2, 2, 2)));
        }
    }
}
