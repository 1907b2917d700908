package org.dualdistill.model.x3d;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

import org.bytedeco.pytorch.BatchNorm3dImpl;
import org.bytedeco.pytorch.Conv3dImpl;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.internal.torch.TensorBridge;
import org.dualdistill.internal.torch.TorchRuntime;
import org.dualdistill.model.Layers;
import org.dualdistill.model.ModelOutput;
import org.dualdistill.model.NativeOwner;
import org.dualdistill.model.VideoModel;

/**
 * X3D (Feichtenhofer, CVPR 2020) exactly as pytorchvideo's {@code create_x3d}: the same modules in the same order
 * with the same state_dict names and shapes, so published weights load by name.
 * <pre>
 *   stem     blocks.0: conv.conv_t 3->24 (1,3,3)/(1,2,2) | conv.conv_xy depthwise (5,1,1) | norm | ReLU
 *   res2..5  blocks.1..4: depths 3/5/11/7 (depth factor 2.2), out 24/48/96/192, inner 2.25x out,
 *            spatial stride 2 in each stage's first block, SE (ratio 1/16) on blocks 0, 2, 4, ...
 *            bottleneck conv_a 1x1x1 -> BN -> ReLU -> conv_b 3x3x3 depthwise -> BN (+SE) -> Swish -> conv_c -> BN,
 *            + shortcut (1x1x1 conv when the shape changes, BN only when the width changes) -> ReLU
 *   head     blocks.5: pre_conv 192->432 | BN | ReLU | average over the res5 map | post_conv 432->2048 | ReLU
 *            | dropout 0.5 | proj Linear 2048->C
 * </pre>
 * Presets (input clip length x crop): XS 4x160, S 13x160, M 16x224 (one weight layout, 3,794,274 parameters at
 * 400 classes), L 16x312 (depth factor 5.0, 6,153,384). The head pools over whatever res5 map the input gives,
 * so any clip size that survives the strides works.
 *
 * <p>The depthwise convolutions (stem conv_xy, every conv_b) run through a {@link DepthwiseMode}: AUTO (the
 * default) runs the hand-written kernels on float32 CPU tensors and LibTorch's conv3d elsewhere; TORCH is LibTorch's
 * conv3d, the reference; FAST runs the hand-written kernels forward and backward wherever they apply (see
 * {@link DepthwiseConv3d} and benchmarks/RESULTS.md for the routes measured). All use the same parameters and
 * state_dict. Under AUTO and FAST an eval forward without gradients on a float32 CPU clip takes the folded
 * channels-last route (batch norm folded into the convolutions, no per-layer layout copies; see
 * {@link DepthwiseMode#FAST}), with the same outputs to float32 tolerance.
 *
 * <p>Owns its module tree; not thread-safe in training mode. Build with {@link #builder()} or {@link #preset}.
 */
public final class X3d implements VideoModel {
    static {
        TorchRuntime.init();
    }

    /** The pytorchvideo presets. */
    public enum Preset {
        XS(2.2, 4, 160), S(2.2, 13, 160), M(2.2, 16, 224), L(5.0, 16, 312);

        final double depthFactor;
        final int clipLength;
        final int crop;

        Preset(double depthFactor, int clipLength, int crop) {
            this.depthFactor = depthFactor;
            this.clipLength = clipLength;
            this.crop = crop;
        }

        /** @return the preset's training clip length */
        public int clipLength() {
            return clipLength;
        }

        /** @return the preset's training crop size */
        public int crop() {
            return crop;
        }
    }

    private final Config cfg;
    private final Module root;
    private final Stem stem;
    private final List<List<Block>> stages;
    private final Head head;
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile DepthwiseMode depthwise;
    private final NativeOwner own = new NativeOwner();
    private final FoldedEval folded;

    /** The smallest input side X3D takes (its stem and four stages each halve the resolution). */
    public static final int MIN_CROP = 32;

