package org.dualdistill.internal.kernels;

import java.lang.foreign.MemorySegment;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.cuda.CUDAStream;
import org.bytedeco.pytorch.global.torch_cuda;
import org.dualdistill.kernels.KernelException;

/**
 * LibTorch's current CUDA stream for a tensor's device, as the {@code void*} our CUDA kernels take. Needs the GPU
 * build of the presets (Maven profile {@code gpu}); with the CPU build the JNI symbols are missing and this throws a
 * {@link KernelException} that says so. Call inside a {@code PointerScope}.
 */
public final class CudaStreams {
    private CudaStreams() {
    }

    /** @return the current stream of {@code t}'s CUDA device (borrowed; never destroyed by us) */
    public static MemorySegment current(Tensor t) {
        try {
            byte index = t.device().index();
            // asCUstream_st() returns an org.bytedeco.cuda type that only the gpu profile puts on the class path
            Object raw = CUDAStream.class.getMethod("asCUstream_st").invoke(torch_cuda.getCurrentCUDAStream(index));
            return MemorySegment.ofAddress(((Pointer) raw).address());
        } catch (ReflectiveOperationException | LinkageError e) {
            throw new KernelException("getCurrentCUDAStream", "LibTorch was built without CUDA: build with -Pgpu "
                    + "(org.bytedeco:pytorch:linux-x86_64-gpu) to use FUSED_CUDA", e);
        }
    }
}
