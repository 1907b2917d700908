package org.dualdistill.model.mvit;

import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.pytorch.LongArrayRef;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * MViTv2's decomposed relative positional embeddings (Li et al., "MViTv2", CVPR 2022, eq. 4), as PySlowFast's
 * {@code cal_rel_pos_spatial} / {@code cal_rel_pos_temporal} compute them. For a query at (t, h, w) and a key at
 * (t', h', w'), both on their own pooled grids, the attention logit gains
 * <pre>
 *   q(t,h,w) . ( R_h[d_h(h, h')] + R_w[d_w(w, w')] + R_t[d_t(t, t')] )
 * </pre>
 * where, for a query axis of n_q positions and a key axis of n_k positions (the grids may differ after pooling),
 * {@code d(i, j) = trunc(i * max(n_k / n_q, 1) - j * max(n_q / n_k, 1) + (n_k - 1) * max(n_q / n_k, 1))}: both
 * grids are stretched to the finer one before taking the offset, which is shifted to be non-negative. The tables
 * have {@code 2 * max(n_q, n_k) - 1} rows; a table built for another size (the model's geometry assumes integer
 * division where the pooling convolutions round up) is first resized by linear interpolation
 * ({@code F.interpolate(mode="linear", align_corners=False)}). The cls token (row and column 0) gets no term.
 *
 * <p>Stateless; the tensors it makes live in the caller's {@code PointerScope}. The two {@code add*} methods update
 * {@code attn} in place, as PySlowFast's slice assignment does (autograd records it; {@code attn} is never a leaf).
 */
final class RelativePosition {
    private RelativePosition() {
    }

    /**
     * Offsets d(i, j) for i in [0, nq), j in [0, nk), row-major; evaluated in float32 as PyTorch does
     * ({@code arange(n)[:, None] * ratio} is a float32 tensor times a double scalar), then truncated.
     */
    static long[] offsets(long nq, long nk) {
        double qRatio = Math.max((double) nk / nq, 1.0);
        double kRatio = Math.max((double) nq / nk, 1.0);
        float qr = (float) qRatio;
        float kr = (float) kRatio;
        float shift = (float) ((nk - 1) * kRatio);
        long[] out = new long[Math.toIntExact(nq * nk)];
        for (long i = 0; i < nq; i++) {
            for (long j = 0; j < nk; j++) {
                float d = (float) i * qr - (float) j * kr;
                d = d + shift;
                out[(int) (i * nk + j)] = (long) d;
            }
        }
        return out;
    }

    /**
     * PySlowFast's {@code get_rel_pos}: the table itself when it has {@code rows} rows, else its linear
     * interpolation to {@code rows} rows.
     *
     * @param table [L, C]
     * @return [rows, C]
     */
    static Tensor resized(Tensor table, long rows) {
        long length = table.size(0);
        if (length == rows) {
            return table;
        }
        Tensor t = table.reshape(1, length, -1).permute(0, 2, 1);              // [1, C, L]
        Tensor r = torch.upsample_linear1d(t, new LongArrayRef(new LongPointer(new long[] {rows}), 1), false); // [1, C, rows]
        return r.reshape(-1, rows).permute(1, 0);                              // [rows, C]
    }

    /** @return table rows gathered by {@link #offsets}: [nq, nk, C] */
    static Tensor gather(Tensor table, long nq, long nk) {
        long[] idx = offsets(nq, nk);
        Tensor index = Tensor.create(idx, (long) idx.length);
        if (table.is_cuda()) {
            index = index.to(table.device(), ScalarType.Long);
        }
        return table.index_select(0, index).view(nq, nk, table.size(1));
    }

    /**
     * Adds the spatial terms ({@code cal_rel_pos_spatial}).
     *
     * @param attn    [B, heads, 1 + Nq, 1 + Nk] logits (updated in place)
     * @param q       [B, heads, 1 + Nq, C] pooled, normalized queries (unscaled)
     * @param qShape  query grid (t, h, w)
     * @param kShape  key grid (t, h, w)
     * @param relPosH rel_pos_h [L, C]
     * @param relPosW rel_pos_w [L, C]
     */
    static void addSpatial(Tensor attn, Tensor q, long[] qShape, long[] kShape, Tensor relPosH, Tensor relPosW) {
        long qt = qShape[0], qh = qShape[1], qw = qShape[2];
        long kt = kShape[0], kh = kShape[1], kw = kShape[2];
        Tensor rh = gather(resized(relPosH, 2 * Math.max(qh, kh) - 1), qh, kh); // [qh, kh, C]
        Tensor rw = gather(resized(relPosW, 2 * Math.max(qw, kw) - 1), qw, kw); // [qw, kw, C]
        long b = q.size(0);
        long heads = q.size(1);
        long c = q.size(3);
        long nq = qt * qh * qw;
        long nk = kt * kh * kw;
        Tensor rq = q.narrow(2, 1, nq).reshape(b, heads, qt, qh, qw, c);
        Tensor relH = torch.einsum("bythwc,hkc->bythwk", new TensorVector(rq, rh)); // [B, heads, qt, qh, qw, kh]
        Tensor relW = torch.einsum("bythwc,wkc->bythwk", new TensorVector(rq, rw)); // [B, heads, qt, qh, qw, kw]
        Tensor sub = attn.narrow(2, 1, nq).narrow(3, 1, nk);
        Tensor updated = sub.view(b, heads, qt, qh, qw, kt, kh, kw)
                .add(relH.unsqueeze(5).unsqueeze(7))   // [.., 1, kh, 1]
                .add(relW.unsqueeze(5).unsqueeze(5));  // [.., 1, 1, kw]
        sub.copy_(updated.reshape(b, heads, nq, nk));
    }

    /**
     * Adds the temporal term ({@code cal_rel_pos_temporal}).
     *
     * @param attn    [B, heads, 1 + Nq, 1 + Nk] logits (updated in place)
     * @param q       [B, heads, 1 + Nq, C] pooled, normalized queries (unscaled)
     * @param qShape  query grid (t, h, w)
     * @param kShape  key grid (t, h, w)
     * @param relPosT rel_pos_t [L, C]
     */
    static void addTemporal(Tensor attn, Tensor q, long[] qShape, long[] kShape, Tensor relPosT) {
        long qt = qShape[0], qh = qShape[1], qw = qShape[2];
        long kt = kShape[0], kh = kShape[1], kw = kShape[2];
        Tensor rt = gather(resized(relPosT, 2 * Math.max(qt, kt) - 1), qt, kt); // [qt, kt, C]
        long b = q.size(0);
        long heads = q.size(1);
        long c = q.size(3);
        long nq = qt * qh * qw;
        long nk = kt * kh * kw;
        // one batched matmul over query frames: [qt, B*heads*qh*qw, C] x [qt, C, kt]
        Tensor rq = q.narrow(2, 1, nq).reshape(b, heads, qt, qh, qw, c).permute(2, 0, 1, 3, 4, 5)
                .reshape(qt, b * heads * qh * qw, c);
        Tensor rel = torch.matmul(rq, rt.transpose(1, 2)).transpose(0, 1)      // [B*heads*qh*qw, qt, kt]
                .reshape(b, heads, qh, qw, qt, kt).permute(0, 1, 4, 2, 3, 5);  // [B, heads, qt, qh, qw, kt]
        Tensor sub = attn.narrow(2, 1, nq).narrow(3, 1, nk);
        Tensor updated = sub.view(b, heads, qt, qh, qw, kt, kh, kw).add(rel.unsqueeze(6).unsqueeze(7));
        sub.copy_(updated.reshape(b, heads, nq, nk));
    }
}
