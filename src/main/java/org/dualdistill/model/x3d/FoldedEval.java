package org.dualdistill.model.x3d;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BatchNorm3dImpl;
import org.bytedeco.pytorch.Conv3dImpl;
import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dualdistill.internal.kernels.DwConvKernel;
import org.dualdistill.internal.kernels.NativeLibrary;
import org.dualdistill.internal.torch.TensorBridge;
import org.dualdistill.model.NativeOwner;

/**
 * X3D's inference forward on the CPU in channels-last with every batch norm folded into the convolution before it:
 * the route {@link X3d#forward} takes for {@link DepthwiseMode#FAST} and {@link DepthwiseMode#AUTO} when the model is
 * in eval mode, grad mode is off (NoGradGuard or InferenceMode), CPU autocast is off (under autocast the modules run
 * in its dtype, e.g. a teacher inside a bf16 training step, and so does the module path here) and the clip and every
 * parameter are float32 on the CPU with the kernel library loaded.
 *
 * <p><b>Why.</b> In eval the depthwise kernels alone bought 1.1-1.2x over LibTorch's NCDHW network; the rest of the
 * time was the layout: LibTorch's 1x1x1 convs reorder NCDHW for oneDNN at every layer (or, at one thread and batch
 * below 16, fall back to im2col + sgemm), and batch norm, ReLU and Swish each make a pass over memory
 * (benchmarks/RESULTS.md, issue 15 eighth round). Here the activations stay {@code [N, T, H, W, C]} from the stem
 * to res5:
 * <ul>
 *   <li>every 1x1x1 conv (conv_a, conv_c, the shortcut, the head's pre_conv and post_conv, the SE fcs) is one
 *       GEMM on the {@code [N*T*H*W, C]} view ({@code addmm} with the folded BN as its bias; the stride-2 shortcut
 *       subsamples first, which is what a 1x1x1 conv with stride 2 computes);</li>
 *   <li>every depthwise conv (the stem's 5x1x1 conv_xy, every 3x3x3 conv_b) is the NDHWC kernel
 *       ({@code DD_LAYOUT_NDHWC}) with its folded BN as a fused bias;</li>
 *   <li>ReLU, Swish and the SE gate run in place; conv_c accumulates onto the shortcut's GEMM output
 *       ({@code addmm_}), then one in-place ReLU;</li>
 *   <li>the stem's conv_t (3 input channels) stays LibTorch's conv3d on the clip converted once to ChannelsLast3d;
 *       the classification Linear(s) are the modules' own.</li>
 * </ul>
 * Why addmm and not mm plus a fused bias/ReLU pass: OpenBLAS zero-fills C before a GEMM with beta = 0 (a memset as
 * large as the output), so the broadcast copy of the bias that addmm makes costs the same pass and does useful
 * work; a native bias + residual + ReLU epilogue after mm was tried and measured no faster (benchmarks/RESULTS.md,
 * issue 15 ninth round).
 *
 * <p>Folding: {@code scale = gamma / sqrt(running_var + eps)}, {@code W' = W * scale} per output channel,
 * {@code b' = beta - running_mean * scale}, computed in float64 and stored in float32. The result equals the module
 * path to float32 rounding (other summation orders); the res5 map leaves as contiguous NCDHW, as on every route.
 *
 * <p><b>Cache.</b> The folded weights are built at the first eval forward and rebuilt when any source tensor
 * changes: each forward compares the (data address, version counter) of every source (conv weights, BN affine
 * parameters and running statistics, SE weights and biases) and of every BN's {@code num_batches_tracked} with the
 * ones the cache was built from, so an optimizer step, a state_dict load, a dtype or device round trip or a BN
 * statistics update (a train-mode forward) in between is seen. The check reads about 400 counters (well under a
 * millisecond).
 *
 * <p><b>Ownership and threads.</b> Owned by its {@link X3d}, closed with it. Forwards may run on several threads at
 * once: each holds the snapshot it started with (reference-counted), and a snapshot replaced by a rebuild is freed
 * when its last forward ends.
 */
