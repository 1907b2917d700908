package org.dualdistill.model.slowfast;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

import org.bytedeco.pytorch.BatchNorm3dImpl;
import org.bytedeco.pytorch.Conv3dImpl;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dualdistill.internal.torch.TensorBridge;
import org.dualdistill.internal.torch.TorchRuntime;
import org.dualdistill.model.Layers;
import org.dualdistill.model.ModelOutput;
import org.dualdistill.model.NativeOwner;
import org.dualdistill.model.VideoModel;

/**
 * SlowFast (Feichtenhofer et al., ICCV 2019) exactly as pytorchvideo's {@code create_slowfast} builds it: the same
 * modules in the same order with the same state_dict names and shapes (34,566,488 parameters for R50 at 400 classes),
 * so pytorchvideo checkpoints load by name and PySlowFast ones through {@link SlowFastKeys}.
 * <pre>
 *   blocks.0  stems: slow Conv3d 3->64 (1,7,7)/(1,2,2), fast 3->8 (5,7,7)/(1,2,2), each BN, ReLU, MaxPool (1,3,3)/(1,2,2)
 *             multipathway_fusion: fast -> slow Conv3d (7,1,1) stride (alpha,1,1), 2x the fast width, BN, ReLU,
 *             concatenated after the slow channels
 *   blocks.1..4  res2..res5 of both pathways (multipathway_blocks.0 slow, .1 fast), depths 3/4/6/3 (R50),
 *             bottleneck conv_a (t,1,1) -> conv_b (1,3,3) -> conv_c 1x1x1, each BN, ReLU after a and b, + shortcut
 *             (branch1 1x1x1 conv + BN in each stage's first block) -> ReLU; conv_a temporal kernel slow 1,1,3,3,
 *             fast 3,3,3,3; spatial stride 1,2,2,2 in conv_b; widths slow in 80/256/512/1024 out 256/512/1024/2048,
 *             fast out 32/64/128/256; a fusion after res2, res3, res4 (none after res5)
 *   blocks.5  AvgPool3d per pathway, kernel (T/alpha, S/32, S/32) and (T, S/32, S/32), stride 1, concatenated (2304)
 *   blocks.6  dropout 0.5 | proj Linear 2304 -> classes at every pooled position | global average
 * </pre>
 *
 * <p><b>Two pathways from one decoded window.</b> {@link #forward} takes the fast-pathway clip [B, 3, T, H, W] (the
 * canonical view: 32 frames at stride 2) and takes the slow pathway out of it inside the model, as PySlowFast's and
 * pytorchvideo's {@code PackPathway} transforms do: frames {@code linspace(0, T-1, T/alpha)} truncated to integers
 * (for T = 32: 0, 4, 8, 13, 17, 22, 26, 31; not simply every alpha-th frame, which would be 0, 4, ..., 28). So one
 * decoded window feeds both pathways and the data pipeline needs nothing SlowFast-specific. T must be a multiple of
 * alpha (the fusion conv maps T fast frames to T/alpha).
 *
 * <p><b>Taps.</b> {@link ModelOutput#features()} is the concatenated res5 map at the slow pathway's resolution:
 * slow res5 [B, 2048, T/alpha, h, w] followed by fast res5 [B, 256, T, h, w] averaged over each alpha consecutive
 * frames, [B, 2304, T/alpha, h, w] (canonical view [B, 2304, 8, 7, 7]). That is the representation the classifier
 * sees (the head pools both pathways and concatenates them in this order; at the build's own view the embedding is
 * exactly this map's global average), so a distillation loss on it trains and reads both pathways, and the fast
 * pathway's motion features, the reason to use SlowFast, are not dropped. {@link ModelOutput#embedding()} is the
 * 2304-d pooled vector before dropout. {@link #forwardTaps} also gives each pathway's res5 map unchanged.
 *
 * <p>Owns its module tree; not thread-safe in training mode. Build with {@link #builder()} or {@link #r50(long)}.
 */
public final class SlowFast implements VideoModel {
    static {
        TorchRuntime.init();
    }

