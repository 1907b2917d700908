package org.dualdistill.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import org.dualdistill.internal.ffm.DualdistillNative;
import org.dualdistill.internal.kernels.NativeLibrary;
import org.junit.jupiter.api.Test;

/** The real kernel library loads from the jar's resources (never the source tree) and reports itself. */
class KernelsTest {

    @Test
    void cpuKernelsLoadFromTheCacheWithMatchingAbi() {
        Kernels.Availability a = Kernels.available();
        assertTrue(a.cpu(), "CPU kernels should load: " + a.cpuReason());
        assertEquals("ok", a.cpuReason());
        assertEquals(DualdistillNative.DD_ABI_VERSION(), a.abiVersion());
        Path lib = Path.of(a.libraryPath());
        assertTrue(Files.isRegularFile(lib));
        assertTrue(lib.startsWith(NativeLibrary.cacheDir()), lib + " should be extracted under " + NativeLibrary.cacheDir());
        assertFalse(lib.toString().contains("/native/build/"), "must not load from the source tree");
    }

    @Test
    void cudaAvailabilityComesWithAReason() {
        Kernels.Availability a = Kernels.available();
        if (a.cuda()) {
            assertTrue(a.cudaDevices() > 0);
        } else {
            assertFalse(a.cudaReason().isBlank());
            assertFalse(a.cudaReason().equals("ok"));
        }
    }

    @Test
    void statusStringsComeFromTheLibrary() {
        assertEquals("ok", NativeLibrary.statusString(DualdistillNative.DD_OK()));
        assertEquals("NaN or infinity in an input", NativeLibrary.statusString(DualdistillNative.DD_ERR_NONFINITE_INPUT()));
        assertEquals("unknown dd_status", NativeLibrary.statusString(12345));
    }
}
