package org.dualdistill.internal;

/** Small comparisons of float arrays, shared by the self-check and the tests. */
public final class FloatArrays {
    private FloatArrays() {
    }

    /** @return max_i |a[i] - b[i]| in double; @throws IllegalArgumentException when the lengths differ */
    public static double maxAbsDiff(float[] a, float[] b) {
        if (a.length != b.length) {
            throw new IllegalArgumentException("length " + a.length + " != " + b.length);
        }
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs((double) a[i] - b[i]));
        }
        return m;
    }

    /** @return max_i |a[i]| */
    public static double maxAbs(float[] a) {
        double m = 0;
        for (float v : a) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }
}
