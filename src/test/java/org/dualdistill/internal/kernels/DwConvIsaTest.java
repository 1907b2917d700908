package org.dualdistill.internal.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Arrays;

import org.dualdistill.internal.ffm.DualdistillNative;
import org.dualdistill.internal.ffm.dd_dwconv3d_params;
import org.junit.jupiter.api.Test;

/**
 * dd_dwconv3d_cpu gives the same bits with every vector width it picks: the widest copy this CPU runs (AVX-512 for
 * X3D's conv_b geometry where the CPU has it) against the AVX2 copy (DUALDISTILL_CPU_ISA=avx2), for all three passes
 * over X3D-S's conv_b shapes (stride 1 and 2, odd sizes), at 1 and 2 threads. The baseline copy (no FMA) rounds
 * differently, which shows the comparison can fail. On a CPU without AVX-512 both sides run the AVX2 copy.
 */
class DwConvIsaTest {

    /** {C, T, H, W, stride}: X3D-S conv_b layers at batch 2, plus odd sizes */
    private static final int[][] SHAPES = {{6, 5, 16, 16, 2}, {6, 5, 8, 8, 1}, {12, 4, 9, 7, 2}, {24, 3, 5, 5, 1}, {5, 2, 3, 11, 1}};

    static void setenv(String name, String value) throws Throwable {
        Linker linker = Linker.nativeLinker();
        try (Arena arena = Arena.ofConfined()) {
            if (value == null) {
                MethodHandle unsetenv = linker.downcallHandle(linker.defaultLookup().find("unsetenv").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
                assertEquals(0, (int) unsetenv.invokeExact(arena.allocateFrom(name)));
            } else {
                MethodHandle set = linker.downcallHandle(linker.defaultLookup().find("setenv").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
                assertEquals(0, (int) set.invokeExact(arena.allocateFrom(name), arena.allocateFrom(value), 1));
            }
        }
    }

    /** forward output, input gradient and weight gradient, concatenated, for one shape under the current ISA cap */
    private static float[] passes(int[] s, int threads) {
        NativeLibrary.requireCpu();
        int n = 2, c = s[0], t = s[1], h = s[2], w = s[3], st = s[4];
        int ho = (h - 1) / st + 1, wo = (w - 1) / st + 1;
        long in = (long) n * c * t * h * w, out = (long) n * c * t * ho * wo;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment x = arena.allocate(4 * in), gx = arena.allocate(4 * in);
            MemorySegment y = arena.allocate(4 * out), go = arena.allocate(4 * out);
            MemorySegment wt = arena.allocate(4L * c * 27), gw = arena.allocate(4L * c * 27);
            for (long i = 0; i < in; i++) x.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) Math.sin(0.37 * i + 0.1));
            for (long i = 0; i < out; i++) go.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) Math.cos(0.53 * i));
            for (long i = 0; i < c * 27L; i++) wt.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) Math.sin(0.91 * i) * 0.3f);
            MemorySegment p = arena.allocate(dd_dwconv3d_params.layout());
            dd_dwconv3d_params.batch(p, n);
            dd_dwconv3d_params.channels(p, c);
            dd_dwconv3d_params.in_t(p, t);
            dd_dwconv3d_params.in_h(p, h);
            dd_dwconv3d_params.in_w(p, w);
            dd_dwconv3d_params.out_t(p, t);
            dd_dwconv3d_params.out_h(p, ho);
            dd_dwconv3d_params.out_w(p, wo);
            dd_dwconv3d_params.k_t(p, 3);
            dd_dwconv3d_params.k_h(p, 3);
            dd_dwconv3d_params.k_w(p, 3);
            dd_dwconv3d_params.stride_t(p, 1);
            dd_dwconv3d_params.stride_h(p, st);
            dd_dwconv3d_params.stride_w(p, st);
            dd_dwconv3d_params.pad_t(p, 1);
            dd_dwconv3d_params.pad_h(p, 1);
            dd_dwconv3d_params.pad_w(p, 1);
            dd_dwconv3d_params.dtype(p, DualdistillNative.DD_FLOAT32());
            dd_dwconv3d_params.num_threads(p, threads);
            dd_dwconv3d_params.input(p, x);
            dd_dwconv3d_params.weight(p, wt);
            dd_dwconv3d_params.output(p, y);
            dd_dwconv3d_params.grad_output(p, go);
            dd_dwconv3d_params.grad_input(p, gx);
            dd_dwconv3d_params.grad_weight(p, gw);
            for (int mode : new int[] {DualdistillNative.DD_DWCONV_FORWARD(), DualdistillNative.DD_DWCONV_GRAD_INPUT(),
                    DualdistillNative.DD_DWCONV_GRAD_WEIGHT()}) {
                dd_dwconv3d_params.mode(p, mode);
                assertEquals(DualdistillNative.DD_OK(), DwConvKernel.rawCpu(p), "status for " + Arrays.toString(s));
            }
            float[] all = new float[(int) (out + in + c * 27L)];
            MemorySegment.copy(y, ValueLayout.JAVA_FLOAT, 0, all, 0, (int) out);
            MemorySegment.copy(gx, ValueLayout.JAVA_FLOAT, 0, all, (int) out, (int) in);
            MemorySegment.copy(gw, ValueLayout.JAVA_FLOAT, 0, all, (int) (out + in), c * 27);
            return all;
        }
    }

    private static boolean avx2Cpu() throws java.io.IOException {
        java.nio.file.Path info = java.nio.file.Path.of("/proc/cpuinfo");
        if (!java.nio.file.Files.isReadable(info)) {
            return false;
        }
        String flags = java.nio.file.Files.readString(info).replace('\n', ' ') + " ";
        return flags.contains(" avx2 ") && flags.contains(" fma ");
    }

    @Test
    void everyVectorWidthGivesTheSameBits() throws Throwable {
        for (int[] s : SHAPES) {
            float[] widest = passes(s, 1);
            float[] widest2 = passes(s, 2);
            float[] avx2;
            float[] base;
            try {
                setenv("DUALDISTILL_CPU_ISA", "avx2");
                avx2 = passes(s, 1);
                setenv("DUALDISTILL_CPU_ISA", "base");
                base = passes(s, 1);
            } finally {
                setenv("DUALDISTILL_CPU_ISA", null);
            }
            assertArrayEquals(avx2, widest, "widest copy vs AVX2 copy, shape " + Arrays.toString(s));
            assertArrayEquals(widest, widest2, "1 vs 2 threads, shape " + Arrays.toString(s));
            // where the CPU has AVX2 the cap must reach the baseline copy, which rounds differently (no FMA)
            if (avx2Cpu()) {
                assertFalse(Arrays.equals(base, widest), "the baseline copy should round differently, shape " + Arrays.toString(s));
            }
        }
    }
}
