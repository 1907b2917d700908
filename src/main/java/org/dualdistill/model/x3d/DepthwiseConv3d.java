package org.dualdistill.model.x3d;

import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.LongArrayRef;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

/**
 * Depthwise Conv3d (groups = channels, one filter per channel, stride (1, s, s), "same" temporal padding) as
 * X3D uses it, in the four {@link DepthwiseMode}s.
 *
 * <p><b>FAST: hand-written kernels.</b> LibTorch's CPU depthwise conv3d backward, in either layout, is one to two
 * orders of magnitude slower than its MACs warrant (pytorch#37406). FAST runs {@code dd_dwconv3d_cpu} (C, AVX2/FMA
 * with a baseline fallback, OpenMP over the (n, c) planes, NCDHW, no layout copies) or {@code dd_dwconv3d_cuda} for
 * the forward and both gradients; the backward reaches LibTorch's autograd through per-call graph-node hooks (the
 * presets ship no C++ autograd Function to subclass; see {@link KernelDepthwise}). Where the kernels do not apply
 * (float64, a CPU tensor in half precision, the library not loaded) FAST runs LibTorch's conv3d.
 *
 * <p><b>DECOMPOSED</b> (the pure-LibTorch route measured first, benchmarks/RESULTS.md "Depthwise Conv3d routes for
 * X3D"):
 * <ul>
 *   <li>3x3x3: with x in {@code ChannelsLast3d}, the frames are a free view {@code [N*T, C, H, W]} in channels-last
 *       2D; tap k of the temporal kernel is a depthwise Conv2d with {@code w[:, :, k]}, and the output is the sum of
 *       the three tap outputs shifted along T by k - 1 (zero outside: the temporal padding).</li>
 *   <li>5x1x1 (stem): one depthwise Conv2d with kernel (5, 1) over the free view {@code [N, C, T, H*W]}.</li>
 *   <li>no gradient needed (eval, or nothing requires grad): LibTorch's conv3d on x as given.</li>
 * </ul>
 * Every route is exact math (each output element sums the same products, in another order), so values and
 * gradients match conv3d to float32 rounding.
 *
 * <p>Stateless, thread-safe; tensors are borrowed, results are new tensors owned by the caller's PointerScope.
 */
public final class DepthwiseConv3d {
    private DepthwiseConv3d() {
    }

    /**
     * @param x       float [N, C, T, H, W], any strides, any device
     * @param weight  [C, 1, kt, kh, kw] with odd kt (temporal padding kt / 2, temporal stride 1)
     * @param stride  spatial stride s (stride (1, s, s))
     * @param padH    spatial padding along H
     * @param padW    spatial padding along W
     * @param mode    the route
     * @throws IllegalArgumentException if the weight is not depthwise for x's channels or kt is even
     * @return [N, C, T, Ho, Wo], a new tensor in the caller's PointerScope (autograd-tracked when x or the weight
     *         requires grad); contiguous when x is (always for FAST on the kernels), else {@code ChannelsLast3d}
     *         (always for TORCH_CHANNELS_LAST)
     */
    public static Tensor forward(Tensor x, Tensor weight, long stride, long padH, long padW, DepthwiseMode mode) {
        long c = x.size(1);
        long kt = weight.size(2);
        long kh = weight.size(3);
        long kw = weight.size(4);
        if (weight.size(0) != c || weight.size(1) != 1 || kt % 2 != 1) {
            throw new IllegalArgumentException("depthwise conv3d: weight must be [" + c + ", 1, odd kt, kh, kw], got "
                    + java.util.Arrays.toString(weight.sizes().vec().get()));
        }
        long pt = kt / 2;
        if (mode == DepthwiseMode.AUTO) {
            mode = !x.is_cuda() && KernelDepthwise.applies(x, weight) ? DepthwiseMode.FAST : DepthwiseMode.TORCH;
        }
        if (mode == DepthwiseMode.FAST) {
            if (KernelDepthwise.applies(x, weight)) {
                return KernelDepthwise.forward(x, weight, new int[] {1, (int) stride, (int) stride},
                        new int[] {(int) pt, (int) padH, (int) padW});
            }
            return torch.conv3d(x, weight, new TensorOptional(), ref(1, stride, stride), ref(pt, padH, padW),
                    ref(1, 1, 1), c);
        }
        if (mode != DepthwiseMode.DECOMPOSED || !needsGrad(x, weight)) {
            Tensor in = mode == DepthwiseMode.TORCH_CHANNELS_LAST ? x.contiguous(torch.MemoryFormat.ChannelsLast3d) : x;
            return torch.conv3d(in, weight, new TensorOptional(), ref(1, stride, stride), ref(pt, padH, padW),
                    ref(1, 1, 1), c);
        }
        // channels-last for the decomposition only: the rest of the network stays NCDHW, where LibTorch's pointwise
        // convs and BN measured faster; the two copies are memory-bound and cheap next to the conv3d backward
        boolean backToNcdhw = x.is_contiguous();
        Tensor xl = x.contiguous(torch.MemoryFormat.ChannelsLast3d);
        Tensor y = kh == 1 && kw == 1 && stride == 1 && padH == 0 && padW == 0
                ? temporal(xl, weight, pt)
                : framesAndTaps(xl, weight, stride, padH, padW, pt);
        return backToNcdhw ? y.contiguous() : y;
    }