    /**
     * Architecture knobs, pytorchvideo's names and defaults.
     *
     * @param numClasses       head classes
     * @param widthFactor      2.0
     * @param depthFactor      2.2 (XS/S/M), 5.0 (L)
     * @param bottleneckFactor 2.25
     * @param seRatio          0.0625 (0 disables SE)
     * @param stemDimIn        12 (before the width factor)
     * @param headDimOut       2048
     * @param dropout          0.5
     * @param clipLength       expected T (for {@link #gmacs()} and geometry checks; any T >= 1 runs)
     * @param crop             expected spatial size
     * @param heads            classes per head (one head by default; EPIC-KITCHENS: 97 verbs, 300 nouns); numClasses
     *                         is their sum and the logits are the heads side by side
     */
    public record Config(long numClasses, double widthFactor, double depthFactor, double bottleneckFactor,
                         double seRatio, long stemDimIn, long headDimOut, double dropout, int clipLength, int crop,
                         long[] heads) {
        /** Validates. */
        public Config {
            if (heads == null || heads.length == 0) {
                heads = new long[] {numClasses};
            }
            heads = heads.clone();
            long sum = 0;
            for (long h : heads) {
                if (h < 1) {
                    throw new IllegalArgumentException("X3D head sizes must be >= 1, got " + java.util.Arrays.toString(heads));
                }
                sum += h;
            }
            numClasses = sum;
            // the fields are not assigned yet inside a compact constructor (toString() would print zeros): name the
            // offending parameters from the arguments
            java.util.List<String> bad = new java.util.ArrayList<>();
            if (numClasses < 1) bad.add("numClasses " + numClasses + " (must be >= 1)");
            if (!(widthFactor > 0)) bad.add("widthFactor " + widthFactor + " (must be > 0)");
            if (!(depthFactor > 0)) bad.add("depthFactor " + depthFactor + " (must be > 0)");
            if (!(bottleneckFactor > 0)) bad.add("bottleneckFactor " + bottleneckFactor + " (must be > 0)");
            if (!(seRatio >= 0)) bad.add("seRatio " + seRatio + " (must be >= 0)");
            if (stemDimIn < 1) bad.add("stemDimIn " + stemDimIn + " (must be >= 1)");
            if (headDimOut < 1) bad.add("headDimOut " + headDimOut + " (must be >= 1)");
            if (!(dropout >= 0 && dropout < 1)) bad.add("dropout " + dropout + " (must be in [0, 1))");
            if (clipLength < 1) bad.add("clipLength " + clipLength + " (must be >= 1)");
            if (crop < MIN_CROP) bad.add("crop " + crop + " (must be >= " + MIN_CROP + ")");
            if (!bad.isEmpty()) {
                throw new IllegalArgumentException("X3D config out of range: " + String.join(", ", bad));
            }
        }
    }

    /** @return a builder starting from X3D-S at 400 classes */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * @param preset     XS, S, M or L
     * @param numClasses head classes
     * @return the model; caller must close
     */
    public static X3d preset(Preset preset, long numClasses) {
        return builder().preset(preset).numClasses(numClasses).build();
    }

    /** Builder in the pytorchvideo style; {@code opt}-less setters for brevity. Not thread-safe. */
    public static final class Builder {
        private long numClasses = 400;
        private double width = 2.0;
        private double depth = 2.2;
        private double bottleneck = 2.25;
        private double se = 0.0625;
        private long stemDimIn = 12;
        private long headDimOut = 2048;
        private double dropout = 0.5;
        private int clipLength = 13;
        private int crop = 160;
        private long[] heads;
        private DepthwiseMode depthwise = DepthwiseMode.AUTO;

        private Builder() {
        }

        /** @param p preset whose depth factor and input geometry to use; @return this */
        public Builder preset(Preset p) {
            depth = p.depthFactor;
            clipLength = p.clipLength;
            crop = p.crop;
            return this;
        }

