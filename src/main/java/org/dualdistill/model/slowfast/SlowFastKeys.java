package org.dualdistill.model.slowfast;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Key schemes of SlowFast checkpoints. dualdistill's {@link SlowFast} uses pytorchvideo's names, so
 * {@link #fromPytorchvideo} and {@link #toPytorchvideo} are the identity on SlowFast keys (and refuse anything else).
 * PySlowFast names the same tensors by stage and pathway:
 * <pre>
 *   pytorchvideo                                                PySlowFast
 *   blocks.0.multipathway_blocks.P.conv / .norm                 s1.pathwayP_stem.conv / .bn
 *   blocks.L.multipathway_fusion.conv_fast_to_slow / .norm      s{L+1}_fuse.conv_f2s / .bn        (L = 0..3)
 *   blocks.L.multipathway_blocks.P.res_blocks.I.                s{L+1}.pathwayP_resI.             (L = 1..4)
 *       branch1_conv / branch1_norm                                 branch1 / branch1_bn
 *       branch2.conv_a / norm_a / conv_b / norm_b / conv_c / norm_c branch2.a / a_bn / b / b_bn / c / c_bn
 *   blocks.6.proj                                               head.projection
 * </pre>
 * The tensor suffix (weight, bias, running_mean, running_var, num_batches_tracked) is kept. Every map is a pure string
 * function, usable as the rename of {@link org.dualdistill.model.io.SafeTensors#loadInto}; a key with no counterpart
 * gives null. Checked over the whole R50 state_dict against name lists derived from both codebases (SlowFastKeysTest).
 */
public final class SlowFastKeys {
    private SlowFastKeys() {
    }

    private static final Pattern PTV_STEM = Pattern.compile("blocks\\.0\\.multipathway_blocks\\.([01])\\.(conv|norm)\\.(\\w+)");
    private static final Pattern PTV_FUSE = Pattern.compile("blocks\\.([0-3])\\.multipathway_fusion\\.(conv_fast_to_slow|norm)\\.(\\w+)");
    private static final Pattern PTV_RES = Pattern.compile(
            "blocks\\.([1-4])\\.multipathway_blocks\\.([01])\\.res_blocks\\.(\\d+)\\.(branch1_conv|branch1_norm|branch2\\.(?:conv|norm)_[abc])\\.(\\w+)");
    private static final Pattern PTV_HEAD = Pattern.compile("blocks\\.6\\.proj\\.(weight|bias)");

    private static final Pattern PSF_STEM = Pattern.compile("s1\\.pathway([01])_stem\\.(conv|bn)\\.(\\w+)");
    private static final Pattern PSF_FUSE = Pattern.compile("s([1-4])_fuse\\.(conv_f2s|bn)\\.(\\w+)");
    private static final Pattern PSF_RES = Pattern.compile(
            "s([2-5])\\.pathway([01])_res(\\d+)\\.(branch1|branch1_bn|branch2\\.[abc](?:_bn)?)\\.(\\w+)");
    private static final Pattern PSF_HEAD = Pattern.compile("head\\.projection\\.(weight|bias)");

    private static final String[][] RES_PARTS = {
            {"branch1_conv", "branch1"}, {"branch1_norm", "branch1_bn"},
            {"branch2.conv_a", "branch2.a"}, {"branch2.norm_a", "branch2.a_bn"},
            {"branch2.conv_b", "branch2.b"}, {"branch2.norm_b", "branch2.b_bn"},
            {"branch2.conv_c", "branch2.c"}, {"branch2.norm_c", "branch2.c_bn"}};

    private static final java.util.Set<String> SUFFIXES = java.util.Set.of("weight", "bias", "running_mean", "running_var",
            "num_batches_tracked");

    /**
     * @param key a pytorchvideo SlowFast key (optionally prefixed by {@code module.} from DataParallel)
     * @return the PySlowFast key, or null for keys with no counterpart
     */
    public static String toPySlowFast(String key) {
        String k = strip(key);
        Matcher m = PTV_STEM.matcher(k);
        if (m.matches() && SUFFIXES.contains(m.group(3))) {
            return "s1.pathway" + m.group(1) + "_stem." + (m.group(2).equals("conv") ? "conv" : "bn") + "." + m.group(3);
        }
        m = PTV_FUSE.matcher(k);
        if (m.matches() && SUFFIXES.contains(m.group(3))) {
            return "s" + (Integer.parseInt(m.group(1)) + 1) + "_fuse." + (m.group(2).equals("norm") ? "bn" : "conv_f2s")
                    + "." + m.group(3);
        }
        m = PTV_RES.matcher(k);
        if (m.matches() && SUFFIXES.contains(m.group(5))) {
            return "s" + (Integer.parseInt(m.group(1)) + 1) + ".pathway" + m.group(2) + "_res" + m.group(3) + "."
                    + swap(m.group(4), 0, 1) + "." + m.group(5);
        }
        m = PTV_HEAD.matcher(k);
        if (m.matches()) {
            return "head.projection." + m.group(1);
        }
        return null;
    }

    /**
     * @param key a PySlowFast SlowFast key (optionally prefixed by {@code module.})
     * @return the pytorchvideo key (= dualdistill's), or null for keys with no counterpart
     */
    public static String fromPySlowFast(String key) {
        String k = strip(key);
        Matcher m = PSF_STEM.matcher(k);
        if (m.matches() && SUFFIXES.contains(m.group(3))) {
            return "blocks.0.multipathway_blocks." + m.group(1) + "." + (m.group(2).equals("conv") ? "conv" : "norm") + "."
                    + m.group(3);
        }
        m = PSF_FUSE.matcher(k);
        if (m.matches() && SUFFIXES.contains(m.group(3))) {
            return "blocks." + (Integer.parseInt(m.group(1)) - 1) + ".multipathway_fusion."
                    + (m.group(2).equals("bn") ? "norm" : "conv_fast_to_slow") + "." + m.group(3);
        }
        m = PSF_RES.matcher(k);
        if (m.matches() && SUFFIXES.contains(m.group(5))) {
            String part = swap(m.group(4), 1, 0);
            return part == null ? null : "blocks." + (Integer.parseInt(m.group(1)) - 1) + ".multipathway_blocks." + m.group(2)
                    + ".res_blocks." + m.group(3) + "." + part + "." + m.group(5);
        }
        m = PSF_HEAD.matcher(k);
        if (m.matches()) {
            return "blocks.6.proj." + m.group(1);
        }
        return null;
    }

    /**
     * pytorchvideo's hub checkpoints already use our names; this checks that a key is a SlowFast key.
     *
     * @param key a pytorchvideo SlowFast key (optionally prefixed by {@code module.})
     * @return the key without the prefix, or null when it is not a SlowFast state_dict key
     */
    public static String fromPytorchvideo(String key) {
        String k = strip(key);
        return toPySlowFast(k) == null ? null : k;
    }

    /**
     * @param key one of our (pytorchvideo) keys
     * @return the same key, or null when it is not a SlowFast state_dict key
     */
    public static String toPytorchvideo(String key) {
        return fromPytorchvideo(key);
    }

    private static String strip(String key) {
        return key.startsWith("module.") ? key.substring(7) : key;
    }

    private static String swap(String part, int from, int to) {
        for (String[] p : RES_PARTS) {
            if (p[from].equals(part)) {
                return p[to];
            }
        }
        return null;
    }

    /**
     * @param zoo where a checkpoint comes from
     * @return the map from its names to ours (pytorchvideo's are ours; a DDP {@code module.} prefix is dropped)
     * @throws IllegalArgumentException for torchvision, which has no SlowFast
     */
    public static org.dualdistill.model.io.KeyMap from(org.dualdistill.model.io.Zoo zoo) {
        return switch (zoo) {
            case DUALDISTILL -> k -> k.startsWith("module.") ? k.substring(7) : k;
            case PYTORCHVIDEO -> SlowFastKeys::fromPytorchvideo;
            case PYSLOWFAST -> SlowFastKeys::fromPySlowFast;
            case TORCHVISION -> throw new IllegalArgumentException(
                    "torchvision has no SlowFast; use --from pytorchvideo or pyslowfast");
        };
    }
}