final class FoldedEval implements AutoCloseable {
    private final X3d.Stem stem;
    private final List<List<X3d.Block>> stages;
    private final X3d.Head head;
    private Snapshot current;
    private boolean closed;
    private int builds;
    private int live;
    private long forwards;

    FoldedEval(X3d.Stem stem, List<List<X3d.Block>> stages, X3d.Head head) {
        this.stem = stem;
        this.stages = stages;
        this.head = head;
    }

    /**
     * @return whether this route takes a forward of {@code clip} now (the weights are checked by
     *         {@link #forward}, which returns null when one is not float32 on the CPU)
     */
    static boolean applies(Tensor clip, boolean training, DepthwiseMode mode) {
        return (mode == DepthwiseMode.FAST || mode == DepthwiseMode.AUTO) && !training && !GradMode.is_enabled()
                && !torch.is_autocast_enabled(torch.DeviceType.CPU) // the modules' ops then run in the autocast dtype
                && clip.device().is_cpu() && TensorBridge.dtype(clip) == ScalarType.Float
                && NativeLibrary.availability().cpu();
    }

    /**
     * @param clip [B, 3, T, H, W] float32 CPU, checked by the caller
     * @return {logits, embedding, features} in the caller's PointerScope, or null when a parameter or buffer is not
     *         float32 on the CPU (the caller then runs the module path)
     */
    Tensor[] forward(Tensor clip, java.util.function.Function<Tensor, Tensor> classify) {
        Snapshot s = acquire();
        if (s == null) {
            return null;
        }
        try {
            return s.forward(clip, classify);
        } finally {
            release(s);
        }
    }

    private synchronized Snapshot acquire() {
        if (closed) {
            throw new IllegalStateException("X3d is closed");
        }
        long[] sig;
        try (PointerScope scope = new PointerScope()) {
            sig = signature();
        }
        if (sig == null) {
            return null;
        }
        if (current == null || !Arrays.equals(current.signature, sig)) {
            retire(current);
            current = null;
            current = build(sig);
            builds++;
            live++;
        }
        current.users++;
        forwards++;
        return current;
    }

    private synchronized void release(Snapshot s) {
        s.users--;
        if (s != current && s.users == 0) {
            s.close();
            live--;
        }
    }

    private void retire(Snapshot s) {
        if (s != null && s.users == 0) {
            s.close();
            live--;
        }
    }

