package org.dualdistill.internal.kernels;

import java.util.concurrent.atomic.AtomicBoolean;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dualdistill.internal.torch.TensorBridge;
import org.dualdistill.internal.torch.TorchRuntime;
import org.dualdistill.kernels.KernelBackend;
import org.dualdistill.kernels.KernelException;
import org.dualdistill.kernels.Kernels;

/**
 * The mechanism every fused loss (DATW, SDD, RKD) shares: choosing the backend for a call, and plugging a kernel's
 * gradient into LibTorch autograd. One place, so the three losses cannot drift apart.
 *
 * <p>Backend rules: TORCH is always allowed; FUSED_CPU / FUSED_CUDA need tensors on that device and the library
 * (else {@link IllegalArgumentException} / {@link KernelException}); AUTO takes the fused kernel of the tensors'
 * device when it is loaded, else TORCH after one WARNING per loss that says why. Stateless and thread-safe.
 */
public final class FusedLosses {
    static {
        TorchRuntime.init();
    }

    /** float32 on the CPU: built once, kept for the life of the class loader (never closed). */
    private static final TensorOptions CPU_FLOAT = newCpuFloat();

    private FusedLosses() {
    }

    private static TensorOptions newCpuFloat() {
        TensorOptions o = new TensorOptions(ScalarType.Float);
        o.retainReference();
        return o;
    }

    /**
     * @param cuda   whether the output lives on a CUDA device
     * @param like   a tensor on that device (borrowed)
     * @return float32 options for that device (shared and never closed on the CPU; caller's scope on CUDA)
     */
    public static TensorOptions floatOptions(boolean cuda, Tensor like) {
        return cuda ? new TensorOptions(ScalarType.Float).device(new org.bytedeco.pytorch.DeviceOptional(like.device()))
                : CPU_FLOAT;
    }

    /**
     * Resolves the backend of one call.
     *
     * @param requested the configured backend
     * @param cuda      whether the call's tensors are on a CUDA device
     * @param loss      the loss's name for messages ("DATW", "SDD", "RKD")
     * @param logged    the loss's once-only fallback flag
     * @return FUSED_CPU, FUSED_CUDA or TORCH
     */
    public static KernelBackend resolve(KernelBackend requested, boolean cuda, String loss, AtomicBoolean logged) {
        switch (requested) {
            case TORCH:
                return KernelBackend.TORCH;
            case FUSED_CPU:
                if (cuda) {
                    throw new IllegalArgumentException("backend FUSED_CPU needs CPU tensors, got CUDA tensors (use FUSED_CUDA or AUTO)");
                }
                NativeLibrary.requireCpu();
                return KernelBackend.FUSED_CPU;
            case FUSED_CUDA:
                if (!cuda) {
                    throw new IllegalArgumentException("backend FUSED_CUDA needs CUDA tensors, got CPU tensors (use FUSED_CPU or AUTO)");
                }
                NativeLibrary.requireCuda();
                return KernelBackend.FUSED_CUDA;
            default:
                Kernels.Availability a = Kernels.available();
                if (cuda ? a.cuda() : a.cpu()) {
                    return cuda ? KernelBackend.FUSED_CUDA : KernelBackend.FUSED_CPU;
                }
                if (logged.compareAndSet(false, true)) {
                    System.getLogger("org.dualdistill.kernels").log(System.Logger.Level.WARNING, "dualdistill: fused "
                            + (cuda ? "CUDA" : "CPU") + " kernels unavailable, the " + loss
                            + " loss uses LibTorch ops (backend TORCH): " + (cuda ? a.cudaReason() : a.cpuReason()));
                }
                return KernelBackend.TORCH;
        }
    }

    /**
     * The autograd surrogate {@code total + (d - d.detach())} with {@code d = <input, grad>}: its value is exactly
     * {@code total} (d - d is 0), and its gradient with respect to {@code input} is exactly {@code grad}. The dot
     * runs in float32 whatever the input dtype, so half-precision inputs cannot overflow it into inf - inf = NaN;
     * the cast routes the gradient back in the input's dtype.
     *
     * @param total the kernel's scalar loss (constant), float32
     * @param input the differentiated input (borrowed; requires grad)
     * @param grad  the kernel's dL/dinput, same shape (borrowed)
     * @return the surrogate, in the caller's PointerScope
     */
    public static Tensor surrogate(Tensor total, Tensor input, Tensor grad) {
        boolean f32 = TensorBridge.dtype(input) == ScalarType.Float;
        Tensor x = f32 ? input : input.to(ScalarType.Float);
        Tensor g = f32 ? grad : grad.to(ScalarType.Float);
        Tensor d = torch.dot(x.view(-1), g.view(-1));
        return total.add(d.sub(d.detach()));
    }

    /** @return {@code t} after {@code retainReference()}, for tensors that escape the call's scope */
    public static Tensor keep(Tensor t) {
        t.retainReference();
        return t;
    }


    /**
     * Reads one float32 element of a loss's output buffer: straight from memory on the CPU, through {@code item()}
     * (one device synchronization) on CUDA.
     *
     * @param buffer a contiguous float32 1-D tensor (borrowed)
     * @param index  the element
     * @return its value
     */
    public static double valueAt(Tensor buffer, long index) {
        try (org.bytedeco.javacpp.PointerScope scope = new org.bytedeco.javacpp.PointerScope()) {
            if (!buffer.is_cuda()) {
                return new org.bytedeco.javacpp.FloatPointer(buffer.data_ptr()).get(index);
            }
            return buffer.select(0, index).item_double();
        }
    }
}
