package org.dualdistill.data.synthetic;

/**
 * The appearance domain of a stage of the {@link SyntheticWorld}: the source (the Kinetics-400 stand-in) and the target
 * (the HMDB51 stand-in) differ in background texture and in the ranges of the relation objects' size and period
 * (docs/benchmark-world.md). Ranges are fractions of the frame's smaller side, periods are in frames.
 */
public enum WorldDomain {
    /** Gratings and checkers; relation objects 0.07-0.12 of the frame, periods 6-14 frames. */
    SOURCE(new Scene.Texture[] {Scene.Texture.GRATING, Scene.Texture.CHECKER}, 0.07, 0.12, 6, 14),
    /** Smooth blobs; relation objects 0.08-0.11 of the frame, periods 8-12 frames. */
    TARGET(new Scene.Texture[] {Scene.Texture.BLOBS}, 0.08, 0.11, 8, 12);

    private final Scene.Texture[] textures;
    final double sizeLo;
    final double sizeHi;
    final double periodLo;
    final double periodHi;

    WorldDomain(Scene.Texture[] textures, double sizeLo, double sizeHi, double periodLo, double periodHi) {
        this.textures = textures;
        this.sizeLo = sizeLo;
        this.sizeHi = sizeHi;
        this.periodLo = periodLo;
        this.periodHi = periodHi;
    }

    Scene.Texture[] textures() {
        return textures.clone();
    }

    /** @return the name of the stage folder, {@code "source"} or {@code "target"} */
    public String folderName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
