package org.dualdistill.model.x3d;

/**
 * How {@link X3d} runs its depthwise 3D convolutions (the stem's 5x1x1 {@code conv_xy} and every bottleneck's 3x3x3
 * {@code conv_b}). All three give the same values and gradients to float tolerance and use the same parameters, so a
 * model can switch between them at any time ({@link X3d#depthwiseMode(DepthwiseMode)}); see {@link DepthwiseConv3d}
 * for the measurements behind the choice.
 */
public enum DepthwiseMode {
    /**
     * {@link X3d}'s default: {@link #FAST} for float32 CPU tensors (the hand-written kernels, measured faster than
     * LibTorch's op in training and eval, benchmarks/RESULTS.md), {@link #TORCH} everywhere else (on CUDA, cuDNN's
     * op: the CUDA kernels stay opt-in through FAST until they have been measured on a GPU).
     */
    AUTO,
    /**
     * LibTorch's {@code conv3d(groups = C)} on contiguous NCDHW activations: the reference, what PyTorch eager runs.
     */
    TORCH,
    /** LibTorch's {@code conv3d(groups = C)} with the whole network in {@code ChannelsLast3d} (candidate a, measured only). */
    TORCH_CHANNELS_LAST,
    /**
     * NCDHW network; where gradients are needed, each depthwise conv converts its input to {@code ChannelsLast3d}
     * and runs as one depthwise Conv2d per temporal tap over the frames plus shifted adds along T (autograd for
     * free), the stem's 5x1x1 as one (5,1) depthwise Conv2d over [N, C, T, H*W], and converts back; without
     * gradients (eval), LibTorch's conv3d as in TORCH. About 1.9x faster than TORCH on the 26 conv_b layers alone
     * (forward + backward, X3D-S batch 8), no measurable gain on the whole training step; measured only.
     */
    DECOMPOSED,
    /**
     * The hand-written depthwise kernels ({@code dd_dwconv3d_cpu} / {@code dd_dwconv3d_cuda}, NCDHW, no layout
     * copies) in training and in eval, their backward reaching autograd through graph-node hooks (see
     * {@code KernelDepthwise}); where they do not apply (a dtype or device they do not take, the kernel library not
     * loaded) LibTorch's conv3d as in TORCH. In eval without gradients on float32 CPU clips (train mode off and
     * grad mode off, e.g. under {@code NoGradGuard} or {@code InferenceMode}; CPU autocast off), X3D's whole forward runs on the
     * folded route instead ({@code FoldedEval}): channels-last end to end, each batch norm folded into the 1x1x1
     * GEMM before it or into the depthwise kernel's bias ({@code DD_LAYOUT_NDHWC}), the clip converted once. Its
     * outputs equal the module path's within float32 tolerance; the folded weights are rebuilt whenever a
     * parameter or a batch-norm statistic changes.
     */
    FAST
}
