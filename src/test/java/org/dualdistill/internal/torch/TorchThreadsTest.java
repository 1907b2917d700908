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

    /** TorchRuntime puts OpenBLAS's short spin and OpenMP's passive wait into the C environment unless the user chose. */
    @Test
    void idleThreadsSleepUnlessTheUserChose() throws Throwable {
        assumeTrue(System.getProperty("os.name").startsWith("Linux"), "checked through glibc's getenv");
        TorchRuntime.init();
        java.lang.foreign.Linker linker = java.lang.foreign.Linker.nativeLinker();
        java.lang.invoke.MethodHandle getenv = linker.downcallHandle(linker.defaultLookup().find("getenv").orElseThrow(),
                java.lang.foreign.FunctionDescriptor.of(java.lang.foreign.ValueLayout.ADDRESS, java.lang.foreign.ValueLayout.ADDRESS));
        Map<String, String> expected = Map.of("OPENBLAS_THREAD_TIMEOUT", "4", "OMP_WAIT_POLICY", "PASSIVE");
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            for (var e : expected.entrySet()) {
                java.lang.foreign.MemorySegment v = (java.lang.foreign.MemorySegment) getenv.invokeExact(arena.allocateFrom(e.getKey()));
                assertFalse(v.equals(java.lang.foreign.MemorySegment.NULL), e.getKey() + " not in the environment");
                String user = System.getenv(e.getKey());
                assertEquals(user != null ? user : e.getValue(), v.reinterpret(64).getString(0), e.getKey());
            }
        }
    }
}
