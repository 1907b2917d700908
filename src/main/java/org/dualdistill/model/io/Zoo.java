package org.dualdistill.model.io;

import java.util.Locale;

/**
 * Where a checkpoint comes from, which fixes its key names: {@code --from} values. dualdistill's own names are
 * pytorchvideo's for X3D and PySlowFast's for MViTv2-S.
 */
public enum Zoo {
    /** dualdistill's own names (what {@code weights convert} and training write) */
    DUALDISTILL,
    /** pytorchvideo hub files ({@code {"model_state": ...}}) */
    PYTORCHVIDEO,
    /** PySlowFast model zoo .pyth files ({@code {epoch, model_state, optimizer_state, cfg}}) */
    PYSLOWFAST,
    /** torchvision weights (bare state dicts, e.g. {@code mvit_v2_s}) */
    TORCHVISION;

    /** @return the lower-case name used on the command line */
    public String cliName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * @param s pyslowfast, pytorchvideo, torchvision or dualdistill (any case)
     * @return the zoo
     * @throws IllegalArgumentException naming the accepted values
     */
    public static Zoo parse(String s) {
        for (Zoo z : values()) {
            if (z.cliName().equalsIgnoreCase(s.trim())) {
                return z;
            }
        }
        throw new IllegalArgumentException("unknown zoo '" + s + "' (pyslowfast, pytorchvideo, torchvision or dualdistill)");
    }
}