    /** Stage depths by ResNet depth, pytorchvideo's table. */
    static int[] stageDepths(int depth) {
        return switch (depth) {
            case 50 -> new int[] {3, 4, 6, 3};
            case 101 -> new int[] {3, 4, 23, 3};
            case 152 -> new int[] {3, 8, 36, 3};
            default -> throw new IllegalArgumentException("SlowFast depth must be 50, 101 or 152, got " + depth);
        };
    }

    private static final int[] SLOW_TEMPORAL = {1, 1, 3, 3};
    private static final int[] FAST_TEMPORAL = {3, 3, 3, 3};
    private static final int[] SPATIAL_STRIDE = {1, 2, 2, 2};
    private static final int[] STEM_TEMPORAL = {1, 5};

    /**
     * The input view a SlowFast 8x8 is trained and tested with (PySlowFast's SLOWFAST_8x8_R50 config).
     *
     * @param fastFrames      frames of the decoded window = fast pathway (32)
     * @param samplingRate    stride between decoded frames (2), so the window spans 64 source frames
     * @param alpha           fast/slow frame ratio (4): the slow pathway gets fastFrames / alpha = 8 of them
     * @param crop            training crop (224)
     * @param trainJitterMin  training short-side jitter range, low end (256)
     * @param trainJitterMax  high end (320)
     * @param testShortSide   test-time short side and crop (256)
     * @param mean            per-channel mean of [0,1] RGB (0.45)
     * @param std             per-channel std (0.225)
     */
    public record CanonicalView(int fastFrames, int samplingRate, int alpha, int crop, int trainJitterMin,
                                int trainJitterMax, int testShortSide, double mean, double std) {
        /** @return frames of the slow pathway (fastFrames / alpha) */
        public int slowFrames() {
            return fastFrames / alpha;
        }

        /** @return a one-line description for listings */
        public String describe() {
            return String.format(java.util.Locale.ROOT,
                    "one window of %d frames at stride %d (fast pathway; slow = %d of them, linspace), crop %d, train "
                            + "short side [%d, %d], test %d, mean %.3f std %.3f",
                    fastFrames, samplingRate, slowFrames(), crop, trainJitterMin, trainJitterMax, testShortSide, mean, std);
        }
    }

    /** SlowFast 8x8's view: 32 frames at stride 2, crop 224, train short side [256, 320], test 256, mean 0.45 std 0.225. */
    public static final CanonicalView CANONICAL_VIEW = new CanonicalView(32, 2, 4, 224, 256, 320, 256, 0.45, 0.225);