        /** @param n classes; @return this */
        public Builder numClasses(long n) { numClasses = n; heads = null; return this; }
        /** @param sizes classes per head, e.g. 97, 300 for EPIC-KITCHENS-100 verb + noun; @return this */
        public Builder heads(long... sizes) { heads = sizes.clone(); return this; }
        /** @param w width factor (2.0; smaller for CPU-sized experiments); @return this */
        public Builder widthFactor(double w) { width = w; return this; }
        /** @param d depth factor (2.2); @return this */
        public Builder depthFactor(double d) { depth = d; return this; }
        /** @param b bottleneck factor (2.25); @return this */
        public Builder bottleneckFactor(double b) { bottleneck = b; return this; }
        /** @param r SE ratio (0.0625, 0 = none); @return this */
        public Builder seRatio(double r) { se = r; return this; }
        /** @param d stem width before the width factor (12); @return this */
        public Builder stemDimIn(long d) { stemDimIn = d; return this; }
        /** @param d head width (2048); @return this */
        public Builder headDimOut(long d) { headDimOut = d; return this; }
        /** @param p head dropout (0.5); @return this */
        public Builder dropout(double p) { dropout = p; return this; }
        /** @param t clip length; @return this */
        public Builder clipLength(int t) { clipLength = t; return this; }
        /** @param s crop size; @return this */
        public Builder crop(int s) { crop = s; return this; }

        /**
         * @param mode how the depthwise convolutions run ({@link DepthwiseMode#AUTO} by default: the hand-written
         *             kernels on the CPU, LibTorch's op on CUDA; {@link DepthwiseMode#TORCH} is the reference); the
         *             parameters and results are the same to float tolerance
         * @return this
         */
        public Builder depthwise(DepthwiseMode mode) {
            depthwise = java.util.Objects.requireNonNull(mode, "mode");
            return this;
        }

        /** @return the model; caller must close */
        public X3d build() {
            return new X3d(new Config(numClasses, width, depth, bottleneck, se, stemDimIn, headDimOut, dropout, clipLength, crop, heads),
                    depthwise);
        }
    }

    /** pytorchvideo's round_width: multiple of 8, at least 8, never below 90% of the target. */
    static long roundWidth(double width, double multiplier) {
        double w = width * multiplier;
        long out = Math.max(8, ((long) (w + 4)) / 8 * 8);
        if (out < 0.9 * w) {
            out += 8;
        }
        return out;
    }

    /** pytorchvideo's round_repeats: ceil(depth * factor). */
    static int roundRepeats(int repeats, double factor) {
        return (int) Math.ceil(factor * repeats);
    }

    record Stem(Conv3dImpl convT, Conv3dImpl convXy, BatchNorm3dImpl norm) {
    }

    record Block(Conv3dImpl shortcut, BatchNorm3dImpl shortcutNorm, Conv3dImpl convA, BatchNorm3dImpl normA,
                         Conv3dImpl convB, BatchNorm3dImpl normB, Conv3dImpl seReduce, Conv3dImpl seExpand,
                         Conv3dImpl convC, BatchNorm3dImpl normC, long stride) {
    }

    record Head(Conv3dImpl preConv, BatchNorm3dImpl preNorm, Conv3dImpl postConv, List<LinearImpl> projs) {
    }

