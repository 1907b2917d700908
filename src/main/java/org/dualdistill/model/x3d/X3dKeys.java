package org.dualdistill.model.x3d;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Key schemes of X3D checkpoints. dualdistill's X3D uses pytorchvideo's names; PySlowFast names the same tensors
 * differently ({@code s1.pathway0_stem}, {@code s2..s5.pathway0_res{i}}, {@code head}), and PySlowFast's stem calls
 * its spatial conv {@code conv_xy} and its temporal conv {@code conv} where pytorchvideo says {@code conv_t} and
 * {@code conv_xy}. Both directions are pure string maps, usable as the rename of
 * {@link org.dualdistill.model.io.SafeTensors#loadInto}.
 */
public final class X3dKeys {
    private X3dKeys() {
    }

    private static final Pattern PSF_RES = Pattern.compile("s([2-5])\\.pathway0_res(\\d+)\\.(.+)");
    private static final Pattern PTV_RES = Pattern.compile("blocks\\.([1-4])\\.res_blocks\\.(\\d+)\\.(.+)");

    /**
     * @param key a PySlowFast X3D key (optionally prefixed by {@code module.} from DataParallel)
     * @return the pytorchvideo key, or null for keys with no counterpart
     */
    public static String fromPySlowFast(String key) {
        String k = key.startsWith("module.") ? key.substring(7) : key;
        if (k.startsWith("s1.pathway0_stem.")) {
            String r = k.substring("s1.pathway0_stem.".length());
            return "blocks.0." + swap(r, new String[][] {{"conv_xy.", "conv.conv_t."}, {"conv.", "conv.conv_xy."}, {"bn.", "norm."}});
        }
        Matcher m = PSF_RES.matcher(k);
        if (m.matches()) {
            String r = swap(m.group(3), new String[][] {
                    {"branch1.", "branch1_conv."}, {"branch1_bn.", "branch1_norm."},
                    {"branch2.a.", "branch2.conv_a."}, {"branch2.a_bn.", "branch2.norm_a."},
                    {"branch2.b.", "branch2.conv_b."}, {"branch2.b_bn.", "branch2.norm_b.0."},
                    {"branch2.se.fc1.", "branch2.norm_b.1.block.0."}, {"branch2.se.fc2.", "branch2.norm_b.1.block.2."},
                    {"branch2.c.", "branch2.conv_c."}, {"branch2.c_bn.", "branch2.norm_c."}});
            return r == null ? null : "blocks." + (Integer.parseInt(m.group(1)) - 1) + ".res_blocks." + m.group(2) + "." + r;
        }
        if (k.startsWith("head.")) {
            String r = swap(k.substring(5), new String[][] {{"conv_5.", "pool.pre_conv."}, {"conv_5_bn.", "pool.pre_norm."},
                    {"lin_5.", "pool.post_conv."}, {"projection.", "proj."}});
            return r == null ? null : "blocks.5." + r;
        }
        return null;
    }

    /**
     * @param key a pytorchvideo X3D key
     * @return the PySlowFast key, or null for keys with no counterpart
     */
    public static String toPySlowFast(String key) {
        if (key.startsWith("blocks.0.")) {
            String r = swap(key.substring(9), new String[][] {{"conv.conv_t.", "conv_xy."}, {"conv.conv_xy.", "conv."}, {"norm.", "bn."}});
            return r == null ? null : "s1.pathway0_stem." + r;
        }
        Matcher m = PTV_RES.matcher(key);
        if (m.matches()) {
            String r = swap(m.group(3), new String[][] {
                    {"branch1_conv.", "branch1."}, {"branch1_norm.", "branch1_bn."},
                    {"branch2.conv_a.", "branch2.a."}, {"branch2.norm_a.", "branch2.a_bn."},
                    {"branch2.conv_b.", "branch2.b."}, {"branch2.norm_b.0.", "branch2.b_bn."},
                    {"branch2.norm_b.1.block.0.", "branch2.se.fc1."}, {"branch2.norm_b.1.block.2.", "branch2.se.fc2."},
                    {"branch2.conv_c.", "branch2.c."}, {"branch2.norm_c.", "branch2.c_bn."}});
            return r == null ? null : "s" + (Integer.parseInt(m.group(1)) + 1) + ".pathway0_res" + m.group(2) + "." + r;
        }
        if (key.startsWith("blocks.5.")) {
            String r = swap(key.substring(9), new String[][] {{"pool.pre_conv.", "conv_5."}, {"pool.pre_norm.", "conv_5_bn."},
                    {"pool.post_conv.", "lin_5."}, {"proj.", "projection."}});
            return r == null ? null : "head." + r;
        }
        return null;
    }

    /**
     * @param zoo where a file comes from
     * @return the map from its names to ours (pytorchvideo's; a DataParallel {@code module.} prefix is dropped)
     * @throws IllegalArgumentException for torchvision (which has no X3D)
     */
    public static org.dualdistill.model.io.KeyMap from(org.dualdistill.model.io.Zoo zoo) {
        return switch (zoo) {
            case DUALDISTILL, PYTORCHVIDEO -> k -> k.startsWith("module.") ? k.substring(7) : k;
            case PYSLOWFAST -> X3dKeys::fromPySlowFast;
            case TORCHVISION -> throw new IllegalArgumentException(
                    "torchvision has no X3D; use --from pytorchvideo or pyslowfast");
        };
    }

    /** Replaces the first matching prefix (longest listed first where they overlap), or null when none matches. */
    private static String swap(String rest, String[][] pairs) {
        String best = null;
        int bestLen = -1;
        for (String[] p : pairs) {
            if (rest.startsWith(p[0]) && p[0].length() > bestLen) {
                best = p[1] + rest.substring(p[0].length());
                bestLen = p[0].length();
            }
        }
        return best;
    }
}
