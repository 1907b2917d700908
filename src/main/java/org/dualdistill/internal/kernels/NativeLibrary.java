package org.dualdistill.internal.kernels;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;

import org.dualdistill.internal.AtomicFiles;
import org.dualdistill.internal.ffm.DualdistillNative;
import org.dualdistill.kernels.KernelException;
import org.dualdistill.kernels.Kernels;

/**
 * Loads the kernel libraries packaged in the jar ({@code META-INF/native/linux-x86_64/}) exactly once per class
 * loader, and remembers why a library is unavailable.
 *
 * <p>Each library is copied to {@code <cache>/native/<sha256 prefix>/} (cache = {@code -Ddualdistill.cacheDir}, else
 * {@code $XDG_CACHE_HOME/dualdistill}, else {@code ~/.cache/dualdistill}) through a temporary file and an atomic
 * rename, so concurrent JVMs never see a half-written file and a new build never reuses a stale one. It is then
 * {@code System.load}ed from this class, which puts its symbols in the loader lookup that the generated bindings
 * ({@link DualdistillNative}) resolve through. Nothing is ever loaded from the source tree.
 *
 * <p>Loading never throws: failures become an {@link Kernels.Availability} with a reason, and callers that asked
 * for a fused backend explicitly turn that into a {@link KernelException}.
 */
public final class NativeLibrary {
    private static final System.Logger LOG = System.getLogger("org.dualdistill.kernels");
    private static final String PLATFORM = "linux-x86_64";
    private static final String CPU_LIB = "libdualdistill_kernels.so";
    private static final String CUDA_LIB = "libdualdistill_kernels_cuda.so";

    private NativeLibrary() {
    }

    private static final class Holder {
        static final Kernels.Availability AVAILABILITY = load();
    }

    /** @return the cached availability report, loading the libraries on first use */
    public static Kernels.Availability availability() {
        return Holder.AVAILABILITY;
    }

    /** @throws KernelException when the C kernels are not usable, naming the reason */
    public static void requireCpu() {
        Kernels.Availability a = availability();
        if (!a.cpu()) {
            throw new KernelException("libdualdistill_kernels", "the fused CPU kernel library is unavailable: " + a.cpuReason(), null);
        }
    }

    /** @throws KernelException when the CUDA kernels are not usable, naming the reason */
    public static void requireCuda() {
        Kernels.Availability a = availability();
        if (!a.cuda()) {
            throw new KernelException("libdualdistill_kernels_cuda", "the fused CUDA kernel library is unavailable: " + a.cudaReason(), null);
        }
    }

    private static Kernels.Availability load() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "");
        if (!os.contains("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) {
            String why = "no kernel build for " + os + "/" + arch + " (only " + PLATFORM + " is packaged)";
            return new Kernels.Availability(false, why, false, why, 0, -1, "");
        }
        if (!NativeLibrary.class.getModule().isNativeAccessEnabled()) {
            LOG.log(System.Logger.Level.WARNING, "native access is not enabled for dualdistill: add "
                    + "--enable-native-access=ALL-UNNAMED (or the module name) to the java command line");
        }
        boolean cpu = false;
        String cpuReason;
        int abi = -1;
        String path = "";
        try {
            Path lib = extract(CPU_LIB);
            System.load(lib.toString());
            path = lib.toString();
            abi = DualdistillNative.dd_abi_version();
            if (abi != DualdistillNative.DD_ABI_VERSION()) {
                cpuReason = "ABI mismatch: " + lib + " reports dd_abi_version() = " + abi + " but the Java bindings were "
                        + "generated for " + DualdistillNative.DD_ABI_VERSION() + "; rebuild (mvn package) so both match";
            } else {
                cpu = true;
                cpuReason = "ok";
            }
        } catch (IOException | LinkageError | IllegalCallerException | AssertionError e) {
            cpuReason = "could not load " + CPU_LIB + ": " + e;
        }

        boolean cuda = false;
        String cudaReason;
        int devices = 0;
        if (!cpu) {
            cudaReason = "the C kernel library is required first (" + cpuReason + ")";
        } else {
            try {
                Path lib = extract(CUDA_LIB);
                System.load(lib.toString());
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment count = arena.allocate(ValueLayout.JAVA_INT);
                    int rc = DualdistillNative.dd_cuda_device_count(count);
                    devices = count.get(ValueLayout.JAVA_INT, 0);
                    if (rc != DualdistillNative.DD_OK() || devices == 0) {
                        cudaReason = "no CUDA device visible (" + statusString(rc) + ")";
                    } else {
                        cuda = true;
                        cudaReason = "ok";
                    }
                }
            } catch (NoSuchFileException e) {
                cudaReason = CUDA_LIB + " is not packaged: this jar was built without nvcc";
            } catch (IOException | LinkageError | AssertionError e) {
                cudaReason = "could not load " + CUDA_LIB + ": " + e;
            }
        }
        return new Kernels.Availability(cpu, cpuReason, cuda, cudaReason, devices, abi, path);
    }

    /** @return the library's text for a status code (the C library must be loaded) */
    public static String statusString(int status) {
        try {
            return DualdistillNative.dd_status_string(status).reinterpret(256).getString(0);
        } catch (RuntimeException | LinkageError | AssertionError e) {
            return "dd_status " + status;
        }
    }

    private static final class NoSuchFileException extends IOException {
        private static final long serialVersionUID = 1L;

        NoSuchFileException(String m) {
            super(m);
        }
    }

    private static Path extract(String name) throws IOException {
        String resource = "/META-INF/native/" + PLATFORM + "/" + name;
        byte[] bytes;
        try (InputStream in = NativeLibrary.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new NoSuchFileException(resource + " is not on the class path");
            }
            bytes = in.readAllBytes();
        }
        String hash;
        try {
            hash = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes)).substring(0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        Path dir = cacheDir().resolve("native").resolve(hash);
        Path target = dir.resolve(name);
        if (Files.isRegularFile(target) && Files.size(target) == bytes.length) {
            return target;
        }
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, name, ".tmp");
        try {
            Files.write(tmp, bytes);
            AtomicFiles.replace(tmp, target);
        } finally {
            Files.deleteIfExists(tmp);
        }
        return target;
    }

    /** @return the dualdistill cache folder (native libraries, generated datasets, teacher caches) */
    public static Path cacheDir() {
        String p = System.getProperty("dualdistill.cacheDir");
        if (p != null && !p.isBlank()) {
            return Path.of(p);
        }
        String xdg = System.getenv("XDG_CACHE_HOME");
        if (xdg != null && !xdg.isBlank()) {
            return Path.of(xdg, "dualdistill");
        }
        return Path.of(System.getProperty("user.home"), ".cache", "dualdistill");
    }
}
