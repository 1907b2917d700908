package org.dualdistill.model;

import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.pytorch.BatchNorm3dImpl;
import org.bytedeco.pytorch.BatchNormOptions;
import org.bytedeco.pytorch.Conv3dImpl;
import org.bytedeco.pytorch.Conv3dOptions;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.LinearOptions;
import org.bytedeco.pytorch.Module;

/**
 * Factories for the LibTorch layers the model families use, with the options spelled out once.
 *
 * <p>Never call these inside a {@code PointerScope} whose end the module must outlive: a wrapper created in a
 * scope is freed with it, and its parent module then crashes on first use (see StructureDiscrepancyBranch).
 */
public final class Layers {
    private Layers() {
    }

    /**
     * @return a Conv3d with explicit kernel (t, h, w), stride, padding, groups and bias
     */
    public static Conv3dImpl conv3d(long in, long out, long[] kernel, long[] stride, long[] padding, long groups, boolean bias) {
        Conv3dOptions o = new Conv3dOptions(in, out, new LongPointer(kernel));
        o.stride().put(stride);
        o.padding().put(new LongPointer(padding));
        o.groups().put(groups);
        o.bias().put(bias);
        return new Conv3dImpl(o);
    }

    /** @return a 1x1x1 Conv3d */
    public static Conv3dImpl pointwise(long in, long out, boolean bias) {
        return conv3d(in, out, new long[] {1, 1, 1}, new long[] {1, 1, 1}, new long[] {0, 0, 0}, 1, bias);
    }

    /** @return BatchNorm3d(channels) with eps 1e-5 and momentum 0.1 (PyTorch's defaults) */
    public static BatchNorm3dImpl batchNorm3d(long channels) {
        BatchNormOptions o = new BatchNormOptions(channels);
        o.eps().put(1e-5);
        o.momentum().put(new org.bytedeco.pytorch.DoubleOptional(0.1));
        return new BatchNorm3dImpl(o);
    }

    /** @return Linear(in, out) with bias */
    public static LinearImpl linear(long in, long out) {
        return new LinearImpl(new LinearOptions(in, out));
    }

    /** @return an empty container module, for the numbered levels of a state_dict ("blocks.0...") */
    public static Module container() {
        return new Module();
    }
}
