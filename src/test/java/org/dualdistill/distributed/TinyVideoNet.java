package org.dualdistill.distributed;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Conv3dImpl;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.model.Layers;
import org.dualdistill.model.ModelOutput;
import org.dualdistill.model.NativeOwner;
import org.dualdistill.model.VideoModel;

/**
 * A BatchNorm-free video classifier for the data-parallel equivalence tests: Conv3d(3 -> 4, 3x3x3) -> ReLU -> global
 * average pool -> Linear(4 -> classes). Every sample's loss depends only on that sample, so the mean loss over a
 * combined batch of 2B equals the average of the mean losses of its two halves, and the averaged 2-rank gradient equals
 * the single-process gradient exactly (up to float32 summation order).
 */
final class TinyVideoNet implements VideoModel {
    private final NativeOwner owner = new NativeOwner();
    private final Module module;
    private final Conv3dImpl conv;
    private final LinearImpl fc;
    private final long classes;
    private boolean closed;

    TinyVideoNet(long classes) {
        this.classes = classes;
        this.module = owner.keep(Layers.container());
        this.conv = owner.register(module, "conv", Layers.conv3d(3, 4, new long[] {3, 3, 3}, new long[] {1, 1, 1},
                new long[] {1, 1, 1}, 1, true));
        this.fc = owner.register(module, "fc", Layers.linear(4, classes));
    }

    @Override
    public ModelOutput forward(Tensor clip) {
        Tensor f = torch.relu(conv.forward(clip));
        Tensor e = f.mean(new long[] {2, 3, 4});
        return new ModelOutput(fc.forward(e), e, f);
    }

    @Override
    public Module module() {
        if (closed) {
            throw new IllegalStateException("TinyVideoNet is closed");
        }
        return module;
    }

    @Override
    public long numClasses() {
        return classes;
    }

    /** @return every parameter's values, concatenated in registration order */
    float[] weights() {
        try (PointerScope s = new PointerScope()) {
            var ps = module.parameters(true);
            java.util.List<float[]> parts = new java.util.ArrayList<>();
            int n = 0;
            for (long i = 0; i < ps.size(); i++) {
                float[] p = org.dualdistill.internal.torch.TensorBridge.toFloats(ps.get(i));
                parts.add(p);
                n += p.length;
            }
            float[] out = new float[n];
            int o = 0;
            for (float[] p : parts) {
                System.arraycopy(p, 0, out, o, p.length);
                o += p.length;
            }
            return out;
        }
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            owner.releaseAll();
        }
    }
}
