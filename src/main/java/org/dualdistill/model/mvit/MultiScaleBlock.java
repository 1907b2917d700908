package org.dualdistill.model.mvit;

import org.dualdistill.model.NativeOwner;

import java.util.Arrays;

import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.LayerNormImpl;
import org.bytedeco.pytorch.LayerNormOptions;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.LongVector;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.model.Layers;

/**
 * One MViTv2 block (PySlowFast {@code MultiScaleBlock} with DIM_MUL_IN_ATT):
 * <pre>
 *   u    = norm1(x)
 *   a, g = attn(u)                          pooled grid g (q stride)
 *   s    = proj(u) if the width changes, else x
 *   s    = cls ++ MaxPool3d_{k(1,3,3) s(1,2,2) p(0,1,1)}(tokens(s)) when q is strided
 *   x    = s + droppath(a)
 *   x    = x + droppath(mlp.fc2(GELU(mlp.fc1(norm2(x)))))
 * </pre>
 * State_dict names under its node: {@code norm1, attn.*, norm2, mlp.fc1, mlp.fc2, proj}.
 *
 * <p>Lifetime as {@link MultiScaleAttention}: layers retained by the model's {@link NativeOwner}, forward tensors
 * in the caller's {@code PointerScope}.
 */
final class MultiScaleBlock {
    private final MViTConfig.BlockSpec spec;
    private final LayerNormImpl norm1;
    private final MultiScaleAttention attn;
    private final LayerNormImpl norm2;
    private final LinearImpl fc1;
    private final LinearImpl fc2;
    private final LinearImpl proj;

    MultiScaleBlock(Module node, MViTConfig.BlockSpec spec, MViTConfig cfg, NativeOwner own) {
        this.spec = spec;
        norm1 = own.keep(node.register_module("norm1", layerNorm(spec.dimIn())));
        attn = new MultiScaleAttention(own.keep(node.register_module("attn", Layers.container())), spec,
                cfg.poolKernel(), own);
        norm2 = own.keep(node.register_module("norm2", layerNorm(spec.dimOut())));
        long hidden = (long) (spec.dimOut() * cfg.mlpRatio());
        Module mlp = own.keep(node.register_module("mlp", Layers.container()));
        fc1 = own.keep(mlp.register_module("fc1", Layers.linear(spec.dimOut(), hidden)));
        fc2 = own.keep(mlp.register_module("fc2", Layers.linear(hidden, spec.dimOut())));
        proj = spec.changesWidth() ? own.keep(node.register_module("proj", Layers.linear(spec.dimIn(), spec.dimOut()))) : null;
    }

    /** @return LayerNorm(dim) with eps 1e-6 (PySlowFast's norm_layer) */
    static LayerNormImpl layerNorm(long dim) {
        LayerNormOptions o = new LayerNormOptions(new LongVector(new long[] {dim}));
        o.eps().put(MViTConfig.LAYER_NORM_EPS);
        return new LayerNormImpl(o);
    }

    MViTConfig.BlockSpec spec() {
        return spec;
    }

    MultiScaleAttention attention() {
        return attn;
    }

    /** @return every Linear of the block (attention's, MLP's, proj), for initialization */
    LinearImpl[] linears() {
        LinearImpl[] a = attn.linears();
        return proj == null ? new LinearImpl[] {a[0], a[1], fc1, fc2} : new LinearImpl[] {a[0], a[1], fc1, fc2, proj};
    }

    /** @return every LayerNorm of the block */
    LayerNormImpl[] norms() {
        LayerNormImpl[] a = attn.norms();
        LayerNormImpl[] out = new LayerNormImpl[a.length + 2];
        out[0] = norm1;
        out[1] = norm2;
        System.arraycopy(a, 0, out, 2, a.length);
        return out;
    }

    /**
     * @param x        [B, 1 + N, dimIn] tokens, cls first
     * @param thw      grid of x's non-cls tokens
     * @param training whether drop path is active
     * @return [B, 1 + N', dimOut] and its grid
     */
    MultiScaleAttention.Tokens forward(Tensor x, long[] thw, boolean training) {
        Tensor u = norm1.forward(x);
        MultiScaleAttention.Tokens a = attn.forward(u, thw);
        Tensor skip = proj != null ? proj.forward(u) : x;
        if (spec.poolsSkip()) {
            skip = maxPoolSkip(skip, thw, spec.qStride());
        }
        Tensor y = skip.add(dropPath(a.x(), spec.dropPath(), training));
        Tensor m = fc2.forward(torch.gelu(fc1.forward(norm2.forward(y))));
        return new MultiScaleAttention.Tokens(y.add(dropPath(m, spec.dropPath(), training)), a.thw());
    }

    /** The skip path's pooling: kernel stride + 1 where the stride exceeds 1, padding kernel / 2; cls untouched. */
    private static Tensor maxPoolSkip(Tensor x, long[] thw, long[] stride) {
        long b = x.size(0);
        long n = x.size(1) - 1;
        long c = x.size(2);
        long[] kernel = new long[3];
        long[] padding = new long[3];
        for (int d = 0; d < 3; d++) {
            kernel[d] = stride[d] > 1 ? stride[d] + 1 : stride[d];
            padding[d] = kernel[d] / 2;
        }
        Tensor grid = x.narrow(1, 1, n).reshape(b, thw[0], thw[1], thw[2], c).permute(0, 4, 1, 2, 3).contiguous();
        Tensor pooled = torch.max_pool3d(grid, kernel, stride, padding, new long[] {1, 1, 1}, false);
        Tensor tokens = pooled.flatten(2, -1).transpose(1, 2);       // [B, N', C]
        return torch.cat(new TensorVector(x.narrow(1, 0, 1), tokens), 1);
    }

    /**
     * Stochastic depth per sample (Huang et al. 2016), PySlowFast's {@code drop_path}: in training, each sample's
     * branch is zeroed with probability p and the survivors are scaled by 1 / (1 - p).
     */
    static Tensor dropPath(Tensor x, double p, boolean training) {
        if (p == 0.0 || !training) {
            return x;
        }
        double keep = 1.0 - p;
        long[] shape = new long[(int) x.dim()];
        Arrays.fill(shape, 1);
        shape[0] = x.size(0);
        Tensor mask = x.new_empty(shape).uniform_(0.0, 1.0, new GeneratorOptional()).add_(new Scalar(keep)).floor_();
        return x.div(new Scalar(keep)).mul(mask);
    }
}
