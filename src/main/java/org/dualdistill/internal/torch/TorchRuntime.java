package org.dualdistill.internal.torch;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

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
 *
 * <p>It also sets {@code OMP_WAIT_POLICY=PASSIVE} in the process environment (unless the user set it) before the
 * OpenMP runtime that LibTorch links is loaded. With the default active policy, an OpenMP worker that finishes early
 * spins for its peers; when any other thread needs that core (the data loader's decoder, the teacher cache, another
 * process) a training step on 2 cores became 10-40x slower (measured: 1.4-4.6 s instead of 0.09-0.14 s for one
 * distillation step while another process was busy). Passive waiting costs nothing measurable when the cores are free.
 *
 * <p>For the same reason it sets {@code OPENBLAS_THREAD_TIMEOUT=4} (unless the user set it) before OpenBLAS loads: an
 * OpenBLAS worker spins for 2^28 cycles after each multi-threaded GEMM before it sleeps (2^4 with this). With the
 * default, an X3D-S batch-8 training step at 2 threads with oneDNN off (LibTorch's GEMM convolutions) took 3.0 s,
 * with the worker spinning on the core the other ops needed; with it, 2.0 s (benchmarks/RESULTS.md, seventh round).
 *
 * <p>It reports whether glibc malloc reuses freed tensor memory ({@link MallocSettings}: with glibc's defaults every
 * large tensor is mapped and zero-filled afresh, which made CPU training steps several times slower); that setting
 * must be in the environment when the process starts, so this only describes it and hints once.
 *
 * <p>Last, it checks LibTorch's oneDNN convolution backward against its native kernels and turns oneDNN off where they
 * disagree ({@link OneDnnCheck}: wrong and NaN input gradients seen on an AVX-512 machine).
 */
public final class TorchRuntime {
    private static volatile boolean done;
    private static volatile String oneDnn;
    private static volatile String malloc;

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
            quietIdleThreads();
            malloc = MallocSettings.check();
            try {
                // the presets class only carries annotations: loading it (uninitialized) loads no native code
                Class<?> presets = Class.forName("org.bytedeco.pytorch.presets.torch", false, TorchRuntime.class.getClassLoader());
                Loader.cacheResource(presets, "/org/bytedeco/pytorch/" + Loader.getPlatform() + "/");
            } catch (ClassNotFoundException | IOException | RuntimeException e) {
                // not fatal: the presets' own loader still runs and reports its own errors
                System.getLogger("org.dualdistill").log(System.Logger.Level.DEBUG, "JavaCPP cache warm-up skipped: " + e);
            }
            oneDnn = OneDnnCheck.apply(); // after the warm-up: the presets' classes may load now
            done = true;
        }
    }

    /** @return what the oneDNN check decided for this process ({@link OneDnnCheck}), or null before {@link #init()} */
    public static String oneDnnStatus() {
        return oneDnn;
    }

    /** @return how glibc malloc treats freed tensor memory in this process ({@link MallocSettings}), or null before {@link #init()} */
    public static String mallocStatus() {
        return malloc;
    }

    /** The OpenBLAS builds the presets load (JavaCPP loads both; each has its own thread pool). */
    private static final List<String> OPENBLAS_SONAMES = List.of("libopenblas_nolapack.so.0", "libopenblas.so.0");
    private static final int RTLD_LAZY = 1;
    private static final int RTLD_NOLOAD = 4; // glibc: return the handle only if the library is already loaded

    /**
     * Sets LibTorch's intra-op threads and the pool of every OpenBLAS in the process to {@code n}.
     *
     * <p>Why both: LibTorch's CPU matrix products (the im2col convolutions when oneDNN is off, {@code mm}, {@code
     * linear}) call OpenBLAS, whose thread pool is its own and ignores {@code torch.set_num_threads}: without this a
     * "1-thread" run still used every core in its GEMMs, and at 2 threads OpenBLAS's idle workers spun on a core
     * LibTorch was using (perf: 10% of an X3D-S eval's samples in {@code libopenblas_nolapack}'s thread server). The
     * presets load two OpenBLAS builds ({@code libopenblas_nolapack.so.0} and {@code libopenblas.so.0}, each with its
     * own pool; that spinning pool was nolapack's), so both are set, each found through {@code dlopen} with
     * {@code RTLD_NOLOAD}: nothing new is loaded.
     *
     * @param n threads, at least 1
     * @throws IllegalArgumentException when {@code n < 1}
     */
    public static void setThreads(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + n);
        }
        init();
        org.bytedeco.pytorch.global.torch.set_num_threads(n);
        forEachOpenBlas((name, lib) -> {
            MethodHandle set = lib.function("openblas_set_num_threads", FunctionDescriptor.ofVoid(ValueLayout.JAVA_INT));
            if (set != null) {
                set.invokeExact(n);
            }
        });
    }

    /** @return each loaded OpenBLAS's soname and pool size as it reports it (empty where the presets load none) */
    public static Map<String, Integer> openBlasThreads() {
        init();
        Map<String, Integer> out = new LinkedHashMap<>();
        forEachOpenBlas((name, lib) -> {
            MethodHandle get = lib.function("openblas_get_num_threads", FunctionDescriptor.of(ValueLayout.JAVA_INT));
            if (get != null) {
                out.put(name, (int) get.invokeExact());
            }
        });
        return out;
    }

    private interface OpenBlasAction {
        void apply(String soname, Dl lib) throws Throwable;
    }

    /** An already-loaded library's handle, with libc's dlsym to reach its functions. */
    private record Dl(MemorySegment handle, MethodHandle dlsym, Arena arena) {
        /** @return a downcall to {@code symbol} in this library, or null where it has none */
        MethodHandle function(String symbol, FunctionDescriptor fd) throws Throwable {
            MemorySegment address = (MemorySegment) dlsym.invokeExact(handle, arena.allocateFrom(symbol));
            return address.equals(MemorySegment.NULL) ? null : Linker.nativeLinker().downcallHandle(address, fd);
        }
    }

    /** @return a downcall to libc's {@code symbol} */
    private static MethodHandle libc(String symbol, FunctionDescriptor fd) {
        Linker linker = Linker.nativeLinker();
        return linker.downcallHandle(linker.defaultLookup().find(symbol).orElseThrow(), fd);
    }

    private static void forEachOpenBlas(OpenBlasAction action) {
        if (!System.getProperty("os.name", "").startsWith("Linux")) {
            return; // RTLD_NOLOAD's value is glibc's; elsewhere the presets' OpenBLAS keeps its own default
        }
        try (Arena arena = Arena.ofConfined()) {
            MethodHandle dlopen = libc("dlopen", FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
            MethodHandle dlsym = libc("dlsym", FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS));
            MethodHandle dlclose = libc("dlclose", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
            for (String name : OPENBLAS_SONAMES) {
                MemorySegment handle = (MemorySegment) dlopen.invokeExact(arena.allocateFrom(name), RTLD_LAZY | RTLD_NOLOAD);
                if (handle.equals(MemorySegment.NULL)) {
                    continue;
                }
                try {
                    action.apply(name, new Dl(handle, dlsym, arena));
                } finally {
                    int rc = (int) dlclose.invokeExact(handle); // drops the reference RTLD_NOLOAD added
                    if (rc != 0) {
                        System.getLogger("org.dualdistill").log(System.Logger.Level.DEBUG, "dlclose(" + name + ") failed");
                    }
                }
            }
        } catch (Throwable e) {
            // not fatal: OpenBLAS keeps the pool size it chose at load time
            System.getLogger("org.dualdistill").log(System.Logger.Level.DEBUG, "OpenBLAS threads not reached: " + e);
        }
    }

    /**
     * {@code OMP_WAIT_POLICY=PASSIVE} and {@code OPENBLAS_THREAD_TIMEOUT=4} in the process environment, each only
     * where the user did not choose a value.
     */
    private static void quietIdleThreads() {
        defaultEnv("OMP_WAIT_POLICY", "PASSIVE");
        defaultEnv("OPENBLAS_THREAD_TIMEOUT", "4");
    }

    /** {@code setenv(name, value, 0)} through libc: no effect when the variable is already set. */
    private static void defaultEnv(String name, String value) {
        if (System.getenv(name) != null) {
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            MethodHandle setenv = libc("setenv",
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
            int rc = (int) setenv.invokeExact(arena.allocateFrom(name), arena.allocateFrom(value), 0);
            if (rc != 0) {
                System.getLogger("org.dualdistill").log(System.Logger.Level.DEBUG, "setenv(" + name + ") failed: " + rc);
            }
        } catch (Throwable e) {
            // not fatal: the library keeps its default
            System.getLogger("org.dualdistill").log(System.Logger.Level.DEBUG, name + " not set: " + e);
        }
    }
}
