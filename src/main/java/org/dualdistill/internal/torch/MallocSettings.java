package org.dualdistill.internal.torch;

import java.util.Locale;
import java.util.Map;

/**
 * Tells whether this process's glibc malloc keeps freed tensor memory for reuse, and says once when it does not.
 *
 * <p>Why: with glibc's defaults every block above the mmap threshold (at most 32 MiB) is mapped fresh and unmapped
 * on free, and a thread outside the main arena maps any block bigger than its 64 MiB heaps the same way, so the
 * kernel zero-fills every page of every large tensor on first touch. A CPU training step allocates and frees
 * gigabytes of activations; X3D-S batch-8 training steps ran 3.7x (our depthwise kernels) to 10x (LibTorch's
 * depthwise conv3d with oneDNN off) slower that way than with {@code MALLOC_ARENA_MAX=1 MALLOC_MMAP_MAX_=0} and no
 * trimming (benchmarks/RESULTS.md, "The allocator"). glibc reads these settings once, when the process starts, so
 * they cannot be applied from here: {@code ./dualdistill} and {@code benchmarks/run.sh} export them
 * ({@code src/main/sh/malloc-env.sh}); an application embedding dualdistill sets them before the JVM starts.
 *
 * <p>Environment {@code DUALDISTILL_MALLOC=system} marks glibc's defaults as chosen (no hint).
 */
final class MallocSettings {
    static final String SETTINGS = "MALLOC_ARENA_MAX=1 MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736"
            + " MALLOC_TOP_PAD_=268435456";

    private MallocSettings() {
    }

    /**
     * @param env the process environment as it was at start ({@link System#getenv()})
     * @param os  {@code os.name}
     * @return one line: whether large freed blocks are reused ("reused"), mapped fresh ("glibc defaults"), or unknown
     */
    static String describe(Map<String, String> env, String os) {
        if (!os.toLowerCase(Locale.ROOT).contains("linux")) {
            return "not glibc (" + os + "): the system allocator as it is";
        }
        String tunables = env.getOrDefault("GLIBC_TUNABLES", "");
        boolean oneArena = "1".equals(env.get("MALLOC_ARENA_MAX")) || tunables.matches("(.*:)?glibc\\.malloc\\.arena_max=1(:.*)?");
        boolean noMmap = "0".equals(env.get("MALLOC_MMAP_MAX_")) || tunables.matches("(.*:)?glibc\\.malloc\\.mmap_max=0(:.*)?");
        if (oneArena && noMmap) {
            return "glibc, freed tensor memory reused (MALLOC_ARENA_MAX=1, MALLOC_MMAP_MAX_=0)";
        }
        String why = "glibc: tensors above 32 MiB are mapped and zero-filled on every allocation"
                + (oneArena || noMmap ? " (only one of MALLOC_ARENA_MAX=1, MALLOC_MMAP_MAX_=0 is set)" : "");
        return "system".equalsIgnoreCase(env.get("DUALDISTILL_MALLOC")) ? why + " (DUALDISTILL_MALLOC=system)" : why;
    }

    /** @return true when {@link #describe} found the reuse settings */
    static boolean reused(String description) {
        return description.startsWith("glibc, freed");
    }

    /** Logs one INFO line when large tensors are mapped fresh and the user did not choose that. */
    static String check() {
        String d = describe(System.getenv(), System.getProperty("os.name", ""));
        if (d.startsWith("glibc:") && !d.endsWith("(DUALDISTILL_MALLOC=system)")) {
            System.getLogger("org.dualdistill").log(System.Logger.Level.INFO, d + "; CPU training steps run several"
                    + " times slower that way. ./dualdistill and benchmarks/run.sh set " + SETTINGS + "; set them"
                    + " before the JVM starts (or DUALDISTILL_MALLOC=system to keep glibc's defaults quietly)");
        }
        return d;
    }
}
