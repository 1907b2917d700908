package org.dualdistill.model.mvit;

import org.dualdistill.model.NativeOwner;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Conv3dImpl;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.LayerNormImpl;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.internal.torch.TensorBridge;
import org.dualdistill.internal.torch.TorchRuntime;
import org.dualdistill.model.Layers;
import org.dualdistill.model.ModelOutput;
import org.dualdistill.model.VideoModel;

/**
 * MViTv2 (Li, Wu, Fan, Mangalam, Xiong, Malik, Feichtenhofer, "MViTv2: Improved Multiscale Vision Transformers
 * for Classification and Detection", CVPR 2022) exactly as PySlowFast's {@code MViT} builds it for
 * {@code configs/Kinetics/MVITv2_S_16x4.yaml}: same modules, same state_dict names and shapes (34,537,744
 * parameters at 400 classes, 397 tensors), so PySlowFast checkpoints load by name.
 * <pre>
 *   patch_embed.proj  Conv3d 3->96 k(3,7,7) s(2,4,4) p(1,3,3): [B,3,16,224,224] -> 8x56x56 tokens; no absolute position
 *   cls_token         prepended: [B, 1 + 25088, 96]
 *   blocks.0..15      {@link MultiScaleBlock}s; width 96/192/384/768 and heads 1/2/4/8 from blocks 1, 3, 14,
 *                     where q is pooled with stride (1,2,2): grids 8x56x56 -> 8x28x28 -> 8x14x14 -> 8x7x7
 *   norm              LayerNorm(768, eps 1e-6)
 *   head.projection   dropout 0.5 (training) -> Linear 768->C on the cls token
 * </pre>
 * Outputs ({@link ModelOutput}): logits [B, C] before softmax in every mode (PySlowFast's head applies softmax in
 * eval; distillation wants the logits); embedding = the normalized cls token [B, 768]; features = the normalized
 * last-stage tokens without cls, [B, 768, 8, 7, 7] (the layout of PySlowFast's detection path). Drop path
 * (0.2, linear in depth) and head dropout act only in training mode ({@code module().train(true)}).
 *
 * <p>The model accepts exactly the clip geometry of its {@link MViTConfig} (16x224x224 for MViTv2-S), as PySlowFast
 * asserts; reduced configurations (depth, widths, heads, input size, classes) serve CPU-sized tests and demos.
 *
 * <p>Initialization follows PySlowFast: truncated normal (std 0.02) for Linear and Conv3d weights, cls token and
 * relative-position tables; Linear biases 0.02; LayerNorm weight 1, bias 0.02; the patch convolution's bias keeps
 * PyTorch's default. Seed with {@code torch.manual_seed} before construction for reproducible weights.
 *
 * <p>Ownership: the model owns its module tree until {@link #close()}; construction may happen inside or outside a
 * {@code PointerScope} (every wrapper of the tree is retained by the model, not by the scope). Thread-safety: not
 * thread-safe in training mode; in eval mode concurrent {@link #forward} calls are safe as far as LibTorch's
 * modules are (the model keeps no per-call state).
 */
public final class MViT implements VideoModel {
    static {
        TorchRuntime.init();
    }

    private static final double INIT_STD = 0.02;
    private static final double INIT_BIAS = 0.02;

    private final MViTConfig cfg;
    private final NativeOwner own = new NativeOwner();
    private final Module root;
    private final Conv3dImpl patchEmbed;
    private final Tensor clsToken;
    private final List<MultiScaleBlock> blocks;
    private final LayerNormImpl norm;
    private final LinearImpl head;
    private final AtomicBoolean closed = new AtomicBoolean();

    /**
     * Builds and initializes the module tree (inside or outside a {@code PointerScope}: the model holds its own
     * reference on every wrapper).
     *
     * @param cfg the architecture
     */
    public MViT(MViTConfig cfg) {
        this.cfg = Objects.requireNonNull(cfg, "cfg");
        // No PointerScope here: module wrappers made inside one would be freed with it (see NativeOwner).
        root = own.keep(new Module());
        Module patch = own.keep(root.register_module("patch_embed", Layers.container()));
        patchEmbed = own.keep(patch.register_module("proj", Layers.conv3d(cfg.inChannels(), cfg.embedDim(),
                cfg.patchKernel(), cfg.patchStride(), cfg.patchPadding(), 1, true)));
        clsToken = parameter(root, "cls_token", own, 1, 1, cfg.embedDim());
        Module blocksNode = own.keep(root.register_module("blocks", Layers.container()));
        List<MultiScaleBlock> list = new ArrayList<>();
        for (MViTConfig.BlockSpec spec : cfg.blocks()) {
            Module node = own.keep(blocksNode.register_module(Integer.toString(spec.index()), Layers.container()));
            list.add(new MultiScaleBlock(node, spec, cfg, own));
        }
        blocks = List.copyOf(list);
        long last = cfg.finalDim();
        norm = own.keep(root.register_module("norm", MultiScaleBlock.layerNorm(last)));
        Module headNode = own.keep(root.register_module("head", Layers.container()));
        head = own.keep(headNode.register_module("projection", Layers.linear(last, cfg.numClasses())));
        initialize();
    }

