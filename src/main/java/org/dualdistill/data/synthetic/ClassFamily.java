package org.dualdistill.data.synthetic;

import java.util.Locale;

/**
 * The two class families of the {@link SyntheticWorld} (docs/benchmark-world.md): classes decided by the local motion of
 * one object, and classes decided by the relation between two far-apart objects.
 */
public enum ClassFamily {
    /** Direction, speed or rotation of one object: the evidence lies within a few pixels of it. */
    LOCAL,
    /** Relative phase of two far-apart objects: each object alone is uninformative. */
    RELATION;

    /** @return the lower-case name used in {@code families.txt} and reports, e.g. {@code "relation"} */
    public String key() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * @param key a name as {@link #key()} writes it (case-insensitive)
     * @return the family
     * @throws IllegalArgumentException if it names none
     */
    public static ClassFamily ofKey(String key) {
        for (ClassFamily f : values()) {
            if (f.key().equalsIgnoreCase(key)) {
                return f;
            }
        }
        throw new IllegalArgumentException("unknown class family '" + key + "' (expected local or relation)");
    }
}
