package org.dualdistill.internal.torch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/**
 * {@link TorchRuntime#setThreads} sizes LibTorch's intra-op pool and OpenBLAS's pool together, and the OpenBLAS it
 * sizes is the one {@code libtorch_cpu.so} links, so a "1-thread" run is one.
 */
class TorchThreadsTest {

    @Test
    void sizesBothPoolsAndRestores() {
        TorchRuntime.init();
        int torchBefore = torch.get_num_threads();
        int blasBefore = TorchRuntime.openBlasThreads();
        assumeTrue(blasBefore > 0, "these presets load no OpenBLAS");
        try {
            TorchRuntime.setThreads(1);
            assertEquals(1, torch.get_num_threads());
            assertEquals(1, TorchRuntime.openBlasThreads());
            int two = Math.min(2, Runtime.getRuntime().availableProcessors());
            TorchRuntime.setThreads(two);
            assertEquals(two, torch.get_num_threads());
            assertEquals(two, TorchRuntime.openBlasThreads());
        } finally {
            TorchRuntime.setThreads(torchBefore);
            org.bytedeco.openblas.global.openblas_full.openblas_set_num_threads(blasBefore);
        }
        assertThrows(IllegalArgumentException.class, () -> TorchRuntime.setThreads(0));
    }

    /**
     * The pool set is the one behind the soname {@code libtorch_cpu.so} links ({@code libopenblas.so.0}): read back
     * through the dynamic linker's handle for that soname, not through the presets' class. The presets also map a
     * {@code libopenblas_nolapack.so.0}, which LibTorch does not call.
     */
    @Test
    void theOpenBlasLibTorchLinksIsTheOneSized() throws Throwable {
        assumeTrue(System.getProperty("os.name").startsWith("Linux"), "soname lookup checked on Linux only");
        TorchRuntime.init();
        int before = TorchRuntime.openBlasThreads();
        assumeTrue(before > 0, "these presets load no OpenBLAS");
        try (Arena arena = Arena.ofConfined()) {
            SymbolLookup lib = SymbolLookup.libraryLookup("libopenblas.so.0", arena);
            MethodHandle get = Linker.nativeLinker().downcallHandle(lib.find("openblas_get_num_threads").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT));
            TorchRuntime.setThreads(1);
            assertEquals(1, (int) get.invokeExact());
            int two = Math.min(2, Runtime.getRuntime().availableProcessors());
            TorchRuntime.setThreads(two);
            assertEquals(two, (int) get.invokeExact());
        } finally {
            org.bytedeco.openblas.global.openblas_full.openblas_set_num_threads(before);
        }
    }
}
