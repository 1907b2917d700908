package org.dualdistill.kernels;

import org.dualdistill.internal.kernels.NativeLibrary;

/**
 * What native kernel support this process has: whether the C and CUDA kernel libraries loaded, and why not.
 * The first call loads the libraries (extracted from the jar); later calls return the cached answer.
 * Thread-safe.
 */
public final class Kernels {
    private Kernels() {
    }

    /**
     * The availability report.
     *
     * @param cpu          the C kernels ({@code libdualdistill_kernels.so}) are loaded and ABI-compatible
     * @param cpuReason    why not, or {@code "ok"}
     * @param cuda         the CUDA kernels are loaded and at least one device is visible
     * @param cudaReason   why not, or {@code "ok"}
     * @param cudaDevices  visible CUDA devices (0 without driver)
     * @param abiVersion   the ABI version of the loaded C library (-1 if not loaded)
     * @param libraryPath  where the C library was loaded from, or empty
     */
    public record Availability(boolean cpu, String cpuReason, boolean cuda, String cudaReason, int cudaDevices,
                               int abiVersion, String libraryPath) {
    }

    /** @return the availability report (loads the libraries on first use) */
    public static Availability available() {
        return NativeLibrary.availability();
    }
}
