package org.dualdistill.model;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.model.mvit.MViT;
import org.dualdistill.model.mvit.MViTConfig;
import org.dualdistill.model.slowfast.SlowFast;
import org.dualdistill.model.x3d.X3d;

/**
 * The model registry: every architecture the recipes and the CLI build, by name.
 *
 * <table>
 * <caption>Presets</caption>
 * <tr><th>name</th><th>architecture</th><th>canonical view (T x stride, crop, train jitter, test)</th></tr>
 * <tr><td>x3d_xs</td><td>X3D-XS</td><td>4x12, 160, [182, 228], 182</td></tr>
 * <tr><td>x3d_s</td><td>X3D-S</td><td>13x6, 160, [182, 228], 182</td></tr>
 * <tr><td>x3d_m</td><td>X3D-M</td><td>16x5, 224, [256, 320], 256</td></tr>
 * <tr><td>x3d_l</td><td>X3D-L</td><td>16x5, 312, [356, 446], 356</td></tr>
 * <tr><td>mvitv2_s</td><td>MViTv2-S</td><td>16x4, 224, [256, 320], 224</td></tr>
 * <tr><td>slowfast_r50</td><td>SlowFast-R50 8x8</td><td>32x2 (slow: 8 of them), 224, [256, 320], 256</td></tr>
 * <tr><td>x3d_demo</td><td>X3D width 0.5, depth 0.5, head 64 (the demo's student)</td><td>4x2, 32, [32, 37], 32</td></tr>
 * <tr><td>x3d_demo_wide</td><td>the same at width 1.0 (the demo's CNN teacher)</td><td>4x2, 32, [32, 37], 32</td></tr>
 * <tr><td>mvit_demo</td><td>MViT, 2 blocks of width 16 (the demo's ViT teacher)</td><td>8x1, 32, [32, 37], 32</td></tr>
 * </table>
 * The full-size views are PySlowFast's configs ({@code configs/Kinetics/X3D_*.yaml}, {@code MVITv2_S_16x4.yaml});
 * every model uses Kinetics normalization (mean 0.45, std 0.225). The registry is open: {@link #register} adds an
 * entry, and a name is refused when taken.
 *
 * <p>Thread-safe (registration is synchronized; presets are immutable).
 */
public final class ModelZoo {
    /** Feature taps of the X3D family. */
    public static final List<String> X3D_TAPS = List.of("logits [B, C]",
            "embedding [B, headDimOut]: pooled post-conv features", "features [B, C5, T, H/32, W/32]: res5 map (SDD, hint)");
    /** Feature taps of the MViT family. */
    public static final List<String> MVIT_TAPS = List.of("logits [B, C]", "embedding [B, D]: final cls token (RKD)",
            "features [B, D, T/2, H/32, W/32]: last-stage tokens without cls (SDD)");

    /** Feature taps of SlowFast. */
    public static final List<String> SLOWFAST_TAPS = List.of("logits [B, C]",
            "embedding [B, 2304]: pooled slow + fast res5 (RKD)",
            "features [B, 2304, T/4, H/32, W/32]: slow res5 and temporally pooled fast res5, concatenated (SDD)");

    private static final Map<String, ModelPreset> PRESETS = new LinkedHashMap<>();

    static {
        register(x3d("x3d_xs", "X3D-XS (pytorchvideo x3d_xs)", X3d.Preset.XS, ModelView.of(4, 12, 160, 182, 228, 182)));
        register(x3d("x3d_s", "X3D-S (pytorchvideo x3d_s)", X3d.Preset.S, ModelView.of(13, 6, 160, 182, 228, 182)));
        register(x3d("x3d_m", "X3D-M (pytorchvideo x3d_m)", X3d.Preset.M, ModelView.of(16, 5, 224, 256, 320, 256)));
        register(x3d("x3d_l", "X3D-L (pytorchvideo x3d_l)", X3d.Preset.L, ModelView.of(16, 5, 312, 356, 446, 356)));
        register(new ModelPreset("mvitv2_s", "mvit", "MViTv2-S 16x4 (PySlowFast MVITv2_S_16x4)",
                ModelView.of(16, 4, 224, 256, 320, 224), MVIT_TAPS,
                (c, v) -> new MViT(MViTConfig.builder().numClasses(c).numFrames(v.frames()).cropSize(v.crop()).build()),
                (m, v) -> ((MViT) m).config().gmacs()));
        SlowFast.CanonicalView sf = SlowFast.CANONICAL_VIEW;
        register(new ModelPreset("slowfast_r50", "slowfast", "SlowFast-R50 8x8 (pytorchvideo slowfast_r50; alpha 4, beta 1/8)",
                ModelView.of(sf.fastFrames(), sf.samplingRate(), sf.crop(), sf.trainJitterMin(), sf.trainJitterMax(),
                        sf.testShortSide()), SLOWFAST_TAPS,
                (c, v) -> SlowFast.builder().numClasses(c).frames(v.frames()).crop(v.crop()).build(),
                (m, v) -> ((SlowFast) m).config().gmacs(v.frames(), v.crop(), v.crop())));
        ModelView demo = ModelView.of(4, 2, 32, 32, 37, 32);
        register(new ModelPreset("x3d_demo", "x3d", "reduced X3D: width 0.5, depth 0.5, head 64, no dropout (demo student)",
                demo, X3D_TAPS, (c, v) -> reducedX3d(c, v, 0.5, 0.0), ModelZoo::x3dMacs));
        register(new ModelPreset("x3d_demo_wide", "x3d", "reduced X3D at width 1.0, dropout 0.2 (demo CNN teacher)",
                demo, X3D_TAPS, (c, v) -> reducedX3d(c, v, 1.0, 0.2), ModelZoo::x3dMacs));
        register(new ModelPreset("mvit_demo", "mvit", "reduced MViT: 2 blocks, width 16, 1 head, kv stride crop/16 (demo ViT teacher)",
                ModelView.of(8, 1, 32, 32, 37, 32), MVIT_TAPS, ModelZoo::reducedMvit, (m, v) -> ((MViT) m).config().gmacs()));
    }

