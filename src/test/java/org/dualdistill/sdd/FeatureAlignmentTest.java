package org.dualdistill.sdd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.TestTensors;
import org.dualdistill.internal.torch.TensorBridge;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Teacher maps land on the student grid in D channels; projecting before resampling is exact. */
class FeatureAlignmentTest {

    @Test
    void alignsMvitAndX3dMapsToTheX3dSGrid() {
        try (FeatureAlignment al = FeatureAlignment.create(768, 192, 192, 5); PointerScope scope = new PointerScope()) {
            Tensor vit = TestTensors.randn(1, 1.0, 2 * 768, 8 * 7 * 7).view(2, 768, 8, 7, 7);
            Tensor cnn = TestTensors.randn(2, 1.0, 2 * 192, 16 * 7 * 7).view(2, 192, 16, 7, 7);
            FeatureAlignment.Aligned ab = al.align(vit, cnn, new long[] {13, 5, 5});
            assertArrayEquals(new long[] {2, 192, 13, 5, 5}, TensorBridge.shape(ab.a()));
            assertArrayEquals(new long[] {2, 192, 13, 5, 5}, TensorBridge.shape(ab.b()));
            assertTrue(!ab.a().requires_grad() && !ab.b().requires_grad(), "aligned maps are constants");
        }
    }

    @Test
    void projectingFirstEqualsResamplingFirst() {
        try (FrozenProjection p = FrozenProjection.create(64, 16, 3); PointerScope scope = new PointerScope()) {
            Tensor x = TestTensors.randn(6, 1.0, 2 * 64, 8 * 7 * 7).view(2, 64, 8, 7, 7);
            long[] grid = {13, 5, 5};
            float[] first = TestTensors.toFloats(FeatureAlignment.resample(p.apply(x), grid));
            float[] second = TestTensors.toFloats(p.apply(FeatureAlignment.resample(x, grid)));
            assertTrue(TestTensors.maxAbsDiff(first, second) < 1e-5, "linear maps commute");
        }
    }

    @Test
    void residualIsZeroForEqualMapsAndFiniteForZeros() {
        try (PointerScope scope = new PointerScope()) {
            Tensor a = TestTensors.randn(7, 1.0, 2 * 8, 12).view(2, 8, 1, 3, 4);
            assertTrue(TestTensors.maxAbs(TestTensors.toFloats(FeatureAlignment.residual(a, a.mul(new org.bytedeco.pytorch.Scalar(3.0)), 1e-6))) < 1e-6);
            float[] r = TestTensors.toFloats(FeatureAlignment.residual(torch.zeros(2, 8, 1, 3, 4), a, 1e-6));
            for (float v : r) {
                assertTrue(Float.isFinite(v));
            }
        }
    }

    @Test
    void savedAlignmentReloadsIdentically(@TempDir Path dir) throws IOException {
        try (FeatureAlignment al = FeatureAlignment.create(32, 16, 8, 11)) {
            al.save(dir);
            try (FeatureAlignment back = FeatureAlignment.load(dir)) {
                assertArrayEquals(al.vitProjection().matrix(), back.vitProjection().matrix());
                assertArrayEquals(al.cnnProjection().matrix(), back.cnnProjection().matrix());
            }
        }
    }
}
