package org.dualdistill.data;

import java.lang.ref.Cleaner;

/**
 * The single safety net of this package's native owners (STYLE B4.7): a {@link Cleaner} that frees a {@link Batch}
 * that became unreachable without being closed and logs a warning. With {@code -Ddualdistill.trackResources=true}
 * the warning carries the stack that created it. Correctness never depends on it: close every batch.
 */
final class Leaks {
    static final Cleaner CLEANER = Cleaner.create();
    private static final boolean TRACK = Boolean.getBoolean("dualdistill.trackResources");
    private static final System.Logger LOG = System.getLogger("org.dualdistill.data");

    private Leaks() {
    }

    static Throwable origin(String what) {
        return TRACK ? new Throwable(what + " created here") : null;
    }

    static void report(String what, Throwable origin) {
        if (origin != null) {
            LOG.log(System.Logger.Level.WARNING, what + " was not closed; freed by the cleaner", origin);
        } else {
            LOG.log(System.Logger.Level.WARNING, what + " was not closed; freed by the cleaner"
                    + " (run with -Ddualdistill.trackResources=true to see where it was created)");
        }
    }
}