    private X3d(Config cfg, DepthwiseMode depthwise) {
        this.cfg = cfg;
        this.depthwise = depthwise;
        // Every wrapper is retained by `own`, so an enclosing PointerScope cannot free part of the tree (see NativeOwner).
        root = own.keep(new Module());
        Module blocks = reg(root, "blocks", Layers.container());
        long stemOut = roundWidth(cfg.stemDimIn(), cfg.widthFactor());
        Module stemM = reg(blocks, "0", Layers.container());
        Module stemConv = reg(stemM, "conv", Layers.container());
        stem = new Stem(
                reg(stemConv, "conv_t", Layers.conv3d(3, stemOut, new long[] {1, 3, 3}, new long[] {1, 2, 2},
                        new long[] {0, 1, 1}, 1, false)),
                reg(stemConv, "conv_xy", Layers.conv3d(stemOut, stemOut, new long[] {5, 1, 1},
                        new long[] {1, 1, 1}, new long[] {2, 0, 0}, stemOut, false)),
                reg(stemM, "norm", Layers.batchNorm3d(stemOut)));

        int[] baseDepths = {1, 2, 5, 3};
        long stageDim = roundWidth(cfg.stemDimIn(), cfg.widthFactor());
        long dimIn = stemOut;
        stages = new ArrayList<>();
        for (int s = 0; s < 4; s++) {
            long dimOut = stageDim << s;
            long inner = (long) (cfg.bottleneckFactor() * dimOut);
            int depth = roundRepeats(baseDepths[s], cfg.depthFactor());
            Module stageM = reg(blocks, Integer.toString(s + 1), Layers.container());
            Module resBlocks = reg(stageM, "res_blocks", Layers.container());
            List<Block> list = new ArrayList<>();
            for (int i = 0; i < depth; i++) {
                long in = i == 0 ? dimIn : dimOut;
                long stride = i == 0 ? 2 : 1;
                list.add(block(reg(resBlocks, Integer.toString(i), Layers.container()), in, dimOut, inner,
                        stride, cfg.seRatio() > 0 && i % 2 == 0));
            }
            stages.add(List.copyOf(list));
            dimIn = dimOut;
        }
        long headInner = (long) (cfg.bottleneckFactor() * dimIn);
        Module headM = reg(blocks, "5", Layers.container());
        Module pool = reg(headM, "pool", Layers.container());
        List<LinearImpl> projs = new ArrayList<>();
        if (cfg.heads().length == 1) {
            projs.add(reg(headM, "proj", Layers.linear(cfg.headDimOut(), cfg.heads()[0])));
        } else {
            // several heads (EPIC-KITCHENS verb + noun): blocks.5.proj.0, blocks.5.proj.1, ... as an nn.ModuleList
            Module list = reg(headM, "proj", Layers.container());
            for (int i = 0; i < cfg.heads().length; i++) {
                projs.add(reg(list, Integer.toString(i), Layers.linear(cfg.headDimOut(), cfg.heads()[i])));
            }
        }
        head = new Head(reg(pool, "pre_conv", Layers.pointwise(dimIn, headInner, false)),
                reg(pool, "pre_norm", Layers.batchNorm3d(headInner)),
                reg(pool, "post_conv", Layers.pointwise(headInner, cfg.headDimOut(), false)), List.copyOf(projs));
        folded = new FoldedEval(stem, List.copyOf(stages), head);
    }

    /**
     * {@inheritDoc}
     *
     * <p>X3D: {@code blocks.5.proj} (each head's Linear), with LibTorch's default Linear initialization as at
     * construction.
     */
    @Override
    public List<String> resetHead() {
        List<String> names = new ArrayList<>();
        try (org.bytedeco.javacpp.PointerScope scope = new org.bytedeco.javacpp.PointerScope();
             org.bytedeco.pytorch.NoGradGuard g = new org.bytedeco.pytorch.NoGradGuard()) {
            module();
            for (int i = 0; i < head.projs().size(); i++) {
                head.projs().get(i).reset_parameters();
                String p = head.projs().size() == 1 ? "blocks.5.proj." : "blocks.5.proj." + i + ".";
                names.add(p + "weight");
                names.add(p + "bias");
            }
        }
        return List.copyOf(names);
    }

    /** {@inheritDoc} X3D: pytorchvideo (our names) and PySlowFast ({@link X3dKeys}). */
    @Override
    public org.dualdistill.model.io.KeyMap keyMap(org.dualdistill.model.io.Zoo zoo) {
        return X3dKeys.from(zoo);
    }

    /** Registers a child and keeps its wrapper alive as long as this model, whatever PointerScope is open. */
    private <M extends Module> M reg(Module parent, String name, M child) {
        return own.register(parent, name, child);
    }

