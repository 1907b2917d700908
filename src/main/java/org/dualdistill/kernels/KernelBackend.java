package org.dualdistill.kernels;

/**
 * Which implementation computes a distillation loss.
 *
 * <ul>
 *   <li>{@link #AUTO}: the fused kernel for the tensors' device when its library is loaded (CPU or CUDA), else
 *       {@link #TORCH}, after one log line that says why.</li>
 *   <li>{@link #FUSED_CPU}: the C kernel of {@code libdualdistill_kernels.so}; throws {@link KernelException} if it
 *       cannot be loaded or the tensors are not on the CPU.</li>
 *   <li>{@link #FUSED_CUDA}: the CUDA kernel of {@code libdualdistill_kernels_cuda.so}, enqueued on LibTorch's
 *       current stream; throws if CUDA or the library is missing.</li>
 *   <li>{@link #TORCH}: the same math composed from LibTorch ops with autograd: the reference and the fallback.</li>
 * </ul>
 */
public enum KernelBackend {
    AUTO, FUSED_CPU, FUSED_CUDA, TORCH
}