    private static boolean needsGrad(Tensor x, Tensor weight) {
        return GradMode.is_enabled() && (x.requires_grad() || weight.requires_grad());
    }

    /** kt x 1 x 1: one (kt, 1) depthwise Conv2d over [N, C, T, H*W], a view of the channels-last 3D tensor. */
    private static Tensor temporal(Tensor xl, Tensor weight, long pt) {
        long c = xl.size(1);
        long h = xl.size(3);
        long w = xl.size(4);
        Tensor y = torch.conv2d(xl.flatten(3, 4), weight.squeeze(4), new TensorOptional(), ref(1, 1), ref(pt, 0),
                ref(1, 1), c);
        return y.unflatten(3, ref(h, w));
    }

    /** kt x kh x kw: one depthwise Conv2d per temporal tap over the frames, then the taps shifted along T and summed
     * out of place (in-place adds into views of the conv output measured slower: autograd's CopySlices). */
    private static Tensor framesAndTaps(Tensor xl, Tensor weight, long stride, long padH, long padW, long pt) {
        long n = xl.size(0);
        long c = xl.size(1);
        long t = xl.size(2);
        long kt = weight.size(2);
        // [N, C, T, H, W] channels-last 3D is physically [N, T, H, W, C]: [N*T, C, H, W] channels-last 2D, no copy
        Tensor frames = xl.permute(0, 2, 1, 3, 4).flatten(0, 1);
        Tensor[] taps = new Tensor[(int) kt];
        for (int k = 0; k < kt; k++) {
            long d = k - pt; // tap k reads frame t + d for output frame t
            if (Math.abs(d) >= t) {
                continue; // reads only the zero padding
            }
            // the tap's filter is copied contiguous: passed as the strided select() view, whole-X3D-S gradients in
            // res5 came out a few percent off a float64 reference in two runs (different blocks each time), while
            // the layer-level tests passed; with the copy they match as closely as LibTorch's conv3d does
            Tensor z = torch.conv2d(frames, weight.select(2, k).contiguous(), new TensorOptional(), ref(stride, stride),
                    ref(padH, padW), ref(1, 1), c);
            long ho = z.size(2);
            long wo = z.size(3);
            taps[k] = z.permute(0, 2, 3, 1).reshape(n, t, ho, wo, c); // [N, T, Ho, Wo, C], a view when z is channels-last
        }
        Tensor y = taps[(int) pt];
        for (int k = 0; k < kt; k++) {
            long d = k - pt;
            if (d == 0 || taps[k] == null) {
                continue;
            }
            long len = t - Math.abs(d);
            // y[t] += z_k[t + d]: z_k's frames [max(d, 0), max(d, 0) + len) land at [max(-d, 0), ...), zeros elsewhere
            Tensor shifted = torch.constant_pad_nd(taps[k].narrow(1, Math.max(d, 0), len),
                    ref(0, 0, 0, 0, 0, 0, Math.max(-d, 0), Math.max(d, 0)), new Scalar(0.0));
            y = y.add(shifted);
        }
        return y.permute(0, 4, 1, 2, 3); // [N, C, T, Ho, Wo] in ChannelsLast3d
    }

    private static LongArrayRef ref(long... v) {
        return new LongArrayRef(new LongPointer(v), v.length);
    }
}
