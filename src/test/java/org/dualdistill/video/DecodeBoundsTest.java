package org.dualdistill.video;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Decoding never writes outside the caller's tensor. swscale's SIMD paths may write past the end of a row; when it
 * converted straight into the tensor, the last row of the last frame overran the allocation (a 40x40 dataset
 * crashed the JVM with "double free or corruption"). The tensor here is the head of a larger buffer whose tail
 * holds a sentinel that must survive every size.
 */
class DecodeBoundsTest {

    @ParameterizedTest
    @ValueSource(ints = {40, 36, 44, 48, 34, 50, 64})
    void decodeIntoLeavesTheBytesAfterTheTensorAlone(int size, @TempDir Path dir) throws Exception {
        check(TestVideos.temp(dir, 6, 25, size, size), size); // the source's own size (unscaled conversion)
        check(TestVideos.temp(dir, 6, 25, 48, 48), size);     // resized
    }

    private static void check(Path f, int size) throws Exception {
        try (VideoSource src = VideoSource.open(f); PointerScope scope = new PointerScope()) {
            long[] idx = {0, 2, 5};
            long bytes = (long) idx.length * size * size * 3;
            long pad = 512;
            Tensor buffer = torch.full(new long[] {bytes + pad}, new Scalar(0xAB),
                    new TensorOptions(torch.ScalarType.Byte));
            Tensor out = buffer.narrow(0, 0, bytes).view(idx.length, size, size, 3);
            src.decodeInto(idx, out);
            BytePointer p = new BytePointer(buffer.data_ptr()).capacity(bytes + pad);
            for (long i = bytes; i < bytes + pad; i++) {
                assertEquals((byte) 0xAB, p.get(i), "byte " + (i - bytes) + " after the tensor was overwritten at size " + size);
            }
        }
    }
}
