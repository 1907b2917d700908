package org.dualdistill;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.internal.FloatArrays;
import org.dualdistill.internal.torch.TensorBridge;

/** Small tensor helpers for tests: copy between Java arrays and CPU tensors, compare. */
public final class TestTensors {
    private TestTensors() {
    }

    /** @return a new float32 CPU tensor with a copy of {@code data} (caller's scope owns it) */
    public static Tensor floats(float[] data, long... shape) {
        return Tensor.create(data, shape).clone();
    }

    /** @return a new int64 CPU tensor */
    public static Tensor longs(long[] data, long... shape) {
        return Tensor.create(data, shape).clone();
    }

    /** @return the tensor's values as float (any dtype/device) */
    public static float[] toFloats(Tensor t) {
        return TensorBridge.toFloats(t);
    }

    /** @return float32 normal(0, scale) values [rows, cols] from a seeded generator */
    public static Tensor randn(long seed, double scale, long rows, long cols) {
        torch.manual_seed(seed);
        return torch.randn(rows, cols).mul(new org.bytedeco.pytorch.Scalar(scale));
    }

    /** @return max |a - b| */
    public static double maxAbsDiff(float[] a, float[] b) {
        return FloatArrays.maxAbsDiff(a, b);
    }

    /** @return max |a| */
    public static double maxAbs(float[] a) {
        return FloatArrays.maxAbs(a);
    }
}