    private Block block(Module m, long in, long out, long inner, long stride, boolean se) {
        Conv3dImpl shortcut = null;
        BatchNorm3dImpl shortcutNorm = null;
        if (in != out || stride != 1) {
            shortcut = reg(m, "branch1_conv", Layers.conv3d(in, out, new long[] {1, 1, 1},
                    new long[] {1, stride, stride}, new long[] {0, 0, 0}, 1, false));
        }
        if (in != out) {
            shortcutNorm = reg(m, "branch1_norm", Layers.batchNorm3d(out));
        }
        Module b2 = reg(m, "branch2", Layers.container());
        Conv3dImpl convA = reg(b2, "conv_a", Layers.pointwise(in, inner, false));
        BatchNorm3dImpl normA = reg(b2, "norm_a", Layers.batchNorm3d(inner));
        Conv3dImpl convB = reg(b2, "conv_b", Layers.conv3d(inner, inner, new long[] {3, 3, 3},
                new long[] {1, stride, stride}, new long[] {1, 1, 1}, inner, false));
        Module normBm = reg(b2, "norm_b", Layers.container());
        BatchNorm3dImpl normB = reg(normBm, "0", Layers.batchNorm3d(inner));
        Conv3dImpl seReduce = null;
        Conv3dImpl seExpand = null;
        if (se) {
            long reduced = roundWidth(inner, cfg.seRatio());
            Module seBlock = reg(reg(normBm, "1", Layers.container()), "block", Layers.container());
            seReduce = reg(seBlock, "0", Layers.pointwise(inner, reduced, true));
            seExpand = reg(seBlock, "2", Layers.pointwise(reduced, inner, true));
        }
        Conv3dImpl convC = reg(b2, "conv_c", Layers.pointwise(inner, out, false));
        BatchNorm3dImpl normC = reg(b2, "norm_c", Layers.batchNorm3d(out));
        return new Block(shortcut, shortcutNorm, convA, normA, convB, normB, seReduce, seExpand, convC, normC, stride);
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

    private void open() {
        if (closed.get()) {
            throw new IllegalStateException("X3d is closed");
        }
    }

    /**
     * {@inheritDoc}
     *
     * <p>The clip must be [B, 3, T, H, W] with H and W >= 32; the res5 map is [B, 192, T, ceil(H/32), ceil(W/32)]
     * (for X3D-S 13x160: [B, 192, 13, 5, 5]) and the embedding is the 2048-d pooled post-conv activation.
     */
    @Override
    public ModelOutput forward(Tensor clip) {
        open();
        TensorBridge.requireDefined(clip, "clip");
        if (clip.dim() != 5 || clip.size(1) != 3 || clip.size(3) < 32 || clip.size(4) < 32) {
            throw new IllegalArgumentException("clip: expected [B, 3, T, H, W] with H, W >= 32 (X3D preset input "
                    + cfg.clipLength() + "x" + cfg.crop() + "x" + cfg.crop() + "), got " + TensorBridge.shapeString(clip));
        }
        DepthwiseMode mode = depthwise;
        if (FoldedEval.applies(clip, root.is_training(), mode)) {
            Tensor[] r = folded.forward(clip, this::classify);
            if (r != null) {
                return new ModelOutput(r[0], r[1], r[2]);
            }
        }
        // TORCH_CHANNELS_LAST converts the clip once and every layer after it keeps ChannelsLast3d
        Tensor in = mode == DepthwiseMode.TORCH_CHANNELS_LAST ? clip.contiguous(torch.MemoryFormat.ChannelsLast3d) : clip;
        Tensor x = depthwise(stem.convXy(), stem.convT().forward(in), 1, 0, mode);
        x = torch.relu(stem.norm().forward(x));
        for (List<Block> stage : stages) {
            for (Block b : stage) {
                x = block(b, x, mode);
            }
        }
        // the res5 map leaves in the layout every caller has seen so far (contiguous NCDHW); it is small
        Tensor features = x.contiguous();
        Tensor h = torch.relu(head.preNorm().forward(head.preConv().forward(x)));
        h = torch.adaptive_avg_pool3d(h, 1, 1, 1);
        Tensor embedding = torch.relu(head.postConv().forward(h)).flatten(1, -1);
        return new ModelOutput(classify(embedding), embedding, features);
    }

    /** Dropout (training only) and the projection head(s): [B, headDimOut] -> [B, numClasses]. */
    private Tensor classify(Tensor embedding) {
        Tensor dropped = torch.dropout(embedding, cfg.dropout(), root.is_training());
        if (head.projs().size() == 1) {
            return head.projs().get(0).forward(dropped);
        }
        org.bytedeco.pytorch.TensorVector parts = new org.bytedeco.pytorch.TensorVector();
        for (LinearImpl p : head.projs()) {
            parts.push_back(p.forward(dropped));
        }
        return torch.cat(parts, 1); // heads side by side: narrow(1, offset, size) per head
    }

    private static Tensor block(Block b, Tensor x, DepthwiseMode mode) {
        Tensor y = torch.relu(b.normA().forward(b.convA().forward(x)));
        y = b.normB().forward(depthwise(b.convB(), y, b.stride(), 1, mode));
        if (b.seReduce() != null) {
            Tensor s = torch.adaptive_avg_pool3d(y, 1, 1, 1);
            s = torch.sigmoid(b.seExpand().forward(torch.relu(b.seReduce().forward(s))));
            y = y.mul(s);
        }
        y = y.mul(torch.sigmoid(y)); // Swish
        y = b.normC().forward(b.convC().forward(y));
        Tensor shortcut = x;
        if (b.shortcut() != null) {
            shortcut = b.shortcut().forward(x);
        }
        if (b.shortcutNorm() != null) {
            shortcut = b.shortcutNorm().forward(shortcut);
        }
        return torch.relu(shortcut.add(y));
    }

    /** A depthwise conv (conv_xy or conv_b) through the chosen route; TORCH is the module's own forward. */
    private static Tensor depthwise(Conv3dImpl conv, Tensor x, long stride, long pad, DepthwiseMode mode) {
        if (mode == DepthwiseMode.TORCH) {
            return conv.forward(x);
        }
        return DepthwiseConv3d.forward(x, conv.weight(), stride, pad, pad, mode);
    }

    /** @return {folded eval weight sets built so far, not yet freed, forwards run} (for tests of the eval route) */
    long[] foldedEvalCounts() {
        return folded.counts();
    }

    /** @return how the depthwise convolutions run now */
    public DepthwiseMode depthwiseMode() {
        return depthwise;
    }

    /**
     * Switches the depthwise route (same parameters, same results to float tolerance); takes effect at the next
     * {@link #forward}. Not to be called while another thread runs a forward or backward of this model.
     *
     * @param mode the route
     */
    public void depthwiseMode(DepthwiseMode mode) {
        depthwise = java.util.Objects.requireNonNull(mode, "mode");
    }

    /**
     * Multiply-accumulates of one clip at (T, S, S) in billions: convolutions and the linear head, as PySlowFast
     * and fvcore count them ("GFLOPs" in the X3D paper).
     *
     * @param t clip length
     * @param s crop size
     * @return GMACs
     */
    public double gmacs(int t, int s) {
        long h = ceilDiv(s, 2);
        long w = h;
        double macs = 0;
        long stemOut = roundWidth(cfg.stemDimIn(), cfg.widthFactor());
        long pos = t * h * w;
        macs += (double) pos * stemOut * 3 * 9;      // conv_t 1x3x3
        macs += (double) pos * stemOut * 5;          // conv_xy depthwise 5x1x1
        long dimIn = stemOut;
        long stageDim = stemOut;
        int[] baseDepths = {1, 2, 5, 3};
        for (int st = 0; st < 4; st++) {
            long out = stageDim << st;
            long inner = (long) (cfg.bottleneckFactor() * out);
            int depth = roundRepeats(baseDepths[st], cfg.depthFactor());
            for (int i = 0; i < depth; i++) {
                long in = i == 0 ? dimIn : out;
                long posIn = t * h * w;
                if (i == 0) {
                    h = ceilDiv(h, 2);
                    w = ceilDiv(w, 2);
                }
                long posOut = t * h * w;
                macs += (double) posIn * in * inner;           // conv_a
                macs += (double) posOut * inner * 27;          // conv_b depthwise 3x3x3
                if (cfg.seRatio() > 0 && i % 2 == 0) {
                    long r = roundWidth(inner, cfg.seRatio());
                    macs += 2.0 * inner * r;                   // SE fcs on the pooled vector
                }
                macs += (double) posOut * inner * out;         // conv_c
                if (in != out || i == 0) {
                    macs += (double) posOut * in * out;        // shortcut conv
                }
            }
            dimIn = out;
        }
        long headInner = (long) (cfg.bottleneckFactor() * dimIn);
        macs += (double) (t * h * w) * dimIn * headInner;       // pre_conv
        macs += (double) headInner * cfg.headDimOut();          // post_conv on the pooled map
        macs += (double) cfg.headDimOut() * cfg.numClasses();   // proj
        return macs / 1e9;
    }

    /** @return GMACs at the configured clip length and crop */
    public double gmacs() {
        return gmacs(cfg.clipLength(), cfg.crop());
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }

    @Override
    public void close() {
        if (!closed.getAndSet(true)) {
            folded.close();
            own.releaseAll();
        }
    }
}