    /**
     * Architecture knobs, pytorchvideo's defaults.
     *
     * @param depth              ResNet depth: 50 (3/4/6/3), 101, 152
     * @param numClasses         head classes (400)
     * @param width              slow stem width (64; stage widths follow as 4x, 8x, 16x, 32x)
     * @param betaInv            slow/fast channel ratio 1/beta (8)
     * @param alpha              fast/slow frame ratio (4); also the fusion conv's temporal stride
     * @param fusionChannelRatio fusion conv output / fast width (2)
     * @param fusionKernel       fusion conv temporal kernel (7)
     * @param dropout            head dropout (0.5)
     * @param frames             fast-pathway frames of the view this model is built for (32): sets the head pool
     * @param crop               crop of that view (224): the head pool is crop/32 spatially
     */
    public record Config(int depth, long numClasses, long width, int betaInv, int alpha, int fusionChannelRatio,
                         int fusionKernel, double dropout, int frames, int crop) {
        /** Validates. */
        public Config {
            stageDepths(depth);
            if (numClasses < 1 || width < 1 || betaInv < 1 || width % betaInv != 0 || alpha < 1 || fusionChannelRatio < 1
                    || fusionKernel < 1 || fusionKernel % 2 == 0 || dropout < 0 || dropout >= 1 || frames < alpha
                    || frames % alpha != 0 || crop < 32) {
                throw new IllegalArgumentException("SlowFast config out of range (width a multiple of betaInv, odd "
                        + "fusion kernel, frames a multiple of alpha, crop >= 32): " + this);
            }
        }

        long fastWidth() {
            return width / betaInv;
        }

        /** @return channels of the concatenated res5 map / head input (2304 for R50) */
        public long headChannels() {
            return 32 * width + 32 * width / betaInv;
        }

        /** @return the head's pool kernel per pathway {{t, h, w} slow, {t, h, w} fast} */
        public long[][] headPoolKernels() {
            long s = crop / 32;
            return new long[][] {{frames / alpha, s, s}, {frames, s, s}};
        }

        /**
         * Multiply-accumulates of one clip in billions: every convolution and the linear head (at each pooled position),
         * as fvcore and PySlowFast count them ("GFLOPs" in their tables); BN, ReLU, pooling and the slow-frame
         * selection are not counted.
         *
         * @param t fast-pathway frames (a multiple of alpha)
         * @param h clip height
         * @param w clip width
         * @return GMACs
         * @throws IllegalArgumentException when the clip does not fit the model (see {@link #forward})
         */
        public double gmacs(int t, int h, int w) {
            long[] res5 = checkGeometry(t, h, w);
            long[] len = {t / alpha, t};
            long[] dims = {width, fastWidth()};
            long hh = ceilHalf(h);
            long ww = ceilHalf(w);
            double macs = 0;
            for (int p = 0; p < 2; p++) {
                macs += (double) len[p] * hh * ww * dims[p] * 3 * STEM_TEMPORAL[p] * 49;
            }
            hh = ceilHalf(hh);
            ww = ceilHalf(ww);
            // fusion after the stem: fast width -> fusionChannelRatio x, kernel (k,1,1), output at the slow length
            macs += (double) len[0] * hh * ww * fastWidth() * fusionKernel * fastWidth() * fusionChannelRatio;
            int[] depths = stageDepths(depth);
            long stageIn = width;
            long stageOut = 4 * width;
            for (int s = 0; s < 4; s++) {
                long[] in = {stageIn + stageIn * fusionChannelRatio / betaInv, stageIn / betaInv};
                long[] inner = {stageOut / 4, stageOut / 4 / betaInv};
                long[] out = {stageOut, stageOut / betaInv};
                int[] tk = {SLOW_TEMPORAL[s], FAST_TEMPORAL[s]};
                long stride = SPATIAL_STRIDE[s];
                long h2 = stride == 2 ? ceilHalf(hh) : hh;
                long w2 = stride == 2 ? ceilHalf(ww) : ww;
                for (int p = 0; p < 2; p++) {
                    for (int i = 0; i < depths[s]; i++) {
                        long cin = i == 0 ? in[p] : out[p];
                        long posIn = len[p] * (i == 0 ? hh * ww : h2 * w2);
                        long posOut = len[p] * h2 * w2;
                        macs += (double) posIn * cin * tk[p] * inner[p];          // conv_a (t,1,1)
                        macs += (double) posOut * inner[p] * 9 * inner[p];        // conv_b (1,3,3)
                        macs += (double) posOut * inner[p] * out[p];              // conv_c
                        if (i == 0 && (cin != out[p] || stride != 1)) {
                            macs += (double) posOut * cin * out[p];               // branch1
                        }
                    }
                }
                hh = h2;
                ww = w2;
                if (s < 3) {
                    long fw = out[1];
                    macs += (double) len[0] * hh * ww * fw * fusionKernel * fw * fusionChannelRatio;
                }
                stageIn = stageOut;
                stageOut *= 2;
            }
            macs += (double) res5[0] * res5[1] * res5[2] * headChannels() * numClasses; // proj per pooled position
            return macs / 1e9;
        }

        /** @return pooled positions {t, h, w} of the head for a clip, after checking the clip fits */
        long[] checkGeometry(long t, long h, long w) {
            if (t < alpha || t % alpha != 0) {
                throw new IllegalArgumentException("clip: SlowFast needs a frame count that is a positive multiple of "
                        + "alpha = " + alpha + " (the slow pathway gets T/alpha frames), got T = " + t);
            }
            long rh = res5Size(h);
            long rw = res5Size(w);
            long[][] k = headPoolKernels();
            long pt = t / alpha - k[0][0] + 1;
            long pt2 = t - k[1][0] + 1;
            long ph = rh - k[0][1] + 1;
            long pw = rw - k[0][2] + 1;
            if (pt < 1 || pt2 < 1 || ph < 1 || pw < 1) {
                throw new IllegalArgumentException("clip: " + t + "x" + h + "x" + w + " gives res5 maps of " + (t / alpha)
                        + "x" + rh + "x" + rw + " (slow) and " + t + "x" + rh + "x" + rw + " (fast), smaller than the "
                        + "head's pool kernels " + java.util.Arrays.toString(k[0]) + " / " + java.util.Arrays.toString(k[1])
                        + "; this model is built for " + frames + " frames at crop " + crop
                        + " (build one for the view with frames(..) and crop(..))");
            }
            return new long[] {pt, ph, pw};
        }

        /** Five halvings with ceil (stem conv, stem pool, res3, res4, res5). */
        static long res5Size(long s) {
            for (int i = 0; i < 5; i++) {
                s = ceilHalf(s);
            }
            return s;
        }
    }

