package org.dualdistill.data.synthetic;

import java.util.Locale;

/**
 * The actions of the synthetic dataset. They come in pairs that differ only in the direction of time: each class of a
 * pair is the other played backwards, so the set of frames of a video (and any single frame) says nothing about which
 * of the two it is; only their order does. A model must look at motion, as on real action datasets.
 *
 * <p>By default a dataset with {@code numClasses = k} uses the first k constants, so pairs stay complete for even k, and
 * a class's label is its position in this enum; {@link SyntheticConfig.Builder#optClasses} picks another list, whose
 * order then gives the labels.
 */
public enum ActionClass {
    /** One object translates to the left. */
    MOVE_LEFT(Motion.TRANSLATE_X, true),
    /** One object translates to the right. */
    MOVE_RIGHT(Motion.TRANSLATE_X, false),
    /** An asymmetric object turns clockwise (as seen on screen). */
    ROTATE_CW(Motion.ROTATE, false),
    /** An asymmetric object turns counter-clockwise. */
    ROTATE_CCW(Motion.ROTATE, true),
    /** One object grows. */
    GROW(Motion.SCALE, false),
    /** One object shrinks. */
    SHRINK(Motion.SCALE, true),
    /** Two objects move towards each other. */
    APPROACH(Motion.PAIR_DISTANCE, false),
    /** Two objects move apart. */
    SEPARATE(Motion.PAIR_DISTANCE, true),
    /** One object translates upwards. */
    MOVE_UP(Motion.TRANSLATE_Y, true),
    /** One object translates downwards. */
    MOVE_DOWN(Motion.TRANSLATE_Y, false);

    /** The kind of motion a pair shares; its forward direction is the member with {@code reversed == false}. */
    enum Motion {
        TRANSLATE_X, TRANSLATE_Y, ROTATE, SCALE, PAIR_DISTANCE
    }

    private final Motion motion;
    private final boolean reversed;

    ActionClass(Motion motion, boolean reversed) {
        this.motion = motion;
        this.reversed = reversed;
    }

    Motion motion() {
        return motion;
    }

    /** @return whether this class plays its pair's motion backwards */
    public boolean reversed() {
        return reversed;
    }

    /** @return the class whose videos are this class's videos played backwards */
    public ActionClass partner() {
        for (ActionClass c : values()) {
            if (c.motion == motion && c != this) {
                return c;
            }
        }
        throw new AssertionError("unpaired class " + this);
    }

    /** @return the folder and split-file name of the class, e.g. {@code "move_left"} */
    public String folderName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** @return the default label (the ordinal; a dataset's own label is {@link SyntheticConfig#labelOf}) */
    public int label() {
        return ordinal();
    }
}
