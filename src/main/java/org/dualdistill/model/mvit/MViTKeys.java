package org.dualdistill.model.mvit;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.dualdistill.model.io.KeyMap;
import org.dualdistill.model.io.Zoo;

/**
 * Key schemes of MViTv2 checkpoints. dualdistill's MViT uses PySlowFast's names; torchvision's
 * {@code mvit_v2_s} names the same tensors {@code conv_proj}, {@code pos_encoding.class_token} (shape [C] where ours
 * is [1, 1, C]), {@code blocks.N.attn.project.0}, {@code blocks.N.attn.pool_X.pool} and {@code .norm_act.0} (our
 * {@code attn.pool_X} and {@code attn.norm_X}), {@code blocks.N.mlp.0} / {@code .3} (our {@code mlp.fc1} / {@code fc2}),
 * {@code blocks.N.project} (our {@code blocks.N.proj}) and {@code head.1} (our {@code head.projection}). pytorchvideo
 * has no MViTv2. Pure string maps (thread-safe).
 */
public final class MViTKeys {
    private MViTKeys() {
    }

    private static final Pattern TV_BLOCK = Pattern.compile("blocks\\.(\\d+)\\.(.+)");
    private static final String[][] BLOCK = {
            {"attn.project.0.", "attn.proj."}, {"mlp.0.", "mlp.fc1."}, {"mlp.3.", "mlp.fc2."}, {"project.", "proj."},
            {"attn.pool_q.pool.", "attn.pool_q."}, {"attn.pool_k.pool.", "attn.pool_k."}, {"attn.pool_v.pool.", "attn.pool_v."},
            {"attn.pool_q.norm_act.0.", "attn.norm_q."}, {"attn.pool_k.norm_act.0.", "attn.norm_k."},
            {"attn.pool_v.norm_act.0.", "attn.norm_v."},
            {"attn.qkv.", "attn.qkv."}, {"norm1.", "norm1."}, {"norm2.", "norm2."}, {"attn.rel_pos_h", "attn.rel_pos_h"},
            {"attn.rel_pos_w", "attn.rel_pos_w"}, {"attn.rel_pos_t", "attn.rel_pos_t"}};

    /**
     * @param key a torchvision mvit key
     * @return our (PySlowFast) key, or null for keys with no counterpart
     */
    public static String fromTorchvision(String key) {
        if (key.startsWith("conv_proj.")) {
            return "patch_embed.proj." + key.substring("conv_proj.".length());
        }
        if (key.equals("pos_encoding.class_token")) {
            return "cls_token";
        }
        if (key.startsWith("head.1.")) {
            return "head.projection." + key.substring("head.1.".length());
        }
        if (key.equals("norm.weight") || key.equals("norm.bias")) {
            return key;
        }
        Matcher m = TV_BLOCK.matcher(key);
        if (m.matches()) {
            String r = swap(m.group(2), BLOCK, 0);
            return r == null ? null : "blocks." + m.group(1) + "." + r;
        }
        return null;
    }

    /**
     * @param key our (PySlowFast) key
     * @return the torchvision key, or null for keys with no counterpart (the cls token's shape differs: [C] there)
     */
    public static String toTorchvision(String key) {
        if (key.startsWith("patch_embed.proj.")) {
            return "conv_proj." + key.substring("patch_embed.proj.".length());
        }
        if (key.equals("cls_token")) {
            return "pos_encoding.class_token";
        }
        if (key.startsWith("head.projection.")) {
            return "head.1." + key.substring("head.projection.".length());
        }
        if (key.equals("norm.weight") || key.equals("norm.bias")) {
            return key;
        }
        Matcher m = TV_BLOCK.matcher(key);
        if (m.matches()) {
            String r = swap(m.group(2), BLOCK, 1);
            return r == null ? null : "blocks." + m.group(1) + "." + r;
        }
        return null;
    }

    /**
     * @param zoo where a file comes from
     * @return the map from its names to ours
     * @throws IllegalArgumentException for pytorchvideo (which has no MViTv2)
     */
    public static KeyMap from(Zoo zoo) {
        return switch (zoo) {
            case DUALDISTILL, PYSLOWFAST -> k -> k.startsWith("module.") ? k.substring(7) : k;
            case TORCHVISION -> new KeyMap() {
                @Override
                public String toModel(String fileKey) {
                    return fromTorchvision(fileKey);
                }

                @Override
                public long[] modelShape(String modelKey, long[] fileShape) {
                    return modelKey.equals("cls_token") && fileShape.length == 1 ? new long[] {1, 1, fileShape[0]} : fileShape;
                }
            };
            case PYTORCHVIDEO -> throw new IllegalArgumentException(
                    "pytorchvideo has no MViTv2 (only MViTv1 mvit_base_16x4/32x3); use --from pyslowfast or torchvision");
        };
    }

    /** Replaces the longest matching prefix (column {@code from} of the pairs), or null when none matches. */
    private static String swap(String rest, String[][] pairs, int from) {
        String best = null;
        int bestLen = -1;
        for (String[] p : pairs) {
            String a = p[from];
            boolean exact = !a.endsWith(".");
            if ((exact ? rest.equals(a) : rest.startsWith(a)) && a.length() > bestLen) {
                best = p[1 - from] + rest.substring(a.length());
                bestLen = a.length();
            }
        }
        return best;
    }
}
