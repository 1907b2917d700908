package org.dualdistill;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

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
        Tensor c = t.detach().to(ScalarType.Float).cpu().contiguous();
        float[] out = new float[(int) c.numel()];
        new FloatPointer(c.data_ptr()).capacity(out.length).get(out);
        return out;
    }

    /** @return float32 normal(0, scale) values [rows, cols] from a seeded generator */
    public static Tensor randn(long seed, double scale, long rows, long cols) {
        torch.manual_seed(seed);
        return torch.randn(rows, cols).mul(new org.bytedeco.pytorch.Scalar(scale));
    }

    /** @return max |a - b| */
    public static double maxAbsDiff(float[] a, float[] b) {
        if (a.length != b.length) {
            throw new AssertionError("length " + a.length + " != " + b.length);
        }
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs((double) a[i] - b[i]));
        }
        return m;
    }

    /** @return max |a| */
    public static double maxAbs(float[] a) {
        double m = 0;
        for (float v : a) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }
}