    private static long ceilHalf(long s) {
        return (s + 1) / 2;
    }

    /** @return a builder starting from SlowFast-R50 8x8 at 400 classes */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * SlowFast-R50 8x8 (alpha 4, beta 1/8, fusion (7,1,1) ratio 2, dropout 0.5) built for {@link #CANONICAL_VIEW}.
     *
     * @param numClasses head classes
     * @return the model; caller must close
     */
    public static SlowFast r50(long numClasses) {
        return builder().numClasses(numClasses).build();
    }

    /**
     * @return GMACs of SlowFast-R50 8x8 at 400 classes on {@link #CANONICAL_VIEW} (32x224x224 fast, 8x224x224 slow):
     *         50.31 (conv + linear). PySlowFast's model zoo lists 65.71 "GFLOPs" for it, which is the same count at
     *         its test crop 256 ({@link #canonicalTestGmacs()}); no model is built
     */
    public static double canonicalGmacs() {
        return builder().build0().gmacs(CANONICAL_VIEW.fastFrames(), CANONICAL_VIEW.crop(), CANONICAL_VIEW.crop());
    }

    /** @return GMACs of SlowFast-R50 8x8 at 400 classes on one 32x256x256 test view (65.71), no model built */
    public static double canonicalTestGmacs() {
        int s = CANONICAL_VIEW.testShortSide();
        return builder().build0().gmacs(CANONICAL_VIEW.fastFrames(), s, s);
    }

    /** Builder; setters named after pytorchvideo's arguments. Not thread-safe. */
    public static final class Builder {
        private int depth = 50;
        private long numClasses = 400;
        private long width = 64;
        private int betaInv = 8;
        private int alpha = 4;
        private int fusionChannelRatio = 2;
        private int fusionKernel = 7;
        private double dropout = 0.5;
        private int frames = CANONICAL_VIEW.fastFrames();
        private int crop = CANONICAL_VIEW.crop();

        private Builder() {
        }

        /** @param d ResNet depth 50, 101 or 152; @return this */
        public Builder depth(int d) { depth = d; return this; }
        /** @param n classes; @return this */
        public Builder numClasses(long n) { numClasses = n; return this; }
        /** @param w slow stem width (64; smaller for CPU-sized experiments); @return this */
        public Builder width(long w) { width = w; return this; }
        /** @param b 1/beta, slow/fast channel ratio (8); @return this */
        public Builder betaInv(int b) { betaInv = b; return this; }
        /** @param a fast/slow frame ratio (4); @return this */
        public Builder alpha(int a) { alpha = a; return this; }
        /** @param r fusion conv channel ratio (2); @return this */
        public Builder fusionChannelRatio(int r) { fusionChannelRatio = r; return this; }
        /** @param k fusion conv temporal kernel, odd (7); @return this */
        public Builder fusionKernel(int k) { fusionKernel = k; return this; }
        /** @param p head dropout (0.5); @return this */
        public Builder dropout(double p) { dropout = p; return this; }
        /** @param t fast frames of the view the head pool is sized for (32); @return this */
        public Builder frames(int t) { frames = t; return this; }
        /** @param s crop of the view the head pool is sized for (224); @return this */
        public Builder crop(int s) { crop = s; return this; }

        Config build0() {
            return new Config(depth, numClasses, width, betaInv, alpha, fusionChannelRatio, fusionKernel, dropout, frames, crop);
        }

        /** @return the model; caller must close */
        public SlowFast build() {
            return new SlowFast(build0());
        }
    }

    private record Conv(Conv3dImpl conv, BatchNorm3dImpl norm) {
    }

    private record Block(Conv3dImpl shortcut, BatchNorm3dImpl shortcutNorm, Conv3dImpl convA, BatchNorm3dImpl normA,
                         Conv3dImpl convB, BatchNorm3dImpl normB, Conv3dImpl convC, BatchNorm3dImpl normC) {
    }

    private final Config cfg;
    private final Module root;
    private final Conv[] stems = new Conv[2];
    /** stages.get(s)[p] = blocks of res stage s+2, pathway p */
    private final List<List<List<Block>>> stages = new ArrayList<>();
    /** fusions[0] after the stems, [1..3] after res2..res4 */
    private final Conv[] fusions = new Conv[4];
    private final LinearImpl proj;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final NativeOwner own = new NativeOwner();

    private SlowFast(Config cfg) {
        this.cfg = cfg;
        root = own.keep(new Module());
        Module blocks = reg(root, "blocks", Layers.container());
        long[] stemOut = {cfg.width(), cfg.fastWidth()};
        Module level0 = reg(blocks, "0", Layers.container());
        Module paths0 = reg(level0, "multipathway_blocks", Layers.container());
        for (int p = 0; p < 2; p++) {
            Module stem = reg(paths0, Integer.toString(p), Layers.container());
            int tk = STEM_TEMPORAL[p];
            stems[p] = new Conv(reg(stem, "conv", Layers.conv3d(3, stemOut[p], new long[] {tk, 7, 7},
                    new long[] {1, 2, 2}, new long[] {tk / 2, 3, 3}, 1, false)), reg(stem, "norm", Layers.batchNorm3d(stemOut[p])));
        }
        fusions[0] = fusion(level0, cfg.fastWidth());
        int[] depths = stageDepths(cfg.depth());
        long stageIn = cfg.width();
        long stageOut = 4 * cfg.width();
        for (int s = 0; s < 4; s++) {
            long[] in = {stageIn + stageIn * cfg.fusionChannelRatio() / cfg.betaInv(), stageIn / cfg.betaInv()};
            long[] inner = {stageOut / 4, stageOut / 4 / cfg.betaInv()};
            long[] out = {stageOut, stageOut / cfg.betaInv()};
            int[] tk = {SLOW_TEMPORAL[s], FAST_TEMPORAL[s]};
            Module level = reg(blocks, Integer.toString(s + 1), Layers.container());
            Module paths = reg(level, "multipathway_blocks", Layers.container());
            List<List<Block>> stage = new ArrayList<>();
            for (int p = 0; p < 2; p++) {
                Module resBlocks = reg(reg(paths, Integer.toString(p), Layers.container()), "res_blocks", Layers.container());
                List<Block> list = new ArrayList<>();
                for (int i = 0; i < depths[s]; i++) {
                    list.add(block(reg(resBlocks, Integer.toString(i), Layers.container()), i == 0 ? in[p] : out[p],
                            inner[p], out[p], tk[p], i == 0 ? SPATIAL_STRIDE[s] : 1));
                }
                stage.add(List.copyOf(list));
            }
            stages.add(List.copyOf(stage));
            if (s < 3) {
                fusions[s + 1] = fusion(level, out[1]);
            }
            stageIn = stageOut;
            stageOut *= 2;
        }
        reg(blocks, "5", Layers.container()); // PoolConcatPathway: pooling only, no state
        proj = reg(reg(blocks, "6", Layers.container()), "proj", Layers.linear(cfg.headChannels(), cfg.numClasses()));
    }

    private Conv fusion(Module level, long fastDim) {
        Module f = reg(level, "multipathway_fusion", Layers.container());
        long outDim = fastDim * cfg.fusionChannelRatio();
        int k = cfg.fusionKernel();
        return new Conv(reg(f, "conv_fast_to_slow", Layers.conv3d(fastDim, outDim, new long[] {k, 1, 1},
                new long[] {cfg.alpha(), 1, 1}, new long[] {k / 2, 0, 0}, 1, false)), reg(f, "norm", Layers.batchNorm3d(outDim)));
    }

    private Block block(Module m, long in, long inner, long out, int tk, long stride) {
        Conv3dImpl shortcut = null;
        BatchNorm3dImpl shortcutNorm = null;
        if (in != out || stride != 1) {
            shortcut = reg(m, "branch1_conv", Layers.conv3d(in, out, new long[] {1, 1, 1}, new long[] {1, stride, stride},
                    new long[] {0, 0, 0}, 1, false));
            shortcutNorm = reg(m, "branch1_norm", Layers.batchNorm3d(out));
        }
        Module b2 = reg(m, "branch2", Layers.container());
        Conv3dImpl convA = reg(b2, "conv_a", Layers.conv3d(in, inner, new long[] {tk, 1, 1}, new long[] {1, 1, 1},
                new long[] {tk / 2, 0, 0}, 1, false));
        BatchNorm3dImpl normA = reg(b2, "norm_a", Layers.batchNorm3d(inner));
        Conv3dImpl convB = reg(b2, "conv_b", Layers.conv3d(inner, inner, new long[] {1, 3, 3}, new long[] {1, stride, stride},
                new long[] {0, 1, 1}, 1, false));
        BatchNorm3dImpl normB = reg(b2, "norm_b", Layers.batchNorm3d(inner));
        Conv3dImpl convC = reg(b2, "conv_c", Layers.pointwise(inner, out, false));
        BatchNorm3dImpl normC = reg(b2, "norm_c", Layers.batchNorm3d(out));
        return new Block(shortcut, shortcutNorm, convA, normA, convB, normB, convC, normC);
    }

    private <M extends Module> M reg(Module parent, String name, M child) {
        return own.register(parent, name, child);
    }

    /** @return the architecture */
    public Config config() {
        return cfg;
    }

    @Override
    public Module module() {
        open();
        return root;
    }

    @Override
    public long numClasses() {
        return cfg.numClasses();
    }

    /** @return GMACs at the view the model is built for ({@link Config#frames()} x crop x crop) */
    public double gmacs() {
        return cfg.gmacs(cfg.frames(), cfg.crop(), cfg.crop());
    }

    /**
     * {@inheritDoc}
     *
     * <p>SlowFast: {@code blocks.6.proj} (PySlowFast {@code head.projection}), with LibTorch's default Linear
     * initialization as at construction.
     */
    @Override
    public java.util.List<String> resetHead() {
        open();
        try (org.bytedeco.javacpp.PointerScope scope = new org.bytedeco.javacpp.PointerScope();
             org.bytedeco.pytorch.NoGradGuard g = new org.bytedeco.pytorch.NoGradGuard()) {
            proj.reset_parameters();
        }
        return java.util.List.of("blocks.6.proj.weight", "blocks.6.proj.bias");
    }

    /** {@inheritDoc} SlowFast: pytorchvideo (our names) and PySlowFast ({@link SlowFastKeys}). */
    @Override
    public org.dualdistill.model.io.KeyMap keyMap(org.dualdistill.model.io.Zoo zoo) {
        return SlowFastKeys.from(zoo);
    }

    private void open() {
        if (closed.get()) {
            throw new IllegalStateException("SlowFast is closed");
        }
    }

    /**
     * The frames of a T-frame fast clip that form the slow pathway: {@code linspace(0, T-1, T/alpha)} computed by
     * LibTorch in float32 and truncated, exactly PySlowFast's and pytorchvideo's PackPathway.
     *
     * @param t     fast frames
     * @param alpha frame ratio
     * @return int64 CPU tensor [T/alpha] in the caller's PointerScope
     */
    public static Tensor slowFrameIndices(long t, int alpha) {
        return torch.linspace(new Scalar(0.0), new Scalar((double) (t - 1)), t / alpha).to(ScalarType.Long);
    }

    /**
     * Everything one forward gives: the model output and each pathway's res5 map unchanged.
     *
     * @param output   logits, embedding, features as {@link #forward}
     * @param slowRes5 [B, 32 width, T/alpha, h, w] (canonical [B, 2048, 8, 7, 7])
     * @param fastRes5 [B, 32 width / betaInv, T, h, w] (canonical [B, 256, 32, 7, 7])
     */
    public record Taps(ModelOutput output, Tensor slowRes5, Tensor fastRes5) {
    }

    /**
     * {@inheritDoc}
     *
     * <p>The clip is the fast pathway [B, 3, T, H, W] (T a multiple of alpha); the slow pathway is taken out of it
     * ({@link #slowFrameIndices}). logits [B, classes]; embedding [B, 2304] (pooled, pre-dropout); features
     * [B, 2304, T/alpha, ceil(H/32), ceil(W/32)] (slow res5 then fast res5 averaged over alpha frames).
     *
     * @throws IllegalArgumentException when the clip is not [B, 3, T, H, W], T is no multiple of alpha, or the res5
     *                                  map is smaller than the head pool of the view the model was built for
     */
    @Override
    public ModelOutput forward(Tensor clip) {
        return forwardTaps(clip).output();
    }

    /**
     * As {@link #forward}, with both pathways' res5 maps.
     *
     * @param clip float32 fast-pathway clip [B, 3, T, H, W] on the model's device (borrowed)
     * @return the taps, in the caller's PointerScope
     */
    public Taps forwardTaps(Tensor clip) {
        open();
        TensorBridge.requireDefined(clip, "clip");
        if (clip.dim() != 5 || clip.size(1) != 3) {
            throw new IllegalArgumentException("clip: expected the fast pathway [B, 3, T, H, W] (SlowFast view "
                    + cfg.frames() + "x" + cfg.crop() + "x" + cfg.crop() + "), got " + TensorBridge.shapeString(clip));
        }
        long t = clip.size(2);
        cfg.checkGeometry(t, clip.size(3), clip.size(4));
        Tensor idx = slowFrameIndices(t, cfg.alpha()).to(clip.device(), ScalarType.Long);
        Tensor slow = stem(stems[0], clip.index_select(2, idx));
        Tensor fast = stem(stems[1], clip);
        slow = fuse(fusions[0], slow, fast);
        for (int s = 0; s < 4; s++) {
            for (Block b : stages.get(s).get(0)) {
                slow = block(b, slow);
            }
            for (Block b : stages.get(s).get(1)) {
                fast = block(b, fast);
            }
            if (s < 3) {
                slow = fuse(fusions[s + 1], slow, fast);
            }
        }
        long[][] k = cfg.headPoolKernels();
        long[] one = {1, 1, 1};
        long[] zero = {0, 0, 0};
        Tensor pooled = torch.cat(new TensorVector(
                torch.avg_pool3d(slow, k[0], one, zero, false, true, new LongOptional()),
                torch.avg_pool3d(fast, k[1], one, zero, false, true, new LongOptional())), 1);
        Tensor embedding = pooled.mean(new long[] {2, 3, 4});
        // pytorchvideo: dropout on the pooled map, proj at every position, then the global average; the projection is
        // linear, so averaging first gives the same logits
        Tensor dropped = torch.dropout(pooled, cfg.dropout(), root.is_training());
        Tensor logits = proj.forward(dropped.mean(new long[] {2, 3, 4}));
        long b = fast.size(0);
        long c = fast.size(1);
        Tensor fastOnSlow = fast.reshape(b, c, t / cfg.alpha(), cfg.alpha(), fast.size(3), fast.size(4)).mean(new long[] {3});
        Tensor features = torch.cat(new TensorVector(slow, fastOnSlow), 1);
        return new Taps(new ModelOutput(logits, embedding, features), slow, fast);
    }

    private static Tensor stem(Conv s, Tensor x) {
        Tensor y = torch.relu(s.norm().forward(s.conv().forward(x)));
        return torch.max_pool3d(y, new long[] {1, 3, 3}, new long[] {1, 2, 2}, new long[] {0, 1, 1}, new long[] {1, 1, 1}, false);
    }

    private static Tensor fuse(Conv f, Tensor slow, Tensor fast) {
        Tensor lateral = torch.relu(f.norm().forward(f.conv().forward(fast)));
        return torch.cat(new TensorVector(slow, lateral), 1);
    }

    private static Tensor block(Block b, Tensor x) {
        Tensor y = torch.relu(b.normA().forward(b.convA().forward(x)));
        y = torch.relu(b.normB().forward(b.convB().forward(y)));
        y = b.normC().forward(b.convC().forward(y));
        Tensor shortcut = b.shortcut() == null ? x : b.shortcutNorm().forward(b.shortcut().forward(x));
        return torch.relu(shortcut.add(y));
    }

    @Override
    public void close() {
        if (!closed.getAndSet(true)) {
            own.releaseAll();
        }
    }
}
