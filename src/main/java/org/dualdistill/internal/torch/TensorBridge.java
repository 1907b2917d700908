package org.dualdistill.internal.torch;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dualdistill.internal.ffm.DualdistillNative;

/**
 * Lends a LibTorch tensor's storage to native code as a {@link MemorySegment}, without copying.
 *
 * <p>The segment is non-owning: it is valid only while the tensor is open and its storage unchanged, and for a
 * CUDA tensor it holds a device address that Java must never dereference. Callers keep the tensor alive until the
 * kernel's work on the stream is complete (STYLE B4.9). All checks throw {@link IllegalArgumentException} naming
 * the argument, the expectation and what was found. Call inside a {@code PointerScope}: {@code data_ptr()},
 * {@code sizes()} and {@code device()} allocate small JavaCPP handles.
 */
public final class TensorBridge {
    private TensorBridge() {
    }

    /**
     * Borrows a contiguous tensor's memory.
     *
     * @param t        the tensor (borrowed; not closed)
     * @param name     argument name used in messages
     * @param wantCuda whether the tensor must be on a CUDA device (else on the CPU)
     * @return a segment over {@code t.nbytes()} bytes at {@code t.data_ptr()}
     */
    @SuppressWarnings("restricted")
    public static MemorySegment borrow(Tensor t, String name, boolean wantCuda) {
        requireDefined(t, name);
        if (t.is_cuda() != wantCuda) {
            throw new IllegalArgumentException(name + ": expected a " + (wantCuda ? "CUDA" : "CPU") + " tensor, got one on "
                    + (t.is_cuda() ? "CUDA" : "the CPU"));
        }
        if (!t.is_contiguous()) {
            throw new IllegalArgumentException(name + ": expected a contiguous tensor, got sizes " + shapeString(t) + " strides "
                    + Arrays.toString(t.strides().vec().get()) + " (call .contiguous() first)");
        }
        long bytes = t.nbytes();
        long address = t.data_ptr().address();
        if (address == 0 && bytes > 0) {
            throw new IllegalArgumentException(name + ": tensor has no storage");
        }
        return MemorySegment.ofAddress(address).reinterpret(bytes);
    }

    /** @throws IllegalArgumentException when {@code t} is null or undefined */
    public static void requireDefined(Tensor t, String name) {
        if (t == null || t.isNull() || !t.defined()) {
            throw new IllegalArgumentException(name + ": expected a tensor, got " + (t == null ? "null" : "an undefined tensor"));
        }
    }

    /**
     * Copies a tensor's values into a new Java array (any floating dtype, any device; synchronizes with CUDA).
     *
     * @param t the tensor (borrowed)
     * @return its values as float32, in row-major order
     */
    public static float[] toFloats(Tensor t) {
        try (PointerScope scope = new PointerScope()) {
            Tensor c = t.detach().to(ScalarType.Float).cpu().contiguous();
            float[] out = new float[Math.toIntExact(c.numel())];
            new FloatPointer(c.data_ptr()).capacity(out.length).get(out);
            return out;
        }
    }

    /** @return the shape as a Java array */
    public static long[] shape(Tensor t) {
        long[] s = new long[(int) t.dim()];
        for (int i = 0; i < s.length; i++) {
            s[i] = t.size(i);
        }
        return s;
    }

    /** @return the shape formatted like PyTorch, e.g. {@code [64, 400]} */
    public static String shapeString(Tensor t) {
        return Arrays.toString(shape(t));
    }

    /**
     * The tensor's dtype as the canonical enum constant. JavaCPP materializes native enum values as fresh instances
     * (ordinal 0), so {@code ==} and {@code switch} on {@code t.scalar_type()} silently misbehave; compare
     * {@code value}s, or use this.
     *
     * @return the canonical {@link ScalarType} of {@code t}
     */
    public static ScalarType dtype(Tensor t) {
        return canonical(t.scalar_type());
    }

    /** @return the canonical constant with the same {@code value} */
    public static ScalarType canonical(ScalarType raw) {
        for (ScalarType c : ScalarType.values()) {
            if (c.value == raw.value) {
                return c;
            }
        }
        throw new IllegalArgumentException("unknown ScalarType value " + raw.value);
    }

    /**
     * @return the {@code dd_dtype} code for a floating dtype the kernels accept
     * @throws IllegalArgumentException for other dtypes
     */
    public static int kernelDtype(ScalarType type, String name) {
        return switch (canonical(type)) {
            case Float -> DualdistillNative.DD_FLOAT32();
            case Half -> DualdistillNative.DD_FLOAT16();
            case BFloat16 -> DualdistillNative.DD_BFLOAT16();
            default -> throw new IllegalArgumentException(name + ": expected dtype float32, float16 or bfloat16, got " + type);
        };
    }
}
