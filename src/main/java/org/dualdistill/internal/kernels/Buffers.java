package org.dualdistill.internal.kernels;

import java.lang.foreign.MemorySegment;

/** Size checks of the buffers a kernel wrapper hands to native code, which trusts the sizes it is given. */
final class Buffers {
    private Buffers() {
    }

    /**
     * A buffer smaller than its geometry (a bf16 tensor passed as float32, a wrong shape) would be read or written
     * past its end: refuse it before the call. NULL (or null) segments are the kernel's to check.
     *
     * @throws IllegalArgumentException when {@code s} holds fewer than {@code bytes}
     */
    static void requireBytes(MemorySegment s, long bytes, String kernel, String name) {
        if (s != null && !s.equals(MemorySegment.NULL) && s.byteSize() < bytes) {
            throw new IllegalArgumentException(kernel + ": " + name + " holds " + s.byteSize()
                    + " bytes, the geometry needs " + bytes + " (wrong dtype or shape)");
        }
    }
}
