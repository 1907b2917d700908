package org.dualdistill.internal.torch;

import java.io.IOException;

import org.bytedeco.javacpp.Loader;

/**
 * Prepares LibTorch's native libraries before the first {@code org.bytedeco.pytorch} class initializes.
 *
 * <p>Why: with an empty JavaCPP cache ({@code ~/.javacpp/cache}), the presets extract and load their libraries one
 * by one, and {@code libtorch.so} is loaded before {@code libtorch_cpu.so} has been extracted. The dynamic linker then
 * resolves {@code libtorch_cpu.so} from the system library path if one is there (Debian's python3-torch installs a
 * 1.13 one in {@code /usr/lib/x86_64-linux-gnu}), two LibTorch versions end up mapped together, and the JVM dies
 * with SIGSEGV in {@code pthread_mutex_lock} (reproduced with a fresh {@code -Dorg.bytedeco.javacpp.cachedir}).
 * Extracting the whole native folder first, without loading anything, avoids it. Every entry point of dualdistill (CLI, tests, benchmarks,
 * {@code DatwLoss}) calls {@link #init()}; an application that touches {@code org.bytedeco.pytorch} before dualdistill
 * should call it first too. Idempotent and thread-safe; costs one class-path lookup once the cache is warm.
 */
public final class TorchRuntime {
    private static volatile boolean done;

    private TorchRuntime() {
    }

    /** Extracts the pytorch presets' native folder into the JavaCPP cache (no-op after the first call). */
    public static void init() {
        if (done) {
            return;
        }
        synchronized (TorchRuntime.class) {
            if (done) {
                return;
            }
            try {
                // the presets class only carries annotations: loading it (uninitialized) loads no native code
                Class<?> presets = Class.forName("org.bytedeco.pytorch.presets.torch", false, TorchRuntime.class.getClassLoader());
                Loader.cacheResource(presets, "/org/bytedeco/pytorch/" + Loader.getPlatform() + "/");
            } catch (ClassNotFoundException | IOException | RuntimeException e) {
                // not fatal: the presets' own loader still runs and reports its own errors
                System.getLogger("org.dualdistill").log(System.Logger.Level.DEBUG, "JavaCPP cache warm-up skipped: " + e);
            }
            done = true;
        }
    }
}