    private ModelZoo() {
    }

    /**
     * Adds a preset.
     *
     * @param preset the entry
     * @throws IllegalArgumentException when its name is taken
     */
    public static synchronized void register(ModelPreset preset) {
        if (PRESETS.putIfAbsent(preset.name(), preset) != null) {
            throw new IllegalArgumentException("model registry: " + preset.name() + " is already registered");
        }
    }

    /**
     * @param name a registry name (any case)
     * @return the preset
     * @throws IllegalArgumentException naming the known presets when there is none of that name
     */
    public static synchronized ModelPreset get(String name) {
        ModelPreset p = name == null ? null : PRESETS.get(name.toLowerCase(Locale.ROOT));
        if (p == null) {
            throw new IllegalArgumentException("unknown model \"" + name + "\" (known: " + String.join(", ", PRESETS.keySet()) + ")");
        }
        return p;
    }

    /** @return whether {@code name} is registered */
    public static synchronized boolean contains(String name) {
        return name != null && PRESETS.containsKey(name.toLowerCase(Locale.ROOT));
    }

    /** @return every preset, in registration order */
    public static synchronized Collection<ModelPreset> all() {
        return List.copyOf(PRESETS.values());
    }

    /** @return every registered name, in registration order */
    public static synchronized List<String> names() {
        return new ArrayList<>(PRESETS.keySet());
    }

    /**
     * Parameters and GMACs of a preset at a view, from a model built for the count.
     *
     * @param params parameter count
     * @param gmacs  multiply-accumulates of one clip, billions
     * @param featureChannels channels of the {@code features} tap (what the objective's SDD aligns)
     */
    public record Stats(long params, double gmacs, long featureChannels) {
    }

    /**
     * Builds the model once and measures it.
     *
     * @param preset     the preset
     * @param numClasses head classes
     * @param view       the input view
     * @return its statistics
     */
    public static Stats stats(ModelPreset preset, long numClasses, ModelView view) {
        try (VideoModel m = preset.build(numClasses, view)) {
            return new Stats(m.parameterCount(), preset.macs().gmacs(m, view), featureChannels(m, view));
        }
    }

    /**
     * @param model a model (borrowed)
     * @param view  its input view
     * @return channels of its {@code features} tap: analytic for MViT, by one no-grad forward of a small clip for
     *         fully convolutional models and at the view's size otherwise
     */
    public static long featureChannels(VideoModel model, ModelView view) {
        if (model instanceof MViT m) {
            return m.config().finalDim();
        }
        if (model instanceof SlowFast sf) {
            return sf.config().headChannels();
        }
        boolean conv = model instanceof X3d; // SlowFast's head pool is sized at build: it runs at the view's size
        int t = conv ? 1 : view.frames();
        int s = conv ? 32 : view.crop();
        try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            boolean training = model.module().is_training();
            model.module().eval();
            org.bytedeco.pytorch.Device dev = model.module().parameters().get(0).device();
            long c = model.forward(torch.zeros(1, 3, t, s, s).to(dev, torch.ScalarType.Float)).features().size(1);
            model.module().train(training);
            return c;
        }
    }

    private static ModelPreset x3d(String name, String description, X3d.Preset p, ModelView view) {
        return new ModelPreset(name, "x3d", description, view, X3D_TAPS,
                (c, v) -> X3d.builder().preset(p).numClasses(c).clipLength(v.frames()).crop(v.crop()).build(),
                ModelZoo::x3dMacs);
    }

    private static double x3dMacs(VideoModel m, ModelView v) {
        return ((X3d) m).gmacs(v.frames(), v.crop());
    }

    private static X3d reducedX3d(long classes, ModelView v, double width, double dropout) {
        return X3d.builder().widthFactor(width).depthFactor(0.5).headDimOut(64).numClasses(classes).dropout(dropout)
                .clipLength(v.frames()).crop(v.crop()).build();
    }

    /**
     * The reduced MViT. Its spatial kv-pooling stride scales with the token grid (crop / 16, at least 1): MViTv2-S's 8
     * suits its 56x56 grid, but on the 8x8 grid of a 32-pixel crop it let keys and values see only the top-left
     * tokens, and the teacher stayed at chance.
     */
    private static MViT reducedMvit(long classes, ModelView v) {
        long kv = Math.max(1, v.crop() / 16);
        return new MViT(MViTConfig.builder().depth(2).embedDim(16).numHeads(1).stageStarts(1).numFrames(v.frames())
                .cropSize(v.crop()).numClasses(classes).dropPathRate(0).kvStrideAdaptive(1, kv, kv).build());
    }
}
