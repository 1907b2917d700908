package org.dualdistill.internal;

import java.lang.ref.Cleaner;

/**
 * The single safety net of dualdistill's native owners (STYLE B4.7): one process-wide {@link Cleaner} that, when an
 * owner becomes unreachable without having been closed, frees what it held and logs a warning. With
 * {@code -Ddualdistill.trackResources=true} the warning carries the stack that created the leaked object.
 * Correctness never depends on it: close what you open.
 */
public final class Leaks {
    /** The shared cleaner (one thread for the whole library). */
    public static final Cleaner CLEANER = Cleaner.create();
    private static final boolean TRACK = Boolean.getBoolean("dualdistill.trackResources");
    private static final System.Logger LOG = System.getLogger("org.dualdistill.resources");

    private Leaks() {
    }

    /** @return the creation stack when tracking is on, else null */
    public static Throwable origin(String what) {
        return TRACK ? new Throwable(what + " created here") : null;
    }

    /** Logs that {@code what} was freed by the cleaner, with its creation stack when tracked. */
    public static void report(String what, Throwable origin) {
        if (origin != null) {
            LOG.log(System.Logger.Level.WARNING, what + " was not closed; freed by the cleaner", origin);
        } else {
            LOG.log(System.Logger.Level.WARNING, what + " was not closed; freed by the cleaner"
                    + " (run with -Ddualdistill.trackResources=true to see where it was created)");
        }
    }
}
