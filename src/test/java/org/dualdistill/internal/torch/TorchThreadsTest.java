package org.dualdistill.internal.torch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Map;

import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/**
 * {@link TorchRuntime#setThreads} sizes LibTorch's intra-op pool and the pool of every OpenBLAS the presets loaded
 * (read back from each library through the dynamic linker), so a "1-thread" run is one.
 */
class TorchThreadsTest {

    @Test
    void sizesEveryPoolAndRestores() {
        assumeTrue(System.getProperty("os.name").startsWith("Linux"), "OpenBLAS handles are looked up on Linux only");
        TorchRuntime.init();
        int torchBefore = torch.get_num_threads();
        Map<String, Integer> before = TorchRuntime.openBlasThreads();
        assumeTrue(!before.isEmpty(), "these presets load no OpenBLAS");
        try {
            TorchRuntime.setThreads(1);
            assertEquals(1, torch.get_num_threads());
            Map<String, Integer> one = TorchRuntime.openBlasThreads();
            assertEquals(before.keySet(), one.keySet());
            one.forEach((lib, n) -> assertEquals(1, n, lib));
            int two = Math.min(2, Runtime.getRuntime().availableProcessors());
            TorchRuntime.setThreads(two);
            assertEquals(two, torch.get_num_threads());
            TorchRuntime.openBlasThreads().forEach((lib, n) -> assertEquals(two, n, lib));
        } finally {
            TorchRuntime.setThreads(torchBefore);
        }
        assertThrows(IllegalArgumentException.class, () -> TorchRuntime.setThreads(0));
    }

    @Test
    void findsBothBuildsOnLinuxX86() {
        assumeTrue(System.getProperty("os.name").startsWith("Linux") && System.getProperty("os.arch").equals("amd64"),
                "the linux-x86_64 presets are the ones known to ship both builds");
        Map<String, Integer> pools = TorchRuntime.openBlasThreads();
        assertFalse(pools.isEmpty(), "no OpenBLAS found loaded");
        assertEquals(java.util.Set.of("libopenblas_nolapack.so.0", "libopenblas.so.0"), pools.keySet());
    }
}
