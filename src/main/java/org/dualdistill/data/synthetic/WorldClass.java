package org.dualdistill.data.synthetic;

import java.util.Locale;

/**
 * The classes of the {@link SyntheticWorld}, in two {@link ClassFamily families} (docs/benchmark-world.md).
 *
 * <p>LOCAL classes show one object whose own motion decides the class. RELATION classes show two identical objects in
 * opposite halves of the frame, oscillating with the same period and amplitude; only the phase of the second object
 * minus that of the first ({@link #phaseOffset()}) differs between classes, so either object alone carries no
 * information about the class.
 */
public enum WorldClass {
    /** One object translates to the left. */
    MOVE_LEFT(ClassFamily.LOCAL, ActionClass.MOVE_LEFT, null, 0),
    /** One object translates to the right. */
    MOVE_RIGHT(ClassFamily.LOCAL, ActionClass.MOVE_RIGHT, null, 0),
    /** One oriented object turns clockwise on screen. */
    ROTATE_CW(ClassFamily.LOCAL, ActionClass.ROTATE_CW, null, 0),
    /** One oriented object turns counter-clockwise. */
    ROTATE_CCW(ClassFamily.LOCAL, ActionClass.ROTATE_CCW, null, 0),
    /** One object translates upwards. */
    MOVE_UP(ClassFamily.LOCAL, ActionClass.MOVE_UP, null, 0),
    /** One object translates downwards. */
    MOVE_DOWN(ClassFamily.LOCAL, ActionClass.MOVE_DOWN, null, 0),
    /** One object translates straight, in a random direction, fast (0.8-1.1 pixels per frame at 32 pixels). */
    MOVE_FAST(ClassFamily.LOCAL, null, null, 0),
    /** One object translates straight, in a random direction, slowly (0.2-0.45 pixels per frame at 32 pixels). */
    MOVE_SLOW(ClassFamily.LOCAL, null, null, 0),
    /** Left and right objects oscillate vertically in phase. */
    IN_PHASE(ClassFamily.RELATION, null, Arrangement.LEFT_RIGHT, 0),
    /** Left and right objects oscillate vertically in anti-phase. */
    ANTI_PHASE(ClassFamily.RELATION, null, Arrangement.LEFT_RIGHT, Math.PI),
    /** The left object's vertical oscillation is a quarter period ahead of the right one's. */
    LEFT_LEADS(ClassFamily.RELATION, null, Arrangement.LEFT_RIGHT, -Math.PI / 2),
    /** The right object's vertical oscillation is a quarter period ahead of the left one's. */
    RIGHT_LEADS(ClassFamily.RELATION, null, Arrangement.LEFT_RIGHT, Math.PI / 2),
    /** The top object's horizontal oscillation is a quarter period ahead of the bottom one's. */
    TOP_LEADS(ClassFamily.RELATION, null, Arrangement.TOP_BOTTOM, -Math.PI / 2),
    /** The bottom object's horizontal oscillation is a quarter period ahead of the top one's. */
    BOTTOM_LEADS(ClassFamily.RELATION, null, Arrangement.TOP_BOTTOM, Math.PI / 2);

    /** Where the two objects of a relation class sit, and along which axis they oscillate. */
    public enum Arrangement {
        /** First object in the left half, second in the right half; both oscillate vertically. */
        LEFT_RIGHT,
        /** First object in the top half, second in the bottom half; both oscillate horizontally. */
        TOP_BOTTOM
    }

    private final ClassFamily family;
    private final ActionClass motion;
    private final Arrangement arrangement;
    private final double phaseOffset;

    WorldClass(ClassFamily family, ActionClass motion, Arrangement arrangement, double phaseOffset) {
        this.family = family;
        this.motion = motion;
        this.arrangement = arrangement;
        this.phaseOffset = phaseOffset;
    }

    /** @return the family of the class */
    public ClassFamily family() {
        return family;
    }

    /** @return the arrangement of a relation class's two objects; null for a local class */
    public Arrangement arrangement() {
        return arrangement;
    }

    /**
     * @return for a relation class, the phase of the second object (right or bottom) minus that of the first (left or
     *         top), in radians, where an object's offset from its centre is {@code amplitude * sin(2 pi t / P + phase)};
     *         a negative offset means the first object is ahead. 0 for local classes.
     */
    public double phaseOffset() {
        return phaseOffset;
    }

    /** The action of {@link SyntheticActionDataset} whose motion a local class shares, or null. */
    ActionClass motion() {
        return motion;
    }

    /** @return the folder and split-file name, e.g. {@code "left_leads"} */
    public String folderName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