    /** @return {weight sets built so far, weight sets not yet freed, forwards run} (for tests) */
    synchronized long[] counts() {
        return new long[] {builds, live, forwards};
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            retire(current);
            current = null;
        }
    }

    // ---- sources and their signature ----

    /**
     * Every tensor the folded weights are made from, in a fixed order, then (after {@code counters}) each BN's
     * {@code num_batches_tracked}: a train-mode forward updates the running statistics inside the batch-norm kernel,
     * which does not bump their version counters, but it also increments this counter in place, which does.
     */
    private List<Tensor> sources(List<Tensor> counters) {
        List<Tensor> out = new ArrayList<>();
        out.add(stem.convT().weight());
        out.add(stem.convXy().weight());
        bn(out, counters, stem.norm());
        for (List<X3d.Block> stage : stages) {
            for (X3d.Block b : stage) {
                out.add(b.convA().weight());
                bn(out, counters, b.normA());
                out.add(b.convB().weight());
                bn(out, counters, b.normB());
                if (b.seReduce() != null) {
                    out.add(b.seReduce().weight());
                    out.add(b.seReduce().bias());
                    out.add(b.seExpand().weight());
                    out.add(b.seExpand().bias());
                }
                out.add(b.convC().weight());
                bn(out, counters, b.normC());
                if (b.shortcut() != null) {
                    out.add(b.shortcut().weight());
                }
                if (b.shortcutNorm() != null) {
                    bn(out, counters, b.shortcutNorm());
                }
            }
        }
        out.add(head.preConv().weight());
        bn(out, counters, head.preNorm());
        out.add(head.postConv().weight());
        return out;
    }

    private static void bn(List<Tensor> out, List<Tensor> counters, BatchNorm3dImpl n) {
        out.add(n.weight());
        out.add(n.bias());
        out.add(n.running_mean());
        out.add(n.running_var());
        counters.add(n.num_batches_tracked());
    }

    /**
     * (address, version) of every source, then the version of every BN counter; null if a source is not float32 on
     * the CPU (or is an inference tensor, which has no version counter).
     */
    private long[] signature() {
        List<Tensor> counters = new ArrayList<>();
        List<Tensor> src = sources(counters);
        long[] sig = new long[2 * src.size() + counters.size()];
        for (int i = 0; i < src.size(); i++) {
            Tensor t = src.get(i);
            if (!t.defined() || !t.device().is_cpu() || TensorBridge.dtype(t) != ScalarType.Float
                    || t.__dispatch_is_inference()) {
                return null;
            }
            sig[2 * i] = t.data_ptr().address();
            sig[2 * i + 1] = t.__dispatch__version();
        }
        for (int i = 0; i < counters.size(); i++) {
            Tensor t = counters.get(i);
            sig[2 * src.size() + i] = t.defined() && !t.__dispatch_is_inference() ? t.__dispatch__version() : -1;
        }
        return sig;
    }

    // ---- building ----

    private Snapshot build(long[] sig) {
        Snapshot s = new Snapshot(sig);
        try (PointerScope scope = new PointerScope(); org.bytedeco.pytorch.NoGradGuard g = new org.bytedeco.pytorch.NoGradGuard()) {
            s.stemXy = s.depthwise(stem.convXy(), stem.norm(), 1, new int[] {2, 0, 0});
            s.stemT = s.keep(stem.convT().weight().detach().clone());
            for (List<X3d.Block> stage : stages) {
                List<FoldedBlock> list = new ArrayList<>();
                for (X3d.Block b : stage) {
                    list.add(s.block(b));
                }
                s.stages.add(list);
            }
            s.pre = s.gemm(head.preConv(), head.preNorm(), null);
            s.post = s.gemm(head.postConv(), null, null);
        } catch (RuntimeException | Error e) {
            s.close();
            throw e;
        }
        return s;
    }

    /** A 1x1x1 conv (or Linear) as {@code x2d @ weight^T + bias}; weight [out, in] contiguous, bias [out] or null. */
    private record Gemm(Tensor weight, Tensor bias) {
        Tensor apply(Tensor x2d) {
            return bias == null ? torch.mm(x2d, weight.t()) : torch.addmm(bias, x2d, weight.t());
        }
    }

    /** A depthwise conv in NDHWC: weight [kt, kh, kw, C], the folded BN as bias [C]. */
    private record Depthwise(Tensor weight, Tensor bias, int[] kernel, int stride, int[] pad) {
        /** @param x [N, T, H, W, C] contiguous; @return [N, To, Ho, Wo, C] */
        Tensor apply(Tensor x) {
            if (TensorBridge.dtype(x) != ScalarType.Float) {
                throw new IllegalStateException("folded X3D eval: depthwise input is " + TensorBridge.dtype(x)
                        + ", not float32");
            }
            long n = x.size(0);
            long c = x.size(4);
            long[] in = {x.size(1), x.size(2), x.size(3)};
            int[] st = {1, stride, stride};
            long[] out = new long[3];
            for (int i = 0; i < 3; i++) {
                out[i] = (in[i] + 2L * pad[i] - kernel[i]) / st[i] + 1;
                if (in[i] + 2L * pad[i] < kernel[i]) {
                    throw new IllegalArgumentException("depthwise conv3d: input [N, T, H, W, C] "
                            + TensorBridge.shapeString(x) + " is smaller than the kernel " + Arrays.toString(kernel));
                }
            }
            Tensor y = torch.empty(new long[] {n, out[0], out[1], out[2], c}, x.options(), null);
            DwConvKernel.forwardChannelsLast(new DwConvKernel.Geometry(n, c, in, out, kernel, st, pad),
                    torch.get_num_threads(), TensorBridge.borrow(x, "x", false),
                    TensorBridge.borrow(weight, "weight", false), TensorBridge.borrow(bias, "bias", false),
                    TensorBridge.borrow(y, "y", false));
            return y;
        }
    }

    /**
     * One bottleneck: conv_a (+norm_a), conv_b (+norm_b), the SE fcs, conv_c (+norm_c; without its bias when a
     * shortcut conv carries the sum of both biases), the shortcut conv (+its norm) or null for the identity.
     */
    private record FoldedBlock(Gemm a, Depthwise b, Gemm seReduce, Gemm seExpand, Gemm c, Gemm shortcut, long stride) {
        /** @param x [N, T, H, W, Cin] contiguous; @return [N, T, Ho, Wo, Cout] contiguous */
        Tensor apply(Tensor x) {
            long n = x.size(0);
            long t = x.size(1);
            long h = x.size(2);
            long w = x.size(3);
            long cin = x.size(4);
            long inner = a.weight().size(0);
            long cout = c.weight().size(0);
            Tensor x2 = x.view(-1, cin);
            Tensor y = b.apply(a.apply(x2).relu_().view(n, t, h, w, inner));
            long ho = y.size(2);
            long wo = y.size(3);
            if (seReduce != null) {
                Tensor s = y.mean(new long[] {1, 2, 3}, false, new ScalarTypeOptional());
                s = seReduce.apply(s).relu_();
                s = seExpand.apply(s).sigmoid_();
                y.mul_(s.view(n, 1, 1, 1, inner));
            }
            torch.silu_(y);
            Tensor y2 = y.view(-1, inner);
            Tensor z;
            if (shortcut != null) {
                Tensor xs = stride == 1 ? x2
                        : x.slice(2, new LongOptional(0), new LongOptional(h), stride)
                                .slice(3, new LongOptional(0), new LongOptional(w), stride).reshape(-1, cin);
                z = shortcut.apply(xs);
                z.addmm_(y2, c.weight().t());
            } else {
                z = c.apply(y2).add_(x2);
            }
            return z.relu_().view(n, t, ho, wo, cout);
        }
    }

    /** One set of folded weights; its tensors are its own (one reference held past any PointerScope), freed by close. */
    private static final class Snapshot {
        final long[] signature;
        final NativeOwner owned = new NativeOwner();
        final List<List<FoldedBlock>> stages = new ArrayList<>();
        Depthwise stemXy;
        Tensor stemT;
        Gemm pre;
        Gemm post;
        int users;

        Snapshot(long[] signature) {
            this.signature = signature;
        }

        Tensor[] forward(Tensor clip, java.util.function.Function<Tensor, Tensor> classify) {
            Tensor in = clip.contiguous(torch.MemoryFormat.ChannelsLast3d);
            Tensor y = torch.conv3d(in, stemT, new TensorOptional(), new long[] {1, 2, 2}, new long[] {0, 1, 1},
                    new long[] {1, 1, 1}, 1);
            Tensor x = stemXy.apply(y.permute(0, 2, 3, 4, 1).contiguous()).relu_();
            for (List<FoldedBlock> stage : stages) {
                for (FoldedBlock b : stage) {
                    x = b.apply(x);
                }
            }
            long n = x.size(0);
            long c = x.size(4);
            Tensor features = x.permute(0, 4, 1, 2, 3).contiguous();
            Tensor h = pre.apply(x.view(-1, c)).relu_();
            Tensor pooled = h.view(n, -1, h.size(1)).mean(new long[] {1}, false, new ScalarTypeOptional());
            Tensor embedding = post.apply(pooled).relu_();
            return new Tensor[] {classify.apply(embedding), embedding, features};
        }

        Tensor keep(Tensor t) {
            return owned.keep(t);
        }

        /** {scale, shift} of a BN in float64: y = x * scale + shift. */
        static Tensor[] affine(BatchNorm3dImpl n) {
            double eps = n.options().eps().get();
            Tensor scale = n.weight().to(ScalarType.Double).div(n.running_var().to(ScalarType.Double).add(
                    new org.bytedeco.pytorch.Scalar(eps)).sqrt());
            Tensor shift = n.bias().to(ScalarType.Double).sub(n.running_mean().to(ScalarType.Double).mul(scale));
            return new Tensor[] {scale, shift};
        }

        /** conv [out, in, 1, 1, 1] (+ BN) (+ extra bias [out], float64) as a GEMM. */
        Gemm gemm(Conv3dImpl conv, BatchNorm3dImpl norm, Tensor extraBias) {
            Tensor w = conv.weight().to(ScalarType.Double).flatten(1, -1);
            Tensor b = conv.bias().defined() ? conv.bias().to(ScalarType.Double) : null;
            if (norm != null) {
                Tensor[] sb = affine(norm);
                w = w.mul(sb[0].unsqueeze(1));
                b = b == null ? sb[1] : b.mul(sb[0]).add(sb[1]);
            }
            if (extraBias != null) {
                b = b == null ? extraBias : b.add(extraBias);
            }
            return new Gemm(keep(w.to(ScalarType.Float).contiguous()), b == null ? null : keep(b.to(ScalarType.Float).contiguous()));
        }

        Depthwise depthwise(Conv3dImpl conv, BatchNorm3dImpl norm, int stride, int[] pad) {
            Tensor[] sb = affine(norm);
            Tensor w = conv.weight().to(ScalarType.Double).squeeze(1); // [C, kt, kh, kw]
            int[] k = {(int) w.size(1), (int) w.size(2), (int) w.size(3)};
            w = w.mul(sb[0].view(-1, 1, 1, 1)).permute(1, 2, 3, 0);
            return new Depthwise(keep(w.to(ScalarType.Float).contiguous()), keep(sb[1].to(ScalarType.Float).contiguous()),
                    k, stride, pad);
        }

        FoldedBlock block(X3d.Block b) {
            int s = (int) b.stride();
            Gemm a = gemm(b.convA(), b.normA(), null);
            Depthwise dw = depthwise(b.convB(), b.normB(), s, new int[] {1, 1, 1});
            Gemm seR = b.seReduce() == null ? null : gemm(b.seReduce(), null, null);
            Gemm seE = b.seExpand() == null ? null : gemm(b.seExpand(), null, null);
            if (b.shortcut() == null && b.shortcutNorm() == null) {
                return new FoldedBlock(a, dw, seR, seE, gemm(b.convC(), b.normC(), null), null, 1);
            }
            if (b.shortcut() == null) {
                throw new IllegalStateException("X3D block with a shortcut norm but no shortcut conv");
            }
            // conv_c's folded bias rides on the shortcut GEMM: z = xs Ws'^T + (bs' + bc'), then z += y Wc'^T
            Tensor[] c = affine(b.normC());
            Tensor wc = b.convC().weight().to(ScalarType.Double).flatten(1, -1).mul(c[0].unsqueeze(1));
            Gemm cGemm = new Gemm(keep(wc.to(ScalarType.Float).contiguous()), null);
            Gemm sc = gemm(b.shortcut(), b.shortcutNorm(), c[1]);
            return new FoldedBlock(a, dw, seR, seE, cGemm, sc, s);
        }

        void close() {
            owned.releaseAll();
        }
    }
}