    /**
     * Registers a zero-filled parameter and returns our own handle on it. The handle that {@code register_parameter}
     * returns points into the module's parameter dictionary, whose storage moves when later parameters are
     * registered (a crash in {@code uniform_} showed it); the tensor we pass is copied by value into the dictionary
     * and shares its TensorImpl, so it stays the parameter (also across {@code Module.to}, which swaps data in place).
     */
    static Tensor parameter(Module node, String name, NativeOwner own, long... shape) {
        Tensor p = own.keep(torch.zeros(shape));
        node.register_parameter(name, p);
        return p;
    }

    /**
     * @param numClasses head classes
     * @return MViTv2-S 16x4 ({@link MViTConfig#mvitV2S}); caller must close
     */
    public static MViT mvitV2S(long numClasses) {
        return new MViT(MViTConfig.mvitV2S(numClasses));
    }

    private void initialize() {
        try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            truncNormal(patchEmbed.weight());
            truncNormal(clsToken);
            for (MultiScaleBlock b : blocks) {
                for (LinearImpl l : b.linears()) {
                    initLinear(l);
                }
                for (Conv3dImpl c : b.attention().pools()) {
                    truncNormal(c.weight());
                }
                for (LayerNormImpl n : b.norms()) {
                    initNorm(n);
                }
                MultiScaleAttention a = b.attention();
                truncNormal(a.relPosH);
                truncNormal(a.relPosW);
                truncNormal(a.relPosT);
            }
            initNorm(norm);
            initLinear(head);
        }
    }

    /**
     * {@inheritDoc}
     *
     * <p>MViT: {@code head.projection}, with the construction's initialization (truncated normal std 0.02, bias 0).
     */
    @Override
    public java.util.List<String> resetHead() {
        open();
        try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            initLinear(head);
        }
        return java.util.List.of("head.projection.weight", "head.projection.bias");
    }

    /** {@inheritDoc} MViT: PySlowFast (our names) and torchvision's mvit_v2_s ({@link MViTKeys}). */
    @Override
    public org.dualdistill.model.io.KeyMap keyMap(org.dualdistill.model.io.Zoo zoo) {
        return MViTKeys.from(zoo);
    }

    private static void initLinear(LinearImpl l) {
        truncNormal(l.weight());
        l.bias().fill_(new Scalar(INIT_BIAS));
    }

    private static void initNorm(LayerNormImpl n) {
        n.weight().fill_(new Scalar(1.0));
        n.bias().fill_(new Scalar(INIT_BIAS));
    }

    /**
     * {@code nn.init.trunc_normal_(t, std=0.02)} by inverse CDF, as PyTorch does: with the default bounds
     * [-2, 2] = +-100 std, the uniform range [2 cdf(a) - 1, 2 cdf(b) - 1] is [-1, 1] in double precision.
     */
    private static void truncNormal(Tensor t) {
        t.uniform_(-1.0, 1.0, new GeneratorOptional()).erfinv_().mul_(new Scalar(INIT_STD * Math.sqrt(2.0)))
                .clamp_(new ScalarOptional(new Scalar(-2.0)), new ScalarOptional(new Scalar(2.0)));
    }

    /** @return the architecture */
    public MViTConfig config() {
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
            throw new IllegalStateException("MViT is closed");
        }
    }

    /**
     * {@inheritDoc}
     *
     * <p>The clip must be exactly [B, 3, T, S, S] of the configuration (MViTv2-S: [B, 3, 16, 224, 224]), with the
     * model's dtype and device. Intermediate tensors are freed block by block (an inner {@code PointerScope} per
     * block); only the three outputs are handed to the caller's innermost {@code PointerScope} (or, with none open,
     * left to JavaCPP's GC deallocator). In training mode they carry the autograd graph.
     *
     * @throws IllegalArgumentException when the clip's shape, dtype or device does not fit (the message gives the
     *                                  expected and the actual values)
     */
    @Override
    public ModelOutput forward(Tensor clip) {
        open();
        TensorBridge.requireDefined(clip, "clip");
        long t = cfg.numFrames();
        long s = cfg.cropSize();
        if (clip.dim() != 5 || clip.size(1) != cfg.inChannels() || clip.size(2) != t || clip.size(3) != s
                || clip.size(4) != s) {
            throw new IllegalArgumentException("clip: expected [B, " + cfg.inChannels() + ", " + t + ", " + s + ", " + s
                    + "] (this MViT takes exactly " + t + "x" + s + "x" + s + " clips), got " + TensorBridge.shapeString(clip));
        }
        PointerScope caller = PointerScope.getInnerScope();
        try (PointerScope scope = new PointerScope()) {
            requireModelDtypeAndDevice(clip);
            boolean training = root.is_training();
            long b = clip.size(0);
            Tensor x = patchEmbed.forward(clip).flatten(2, -1).transpose(1, 2);         // [B, N, E]
            x = torch.cat(new TensorVector(clsToken.expand(b, -1, -1), x), 1);           // [B, 1 + N, E]
            long[] thw = cfg.patchGrid();
            for (MultiScaleBlock block : blocks) {
                MultiScaleAttention.Tokens next;
                try (PointerScope blockScope = new PointerScope()) {
                    next = block.forward(x, thw, training);
                    scope.attach(next.x());
                }
                scope.detach(x); // frees the previous activation's handle now rather than at the end
                x = next.x();
                thw = next.thw();
            }
            Tensor normed = norm.forward(x);
            long c = normed.size(2);
            Tensor embedding = normed.select(1, 0).contiguous();                            // [B, C]
            Tensor features = normed.narrow(1, 1, thw[0] * thw[1] * thw[2]).transpose(1, 2)
                    .reshape(b, c, thw[0], thw[1], thw[2]);                                 // [B, C, T', H', W']
            Tensor logits = head.forward(torch.dropout(embedding, cfg.headDropout(), training));
            return new ModelOutput(handOut(logits, caller), handOut(embedding, caller), handOut(features, caller));
        }
    }

    private void requireModelDtypeAndDevice(Tensor clip) {
        Tensor w = patchEmbed.weight();
        if (TensorBridge.dtype(clip) != TensorBridge.dtype(w)) {
            throw new IllegalArgumentException("clip: expected dtype " + TensorBridge.dtype(w) + " (the model's), got "
                    + TensorBridge.dtype(clip));
        }
        Device dc = clip.device();
        Device dw = w.device();
        if (dc.is_cuda() != dw.is_cuda() || (dc.is_cuda() && dc.index() != dw.index())) {
            throw new IllegalArgumentException("clip: expected a tensor on " + dw.str().getString() + " (the model's device), got "
                    + dc.str().getString());
        }
    }

    /** Moves a result from the forward's scope to the caller's (or to the GC when the caller has none). */
    private static Tensor handOut(Tensor t, PointerScope caller) {
        if (caller != null) {
            caller.attach(t);
        } else {
            t.retainReference();
        }
        return t;
    }

    /**
     * @return the per-block geometry this model was built with (widths, heads, strides, grids, table lengths)
     */
    public List<MViTConfig.BlockSpec> blockSpecs() {
        List<MViTConfig.BlockSpec> out = new ArrayList<>(blocks.size());
        for (MultiScaleBlock b : blocks) {
            out.add(b.spec());
        }
        return out;
    }

    /** @return the feature map's shape for a batch of {@code b}: [b, C, T', H', W'] */
    public long[] featureShape(long b) {
        long[] g = cfg.patchGrid();
        // the pooled grids follow the convolution arithmetic (ceil for padding 1, kernel 3)
        for (MViTConfig.BlockSpec spec : cfg.blocks()) {
            long[] q = spec.qStride();
            if (spec.poolQ()) {
                long[] k = cfg.poolKernel();
                for (int d = 0; d < 3; d++) {
                    g[d] = (g[d] + 2 * (k[d] / 2) - k[d]) / q[d] + 1;
                }
            }
        }
        return new long[] {b, cfg.finalDim(), g[0], g[1], g[2]};
    }

    @Override
    public String toString() {
        return "MViT" + Arrays.toString(new long[] {cfg.numFrames(), cfg.cropSize(), cfg.cropSize()}) + " " + cfg;
    }

    /** Releases the module tree (every retained wrapper, children first). Idempotent and thread-safe. */
    @Override
    public void close() {
        if (!closed.getAndSet(true)) {
            own.releaseAll();
        }
    }
}
