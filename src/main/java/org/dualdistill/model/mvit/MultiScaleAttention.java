package org.dualdistill.model.mvit;

import org.dualdistill.model.NativeOwner;

import java.util.Arrays;
import java.util.Objects;

import org.bytedeco.pytorch.Conv3dImpl;
import org.bytedeco.pytorch.LayerNormImpl;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.model.Layers;

/**
 * Pooling attention of MViTv2 (PySlowFast {@code MultiScaleAttention}, conv mode, pooling after the projection,
 * relative positions and residual pooling on):
 * <pre>
 *   q, k, v = split(qkv(x))                                  each [B, heads, 1 + N, C], C = dim_out / heads
 *   q = LN_q(cls ++ Conv3d_q(tokens(q)))  (depthwise k(3,3,3), stride q_stride, padding 1; same for k, v with kv_stride)
 *   A = softmax(q k^T / sqrt(C) + rel_pos_spatial + rel_pos_temporal)
 *   out = proj(merge_heads(A v + [0; q without cls]))         residual pooling adds the pooled query
 * </pre>
 * The cls token bypasses the pooling convolution but goes through the norm. State_dict names under the node it is
 * given: {@code qkv, proj, pool_q, norm_q, pool_k, norm_k, pool_v, norm_v, rel_pos_h, rel_pos_w, rel_pos_t}.
 *
 * <p>Lifetime: its layers are registered on the node and retained by the model's {@link NativeOwner}. Forward
 * tensors live in the caller's {@code PointerScope}. Stateless across calls.
 */
final class MultiScaleAttention {
    /** A token tensor and the (t, h, w) grid of its non-cls tokens. */
    record Tokens(Tensor x, long[] thw) {
    }

    private final MViTConfig.BlockSpec spec;
    private final double scale;
    private final LinearImpl qkv;
    private final LinearImpl proj;
    private final Conv3dImpl poolQ;
    private final LayerNormImpl normQ;
    private final Conv3dImpl poolK;
    private final LayerNormImpl normK;
    private final Conv3dImpl poolV;
    private final LayerNormImpl normV;
    final Tensor relPosH;
    final Tensor relPosW;
    final Tensor relPosT;

    /** Registers the layers on {@code node} in PySlowFast's order; no {@code PointerScope} may be open by design. */
    MultiScaleAttention(Module node, MViTConfig.BlockSpec spec, long[] poolKernel, NativeOwner own) {
        this.spec = spec;
        long c = spec.headDim();
        this.scale = Math.pow(c, -0.5);
        qkv = own.keep(node.register_module("qkv", Layers.linear(spec.dimIn(), 3 * spec.dimOut())));
        proj = own.keep(node.register_module("proj", Layers.linear(spec.dimOut(), spec.dimOut())));
        long[] padding = {poolKernel[0] / 2, poolKernel[1] / 2, poolKernel[2] / 2};
        if (spec.poolQ()) {
            poolQ = own.keep(node.register_module("pool_q", Layers.conv3d(c, c, poolKernel, spec.qStride(), padding, c, false)));
            normQ = own.keep(node.register_module("norm_q", MultiScaleBlock.layerNorm(c)));
        } else {
            poolQ = null;
            normQ = null;
        }
        if (spec.poolKv()) {
            poolK = own.keep(node.register_module("pool_k", Layers.conv3d(c, c, poolKernel, spec.kvStride(), padding, c, false)));
            normK = own.keep(node.register_module("norm_k", MultiScaleBlock.layerNorm(c)));
            poolV = own.keep(node.register_module("pool_v", Layers.conv3d(c, c, poolKernel, spec.kvStride(), padding, c, false)));
            normV = own.keep(node.register_module("norm_v", MultiScaleBlock.layerNorm(c)));
        } else {
            poolK = null;
            normK = null;
            poolV = null;
            normV = null;
        }
        relPosH = MViT.parameter(node, "rel_pos_h", own, spec.relPosSpatialLength(), c);
        relPosW = MViT.parameter(node, "rel_pos_w", own, spec.relPosSpatialLength(), c);
        relPosT = MViT.parameter(node, "rel_pos_t", own, spec.relPosTemporalLength(), c);
    }

    /** @return the Linear layers (qkv, proj), for initialization */
    LinearImpl[] linears() {
        return new LinearImpl[] {qkv, proj};
    }

    /** @return the pooling convolutions that exist */
    Conv3dImpl[] pools() {
        return Arrays.stream(new Conv3dImpl[] {poolQ, poolK, poolV}).filter(Objects::nonNull).toArray(Conv3dImpl[]::new);
    }

    /** @return the pooling norms that exist */
    LayerNormImpl[] norms() {
        return Arrays.stream(new LayerNormImpl[] {normQ, normK, normV}).filter(Objects::nonNull).toArray(LayerNormImpl[]::new);
    }

    /**
     * @param x   [B, 1 + N, dimIn] normalized tokens (cls first), N = t * h * w
     * @param thw the token grid of x
     * @return [B, 1 + N', dimOut] and the pooled query grid
     */
    Tokens forward(Tensor x, long[] thw) {
        long b = x.size(0);
        long n = x.size(1);
        Tensor all = qkv.forward(x).reshape(b, n, 3, spec.heads(), spec.headDim()).permute(2, 0, 3, 1, 4);
        Tokens q = pool(all.select(0, 0), poolQ, normQ, thw);
        Tokens k = pool(all.select(0, 1), poolK, normK, thw);
        Tokens v = pool(all.select(0, 2), poolV, normV, thw);

        Tensor attn = torch.matmul(q.x().mul(new Scalar(scale)), k.x().transpose(-2, -1));
        RelativePosition.addSpatial(attn, q.x(), q.thw(), k.thw(), relPosH, relPosW);
        RelativePosition.addTemporal(attn, q.x(), q.thw(), k.thw(), relPosT);
        attn = attn.softmax(-1);

        Tensor out = torch.matmul(attn, v.x());                      // [B, heads, 1 + Nq, C]
        long nq = out.size(2) - 1;
        out.narrow(2, 1, nq).add_(q.x().narrow(2, 1, nq));          // residual pooling (not on cls)
        out = out.transpose(1, 2).reshape(b, -1, spec.dimOut());
        return new Tokens(proj.forward(out), q.thw());
    }

    /**
     * PySlowFast's {@code attention_pool} for per-head tensors: the non-cls tokens go through the depthwise
     * convolution on their (t, h, w) grid, then the cls token is put back in front and all are normalized.
     *
     * @param t [B, heads, 1 + N, C]
     */
    private static Tokens pool(Tensor t, Conv3dImpl conv, LayerNormImpl norm, long[] thw) {
        if (conv == null) {
            return new Tokens(t, thw);
        }
        long b = t.size(0);
        long heads = t.size(1);
        long n = t.size(2) - 1;
        long c = t.size(3);
        Tensor cls = t.narrow(2, 0, 1);
        Tensor grid = t.narrow(2, 1, n).reshape(b * heads, thw[0], thw[1], thw[2], c).permute(0, 4, 1, 2, 3).contiguous();
        Tensor pooled = conv.forward(grid);                           // [B*heads, C, t', h', w']
        long[] out = {pooled.size(2), pooled.size(3), pooled.size(4)};
        Tensor tokens = pooled.reshape(b, heads, c, out[0] * out[1] * out[2]).transpose(2, 3);
        return new Tokens(norm.forward(torch.cat(new TensorVector(cls, tokens), 2)), out);
    }
}
