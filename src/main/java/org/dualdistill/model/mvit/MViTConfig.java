package org.dualdistill.model.mvit;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The architecture of an {@link MViT}: PySlowFast's {@code MVIT.*} keys for the MViTv2 family, reduced to what
 * MViTv2-S uses. Immutable and thread-safe; {@link #blocks()} derives every block's widths, strides, token grid and
 * relative-position table lengths exactly as PySlowFast's {@code MViT.__init__} does, so the module tree, the
 * analytic {@link #parameterCount()} and the forward pass all read one source.
 *
 * <p>The defaults ({@link #mvitV2S(long)}) are {@code configs/Kinetics/MVITv2_S_16x4.yaml}:
 * <pre>
 *   input 16x224x224 | patch Conv3d 3->96 k(3,7,7) s(2,4,4) p(1,3,3) -> 8x56x56 tokens + cls
 *   depth 16 | at blocks 1, 3, 14 (DIM_MUL = HEAD_MUL = POOL_Q_STRIDE stage starts): width x2, heads x2,
 *              q stride (1,2,2) | width 96/192/384/768, heads 1/2/4/8 (head dim 96)
 *   kv stride adaptive from (1,8,8): divided by each q stride -> (1,8,8), (1,4,4) x2, (1,2,2) x11, (1,1,1) x2
 *   pooling kernel (3,3,3) for q, k and v in every block | MLP ratio 4 | drop path 0.2 (linear in depth)
 *   head dropout 0.5 | rel_pos_h/w lengths 111, 55, 55, 27 x12, 13 | rel_pos_t 15
 * </pre>
 * Stage starts share one list here (PySlowFast allows DIM_MUL, HEAD_MUL and POOL_Q_STRIDE to differ; no
 * published MViTv2 config does), and the multipliers are 2.0.
 *
 * @param numClasses        head classes
 * @param inChannels        input channels (3)
 * @param numFrames         clip length T the model accepts (16)
 * @param cropSize          spatial size H = W the model accepts (224)
 * @param embedDim          width of the patch embedding (96)
 * @param depth             number of blocks (16)
 * @param numHeads          heads of block 0 (1)
 * @param stageStarts       blocks where width and heads double and q is pooled with {@code qStride} (1, 3, 14)
 * @param mlpRatio          MLP hidden width / block width (4.0)
 * @param dropPathRate      stochastic depth of the last block; block i gets {@code rate * i / (depth - 1)} (0.2)
 * @param headDropout       dropout before the head projection (0.5)
 * @param patchKernel       patch embedding kernel (t, h, w) (3, 7, 7)
 * @param patchStride       patch embedding stride (2, 4, 4)
 * @param patchPadding      patch embedding padding (1, 3, 3)
 * @param poolKernel        kernel of the q/k/v pooling convolutions (3, 3, 3)
 * @param qStride           q stride at a stage start (1, 2, 2)
 * @param kvStrideAdaptive  kv stride of block 0, divided by every q stride after it (1, 8, 8)
 */
public record MViTConfig(long numClasses, long inChannels, long numFrames, long cropSize, long embedDim, int depth,
                         long numHeads, int[] stageStarts, double mlpRatio, double dropPathRate, double headDropout,
                         long[] patchKernel, long[] patchStride, long[] patchPadding, long[] poolKernel,
                         long[] qStride, long[] kvStrideAdaptive) {

    /** LayerNorm epsilon of every norm ({@code partial(nn.LayerNorm, eps=1e-6)}). */
    public static final double LAYER_NORM_EPS = 1e-6;

    /**
     * The geometry of one block, as PySlowFast computes it when it builds the block.
     *
     * @param index      block index
     * @param dimIn      input width
     * @param dimOut     output width (attention, MLP and residual width; {@code proj} maps dimIn to it)
     * @param heads      attention heads
     * @param headDim    dimOut / heads
     * @param qStride    q pooling stride (t, h, w)
     * @param kvStride   k and v pooling stride (t, h, w)
     * @param poolQ      whether q is pooled (PySlowFast skips pooling when kernel and stride are all 1)
     * @param poolKv     whether k and v are pooled
     * @param inputSize  the token grid (t, h, w) PySlowFast assumes at the block's input (integer division by strides)
     * @param relPosSpatialLength rows of rel_pos_h and rel_pos_w: 2 * max(h / qStride_h, h / kvStride_h) - 1
     * @param relPosTemporalLength rows of rel_pos_t: 2 * t - 1
     * @param dropPath   stochastic depth probability in training mode
     */
    public record BlockSpec(int index, long dimIn, long dimOut, long heads, long headDim, long[] qStride,
                            long[] kvStride, boolean poolQ, boolean poolKv, long[] inputSize,
                            long relPosSpatialLength, long relPosTemporalLength, double dropPath) {
        /** Copies the arrays. */
        public BlockSpec {
            qStride = qStride.clone();
            kvStride = kvStride.clone();
            inputSize = inputSize.clone();
        }

        @Override
        public long[] qStride() {
            return qStride.clone();
        }

        @Override
        public long[] kvStride() {
            return kvStride.clone();
        }

        @Override
        public long[] inputSize() {
            return inputSize.clone();
        }

        /** @return whether the block pools the skip path (MaxPool3d k(1,3,3) s(1,2,2) for q stride (1,2,2)) */
        public boolean poolsSkip() {
            return qStride[0] * qStride[1] * qStride[2] > 1;
        }

        /** @return whether the block changes the width (then it has {@code proj} on norm1(x)) */
        public boolean changesWidth() {
            return dimIn != dimOut;
        }

        @Override
        public String toString() {
            return "Block" + index + "[" + dimIn + "->" + dimOut + ", heads " + heads + ", q " + Arrays.toString(qStride)
                    + ", kv " + Arrays.toString(kvStride) + ", grid " + Arrays.toString(inputSize) + ", rel "
                    + relPosSpatialLength + "/" + relPosTemporalLength + ", droppath " + dropPath + "]";
        }
    }

    /** Validates and copies the arrays. */
    public MViTConfig {
        stageStarts = stageStarts.clone();
        patchKernel = triple(patchKernel, "patchKernel");
        patchStride = triple(patchStride, "patchStride");
        patchPadding = triple(patchPadding, "patchPadding");
        poolKernel = triple(poolKernel, "poolKernel");
        qStride = triple(qStride, "qStride");
        kvStrideAdaptive = triple(kvStrideAdaptive, "kvStrideAdaptive");
        if (numClasses < 1 || inChannels < 1 || numFrames < 1 || cropSize < 1 || embedDim < 1 || depth < 1
                || numHeads < 1 || mlpRatio <= 0 || dropPathRate < 0 || dropPathRate >= 1 || headDropout < 0
                || headDropout >= 1) {
            throw new IllegalArgumentException("MViT config out of range: numClasses " + numClasses + ", inChannels "
                    + inChannels + ", input " + numFrames + "x" + cropSize + "x" + cropSize + ", embedDim " + embedDim
                    + ", depth " + depth + ", numHeads " + numHeads + ", mlpRatio " + mlpRatio + ", dropPathRate "
                    + dropPathRate + ", headDropout " + headDropout);
        }
        for (int i = 0; i < stageStarts.length; i++) {
            if (stageStarts[i] < 1 || stageStarts[i] >= depth || (i > 0 && stageStarts[i] <= stageStarts[i - 1])) {
                throw new IllegalArgumentException("stageStarts: expected increasing block indices in [1, " + (depth - 1)
                        + "], got " + Arrays.toString(stageStarts));
            }
        }
        for (int d = 0; d < 3; d++) {
            if (patchKernel[d] < 1 || patchStride[d] < 1 || patchPadding[d] < 0 || poolKernel[d] < 1 || qStride[d] < 1
                    || kvStrideAdaptive[d] < 1) {
                throw new IllegalArgumentException("MViT config: kernels and strides must be >= 1 and paddings >= 0");
            }
        }
        // PySlowFast asserts that the patch embedding's output grid is input // stride; a clip whose conv output
        // differs would break its (and our) geometry bookkeeping.
        long[] in = {numFrames, cropSize, cropSize};
        for (int d = 0; d < 3; d++) {
            long conv = (in[d] + 2 * patchPadding[d] - patchKernel[d]) / patchStride[d] + 1;
            if (in[d] + 2 * patchPadding[d] < patchKernel[d] || conv != in[d] / patchStride[d]) {
                throw new IllegalArgumentException("MViT config: input " + numFrames + "x" + cropSize + "x" + cropSize
                        + " does not fit the patch embedding (kernel " + Arrays.toString(patchKernel) + ", stride "
                        + Arrays.toString(patchStride) + ", padding " + Arrays.toString(patchPadding)
                        + "): the convolution gives " + conv + " positions on axis " + d + " where PySlowFast expects "
                        + in[d] / patchStride[d]);
            }
        }
    }

    private static long[] triple(long[] a, String name) {
        if (a == null || a.length != 3) {
            throw new IllegalArgumentException(name + ": expected (t, h, w), got " + Arrays.toString(a));
        }
        return a.clone();
    }

    /**
     * MViTv2-S 16x4 as PySlowFast's {@code MVITv2_S_16x4.yaml}: 34,537,744 parameters at 400 classes, 34,269,363
     * at 51.
     *
     * @param numClasses head classes
     * @return the reference configuration
     */
    public static MViTConfig mvitV2S(long numClasses) {
        return builder().numClasses(numClasses).build();
    }

    /** @return a builder starting from MViTv2-S at 400 classes */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    public int[] stageStarts() {
        return stageStarts.clone();
    }

    @Override
    public long[] patchKernel() {
        return patchKernel.clone();
    }

    @Override
    public long[] patchStride() {
        return patchStride.clone();
    }

    @Override
    public long[] patchPadding() {
        return patchPadding.clone();
    }

    @Override
    public long[] poolKernel() {
        return poolKernel.clone();
    }

    @Override
    public long[] qStride() {
        return qStride.clone();
    }

    @Override
    public long[] kvStrideAdaptive() {
        return kvStrideAdaptive.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof MViTConfig c && numClasses == c.numClasses && inChannels == c.inChannels
                && numFrames == c.numFrames && cropSize == c.cropSize && embedDim == c.embedDim && depth == c.depth
                && numHeads == c.numHeads && Arrays.equals(stageStarts, c.stageStarts)
                && Double.compare(mlpRatio, c.mlpRatio) == 0 && Double.compare(dropPathRate, c.dropPathRate) == 0
                && Double.compare(headDropout, c.headDropout) == 0 && Arrays.equals(patchKernel, c.patchKernel)
                && Arrays.equals(patchStride, c.patchStride) && Arrays.equals(patchPadding, c.patchPadding)
                && Arrays.equals(poolKernel, c.poolKernel) && Arrays.equals(qStride, c.qStride)
                && Arrays.equals(kvStrideAdaptive, c.kvStrideAdaptive);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(new long[] {numClasses, inChannels, numFrames, cropSize, embedDim, depth, numHeads,
                Arrays.hashCode(stageStarts), Double.hashCode(mlpRatio), Double.hashCode(dropPathRate),
                Double.hashCode(headDropout), Arrays.hashCode(patchKernel), Arrays.hashCode(patchStride),
                Arrays.hashCode(patchPadding), Arrays.hashCode(poolKernel), Arrays.hashCode(qStride),
                Arrays.hashCode(kvStrideAdaptive)});
    }

    @Override
    public String toString() {
        return "MViTConfig[numClasses=" + numClasses + ", input=" + inChannels + "x" + numFrames + "x" + cropSize + "x"
                + cropSize + ", embedDim=" + embedDim + ", depth=" + depth + ", numHeads=" + numHeads + ", stageStarts="
                + Arrays.toString(stageStarts) + ", mlpRatio=" + mlpRatio + ", dropPathRate=" + dropPathRate
                + ", headDropout=" + headDropout + ", patch k" + Arrays.toString(patchKernel) + " s"
                + Arrays.toString(patchStride) + " p" + Arrays.toString(patchPadding) + ", poolKernel="
                + Arrays.toString(poolKernel) + ", qStride=" + Arrays.toString(qStride) + ", kvStrideAdaptive="
                + Arrays.toString(kvStrideAdaptive) + "]";
    }

    /** @return the token grid (t, h, w) after the patch embedding, without the cls token */
    public long[] patchGrid() {
        return new long[] {numFrames / patchStride[0], cropSize / patchStride[1], cropSize / patchStride[2]};
    }

    /**
     * PySlowFast's {@code round_width} with {@code min_width} 1: {@code width * multiplier} rounded to a multiple of
     * {@code divisor}, bumped by one divisor when rounding lost more than 10%.
     */
    static long roundWidth(double width, double multiplier, long divisor) {
        double w = width * multiplier;
        long out = Math.max(1, ((long) (w + divisor / 2.0)) / divisor * divisor);
        if (out < 0.9 * w) {
            out += divisor;
        }
        return out;
    }

    /**
     * The blocks' geometry, derived as in PySlowFast's {@code MViT.__init__} with DIM_MUL_IN_ATT (the width changes
     * inside the attention of the stage's first block). Note PySlowFast's quirk, kept here: the width's rounding
     * divisor applies the head multiplier twice ({@code round_width(num_heads, head_mul[i])} of the already
     * multiplied head count).
     *
     * @return one spec per block
     */
    public List<BlockSpec> blocks() {
        List<BlockSpec> out = new ArrayList<>(depth);
        long[] grid = patchGrid();
        long heads = numHeads;
        long dim = embedDim;
        long[] kv = kvStrideAdaptive.clone();
        boolean poolKernelTrivial = poolKernel[0] * poolKernel[1] * poolKernel[2] == 1;
        for (int i = 0; i < depth; i++) {
            boolean start = isStageStart(i);
            double mul = start ? 2.0 : 1.0;
            heads = roundWidth(heads, mul, 1);
            long dimOut = roundWidth(dim, mul, roundWidth(heads, mul, 1));
            long[] q = start ? qStride.clone() : new long[] {1, 1, 1};
            for (int d = 0; d < 3; d++) {
                kv[d] = Math.max(kv[d] / q[d], 1);
            }
            long headDim = dimOut / heads;
            boolean poolQ = !(poolKernelTrivial && q[0] * q[1] * q[2] == 1);
            boolean poolKv = !(poolKernelTrivial && kv[0] * kv[1] * kv[2] == 1);
            long qSize = grid[1] / q[1];
            long kvSize = grid[1] / kv[1];
            long relSp = 2 * Math.max(qSize, kvSize) - 1;
            long relT = 2 * grid[0] - 1;
            double dp = depth == 1 ? 0.0 : dropPathRate * i / (depth - 1);
            out.add(new BlockSpec(i, dim, dimOut, heads, headDim, q, kv.clone(), poolQ, poolKv, grid.clone(), relSp,
                    relT, dp));
            for (int d = 0; d < 3; d++) {
                grid[d] = grid[d] / q[d];
            }
            dim = dimOut;
        }
        return List.copyOf(out);
    }

    private boolean isStageStart(int i) {
        for (int s : stageStarts) {
            if (s == i) {
                return true;
            }
        }
        return false;
    }

    /** @return the width of the last block (the embedding and feature-map channels; 768 for MViTv2-S) */
    public long finalDim() {
        List<BlockSpec> b = blocks();
        return b.get(b.size() - 1).dimOut();
    }

    /**
     * Multiply-accumulates of one clip in billions, counted as fvcore/PySlowFast count them: the patch-embedding
     * convolution, every Linear (qkv, attention output, skip projection, MLP, head), the depthwise pooling
     * convolutions, the two attention matmuls and the decomposed relative-position einsums. MViTv2-S 16x224: ~64.
     *
     * @return GMACs
     */
    public double gmacs() {
        long[] grid = patchGrid();
        long tokens = grid[0] * grid[1] * grid[2];
        long k = patchKernel[0] * patchKernel[1] * patchKernel[2];
        long pk = poolKernel[0] * poolKernel[1] * poolKernel[2];
        double macs = (double) tokens * embedDim * inChannels * k;
        for (BlockSpec b : blocks()) {
            long[] in = b.inputSize();
            long nIn = in[0] * in[1] * in[2] + 1;
            long[] q = b.qStride();
            long[] kv = b.kvStride();
            long qt = (in[0] - 1) / q[0] + 1, qh = (in[1] - 1) / q[1] + 1, qw = (in[2] - 1) / q[2] + 1;
            long kt = (in[0] - 1) / kv[0] + 1, kh = (in[1] - 1) / kv[1] + 1, kw = (in[2] - 1) / kv[2] + 1;
            long nQ = qt * qh * qw + 1;
            long nKv = kt * kh * kw + 1;
            long d = b.dimOut();
            macs += (double) nIn * b.dimIn() * 3 * d;                      // qkv
            if (b.poolQ()) {
                macs += (double) (nQ - 1) * d * pk;                        // depthwise pool_q
            }
            if (b.poolKv()) {
                macs += 2.0 * (nKv - 1) * d * pk;                          // pool_k, pool_v
            }
            macs += 2.0 * b.heads() * nQ * nKv * b.headDim();              // q k^T and attn v
            macs += (double) b.heads() * (nQ - 1) * b.headDim() * (kt + kh + kw); // rel-pos einsums
            macs += (double) nQ * d * d;                                   // attn.proj
            if (b.changesWidth()) {
                macs += (double) nIn * b.dimIn() * d;                      // skip proj
            }
            macs += 2.0 * nQ * d * (long) (d * mlpRatio);                  // mlp fc1, fc2
        }
        macs += (double) finalDim() * numClasses;                          // head
        return macs / 1e9;
    }

    /**
     * The parameter count the module tree will have, computed without allocating it.
     *
     * @return number of parameters (34,537,744 for MViTv2-S at 400 classes)
     */
    public long parameterCount() {
        long k = patchKernel[0] * patchKernel[1] * patchKernel[2];
        long pk = poolKernel[0] * poolKernel[1] * poolKernel[2];
        long n = inChannels * embedDim * k + embedDim; // patch_embed.proj
        n += embedDim;                                  // cls_token
        for (BlockSpec b : blocks()) {
            long hidden = (long) (b.dimOut() * mlpRatio);
            n += 2 * b.dimIn();                                           // norm1
            n += b.dimIn() * 3 * b.dimOut() + 3 * b.dimOut();             // attn.qkv
            n += b.dimOut() * b.dimOut() + b.dimOut();                    // attn.proj
            int pools = (b.poolQ() ? 1 : 0) + (b.poolKv() ? 2 : 0);
            n += pools * (b.headDim() * pk + 2 * b.headDim());            // attn.pool_* + attn.norm_*
            n += (2 * b.relPosSpatialLength() + b.relPosTemporalLength()) * b.headDim(); // attn.rel_pos_{h,w,t}
            n += 2 * b.dimOut();                                          // norm2
            n += b.dimOut() * hidden + hidden + hidden * b.dimOut() + b.dimOut(); // mlp.fc1, mlp.fc2
            if (b.changesWidth()) {
                n += b.dimIn() * b.dimOut() + b.dimOut();                 // proj
            }
        }
        long last = finalDim();
        n += 2 * last;                    // norm
        n += last * numClasses + numClasses; // head.projection
        return n;
    }

    /** Builder; starts from MViTv2-S at 400 classes. Not thread-safe. */
    public static final class Builder {
        private long numClasses = 400;
        private long inChannels = 3;
        private long numFrames = 16;
        private long cropSize = 224;
        private long embedDim = 96;
        private int depth = 16;
        private long numHeads = 1;
        private int[] stageStarts = {1, 3, 14};
        private double mlpRatio = 4.0;
        private double dropPathRate = 0.2;
        private double headDropout = 0.5;
        private long[] patchKernel = {3, 7, 7};
        private long[] patchStride = {2, 4, 4};
        private long[] patchPadding = {1, 3, 3};
        private long[] poolKernel = {3, 3, 3};
        private long[] qStride = {1, 2, 2};
        private long[] kvStrideAdaptive = {1, 8, 8};

        private Builder() {
        }

        /** @param n head classes; @return this */
        public Builder numClasses(long n) { numClasses = n; return this; }
        /** @param c input channels (3); @return this */
        public Builder inChannels(long c) { inChannels = c; return this; }
        /** @param t clip length the model accepts (16); @return this */
        public Builder numFrames(long t) { numFrames = t; return this; }
        /** @param s crop size the model accepts (224); @return this */
        public Builder cropSize(long s) { cropSize = s; return this; }
        /** @param d patch embedding width (96); @return this */
        public Builder embedDim(long d) { embedDim = d; return this; }
        /** @param d number of blocks (16); @return this */
        public Builder depth(int d) { depth = d; return this; }
        /** @param h heads of block 0 (1); @return this */
        public Builder numHeads(long h) { numHeads = h; return this; }
        /** @param blocks stage starts (1, 3, 14); @return this */
        public Builder stageStarts(int... blocks) { stageStarts = blocks.clone(); return this; }
        /** @param r MLP ratio (4.0); @return this */
        public Builder mlpRatio(double r) { mlpRatio = r; return this; }
        /** @param r drop path rate of the last block (0.2); @return this */
        public Builder dropPathRate(double r) { dropPathRate = r; return this; }
        /** @param p head dropout (0.5); @return this */
        public Builder headDropout(double p) { headDropout = p; return this; }
        /** Patch embedding kernel (t, h, w), (3, 7, 7). @return this */
        public Builder patchKernel(long t, long h, long w) { patchKernel = new long[] {t, h, w}; return this; }
        /** Patch embedding stride (t, h, w), (2, 4, 4). @return this */
        public Builder patchStride(long t, long h, long w) { patchStride = new long[] {t, h, w}; return this; }
        /** Patch embedding padding (t, h, w), (1, 3, 3). @return this */
        public Builder patchPadding(long t, long h, long w) { patchPadding = new long[] {t, h, w}; return this; }
        /** Kernel (t, h, w) of the q/k/v pooling convolutions, (3, 3, 3). @return this */
        public Builder poolKernel(long t, long h, long w) { poolKernel = new long[] {t, h, w}; return this; }
        /** q stride (t, h, w) at stage starts, (1, 2, 2). @return this */
        public Builder qStride(long t, long h, long w) { qStride = new long[] {t, h, w}; return this; }
        /** kv stride (t, h, w) of block 0, divided by each later q stride, (1, 8, 8). @return this */
        public Builder kvStrideAdaptive(long t, long h, long w) { kvStrideAdaptive = new long[] {t, h, w}; return this; }

        /** @return the validated configuration */
        public MViTConfig build() {
            return new MViTConfig(numClasses, inChannels, numFrames, cropSize, embedDim, depth, numHeads, stageStarts,
                    mlpRatio, dropPathRate, headDropout, patchKernel, patchStride, patchPadding, poolKernel, qStride,
                    kvStrideAdaptive);
        }
    }
}
