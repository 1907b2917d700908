package org.dualdistill.model.x3d;

import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.FunctionPostHook;
import org.bytedeco.pytorch.FunctionPreHook;
import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Node;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.internal.kernels.CudaStreams;
import org.dualdistill.internal.kernels.DwConvKernel;
import org.dualdistill.internal.kernels.NativeLibrary;
import org.dualdistill.internal.torch.TensorBridge;

/**
 * Depthwise Conv3d through the hand-written kernels ({@code dd_dwconv3d_cpu} / {@code dd_dwconv3d_cuda}), forward
 * and backward, reaching LibTorch's autograd through graph-node hooks.
 *
 * <p><b>How the backward reaches autograd.</b> The presets expose no C++ autograd Function, but they do expose
 * {@code Node.add_pre_hook(FunctionPreHook)} and {@code Node.add_post_hook(FunctionPostHook)}, two JavaCPP
 * {@code @Virtual} classes: each Java instance is its own C++ object, so every layer call gets its own hooks with its
 * context in Java fields (no shared callback pool, no dispatch table, no reliance on the engine's order). Per call:
 * <ol>
 *   <li>{@code y} = the forward kernel's output, a fresh tensor outside the graph;</li>
 *   <li>a zero-valued term {@code z = (xn * wn).sum()} over the empty views {@code xn = x.narrow(0, 0, 0)} and
 *       {@code wn = w.narrow(0, 0, 0)} (flattened): exactly 0 for any values (an empty sum), costs nothing, links
 *       the output to x and w, and its MulBackward saves xn / wn, which keeps x's (and w's) storage alive for as
 *       long as the graph can still run this layer's backward;</li>
 *   <li>{@code out = y.add_(z)}; a pre-hook on out's AddBackward receives dL/dout, runs the input- and
 *       weight-gradient kernels into fresh tensors, and hands the node an undefined gradient, so the zero term's
 *       nodes do no work;</li>
 *   <li>post-hooks on the two SliceBackward nodes of xn and wn (whose only next edges are x and w) replace their
 *       (undefined) outputs with those gradients; autograd then carries them on as if a conv3d node had made them.</li>
 * </ol>
 * The node order is forced by the graph itself (the slice nodes run after the add node). A gradient of an unexpected
 * shape, dtype or device, an input changed in place between forward and backward, or a slice hook that runs before
 * its add hook throws, which autograd turns into an exception from {@code backward()}.
 *
 * <p><b>Lifetime.</b> The C++ hook objects belong to the graph nodes (freed with the graph); JavaCPP's C++ side holds
 * only a weak reference to the Java object, so each call's hooks are kept reachable from a registry until their
 * last hook has run, then in a bounded queue of recently finished calls (so a {@code retain_graph} second backward
 * still finds them). A call's context holds no tensor before its backward starts (only addresses whose storage the
 * graph keeps alive), and its gradients only between its add hook and its slice hooks.
 *
 * <p>Thread-safe: calls are independent; the registry is concurrent.
 */
final class KernelDepthwise {
    /** Finished calls kept reachable for a retain_graph second backward. */
    private static final int RECENT = 4096;
    private static final Set<Context> PENDING = ConcurrentHashMap.newKeySet();
    private static final ArrayDeque<Context> RECENTLY_DONE = new ArrayDeque<>();
    private static final ThreadLocal<TensorVector> UNDEFINED = ThreadLocal.withInitial(() -> {
        TensorVector v = new TensorVector(new Tensor());
        detach(v);
        return v;
    });

    private KernelDepthwise() {
    }

    /**
     * @return whether the kernels take this call: float32 on the CPU (C library loaded) or float32/float16/bfloat16
     *         on CUDA (CUDA library loaded), x and the weight on one device with one dtype
     */
    static boolean applies(Tensor x, Tensor weight) {
        if (x.is_cuda() != weight.is_cuda() || x.dim() != 5 || weight.dim() != 5) {
            return false;
        }
        ScalarType xt = TensorBridge.dtype(x);
        if (xt != TensorBridge.dtype(weight)) {
            return false;
        }
        if (x.is_cuda()) {
            return (xt == ScalarType.Float || xt == ScalarType.Half || xt == ScalarType.BFloat16)
                    && NativeLibrary.availability().cuda() && x.device().index() == weight.device().index();
        }
        return xt == ScalarType.Float && x.device().is_cpu() && NativeLibrary.availability().cpu();
    }

    /** @return calls whose backward has not run (yet): their graphs were never backpropagated or are still alive */
    static int pendingCalls() {
        return PENDING.size();
    }

    /**
     * @param x       [N, C, T, H, W], any strides (made contiguous once), {@link #applies} true
     * @param weight  [C, 1, kt, kh, kw]
     * @param stride  {st, sh, sw}
     * @param pad     {pt, ph, pw}
     * @return [N, C, To, Ho, Wo] contiguous, in the caller's PointerScope, autograd-tracked when x or the weight
     *         requires grad and grad mode is on
     */
    static Tensor forward(Tensor x, Tensor weight, int[] stride, int[] pad) {
        Tensor xc = x.contiguous();
        Tensor wc = weight.contiguous();
        DwConvKernel.Geometry g = geometry(xc, wc, stride, pad);
        boolean cuda = xc.is_cuda();
        int dtype = TensorBridge.kernelDtype(TensorBridge.dtype(xc), "x");
        long[] outShape = {g.batch(), g.channels(), g.out()[0], g.out()[1], g.out()[2]};
        Tensor y = torch.empty(outShape, xc.options(), null);
        try (NoGradGuard ng = new NoGradGuard()) {
            DwConvKernel.run(cuda, g, DwConvKernel.FORWARD, dtype, threads(), TensorBridge.borrow(xc, "x", cuda),
                    TensorBridge.borrow(wc, "weight", cuda), MemorySegment.NULL, TensorBridge.borrow(y, "y", cuda),
                    MemorySegment.NULL, MemorySegment.NULL, stream(cuda, xc));
        }
        boolean needX = xc.requires_grad();
        boolean needW = wc.requires_grad();
        if (!GradMode.is_enabled() || !(needX || needW)) {
            return y;
        }
        Context ctx = new Context(g, cuda, dtype, xc, wc, outShape, needX, needW);
        Tensor xn = xc.narrow(0, 0, 0);
        Tensor wn = wc.narrow(0, 0, 0);
        if (needX) {
            ctx.xHook = new EmitHook(ctx, true);
            xn.grad_fn().add_post_hook(owned(ctx.xHook));
        }
        if (needW) {
            ctx.wHook = new EmitHook(ctx, false);
            wn.grad_fn().add_post_hook(owned(ctx.wHook));
        }
        Tensor z = xn.flatten().mul(wn.flatten()).sum();
        Tensor out = y.add_(z);
        Node node = out.grad_fn();
        ctx.outHook = new GradOutHook(ctx);
        node.add_pre_hook(owned(ctx.outHook));
        PENDING.add(ctx);
        return out;
    }

    private static DwConvKernel.Geometry geometry(Tensor x, Tensor w, int[] stride, int[] pad) {
        long[] in = {x.size(2), x.size(3), x.size(4)};
        int[] k = {(int) w.size(2), (int) w.size(3), (int) w.size(4)};
        long[] out = new long[3];
        for (int i = 0; i < 3; i++) {
            out[i] = (in[i] + 2L * pad[i] - k[i]) / stride[i] + 1;
            if (in[i] + 2L * pad[i] < k[i]) {
                throw new IllegalArgumentException("depthwise conv3d: input " + TensorBridge.shapeString(x)
                        + " is smaller than the kernel " + Arrays.toString(k) + " with padding " + Arrays.toString(pad));
            }
        }
        if (w.size(0) != x.size(1) || w.size(1) != 1) {
            throw new IllegalArgumentException("depthwise conv3d: weight must be [" + x.size(1) + ", 1, kt, kh, kw], got "
                    + TensorBridge.shapeString(w));
        }
        return new DwConvKernel.Geometry(x.size(0), x.size(1), in, out, k, stride.clone(), pad.clone());
    }

    private static int threads() {
        return torch.get_num_threads();
    }

    private static MemorySegment stream(boolean cuda, Tensor t) {
        return cuda ? CudaStreams.current(t) : MemorySegment.NULL;
    }

    /** The hook's C++ object now belongs to the graph node (JavaCPP moves it into the node's unique_ptr and zeroes
     * the Java address): never deallocate it from Java. */
    private static <P extends org.bytedeco.javacpp.Pointer> P owned(P hook) {
        detach(hook);
        hook.deallocate(false);
        return hook;
    }

    /** Takes p out of the caller's PointerScope (if any) without deallocating it: closing it is now ours. */
    private static void detach(org.bytedeco.javacpp.Pointer p) {
        PointerScope s = PointerScope.getInnerScope();
        if (s != null) {
            p.retainReference(); // PointerScope.detach releases one reference
            s.detach(p);
        }
    }

    private static void finished(Context ctx) {
        if (PENDING.remove(ctx)) {
            synchronized (RECENTLY_DONE) {
                RECENTLY_DONE.addLast(ctx);
                if (RECENTLY_DONE.size() > RECENT) {
                    RECENTLY_DONE.removeFirst();
                }
            }
        }
    }

    /** One layer call: geometry, borrowed addresses (kept alive by the graph) and, during backward, the gradients. */
    private static final class Context {
        final DwConvKernel.Geometry g;
        final boolean cuda;
        final int dtype;
        final long xAddress;
        final long wAddress;
        final long xBytes;
        final long wBytes;
        final long[] xShape;
        final long[] wShape;
        final long[] outShape;
        final boolean needX;
        final boolean needW;
        final ScalarType scalarType;
        GradOutHook outHook;
        EmitHook xHook;
        EmitHook wHook;
        Tensor gradX;
        Tensor gradW;
        boolean xEmitted;
        boolean wEmitted;

        Context(DwConvKernel.Geometry g, boolean cuda, int dtype, Tensor xc, Tensor wc, long[] outShape,
                boolean needX, boolean needW) {
            this.g = g;
            this.cuda = cuda;
            this.dtype = dtype;
            this.xAddress = xc.data_ptr().address();
            this.wAddress = wc.data_ptr().address();
            this.xBytes = xc.nbytes();
            this.wBytes = wc.nbytes();
            this.xShape = TensorBridge.shape(xc);
            this.wShape = TensorBridge.shape(wc);
            this.outShape = outShape;
            this.needX = needX;
            this.needW = needW;
            this.scalarType = TensorBridge.dtype(xc);
        }
    }

    /** Pre-hook on out's AddBackward: dL/dout in, both gradient kernels run, an undefined gradient passed on. */
    private static final class GradOutHook extends FunctionPreHook {
        private final Context ctx;

        GradOutHook(Context ctx) {
            this.ctx = ctx;
        }

        @Override
        public TensorVector apply(TensorVector inputs) {
            Context c = ctx;
            if (inputs.size() != 1) {
                throw new IllegalStateException("depthwise conv3d kernel: expected one gradient for the output, got "
                        + inputs.size());
            }
            try (PointerScope scope = new PointerScope()) {
                Tensor go = inputs.get(0);
                if (!go.defined()) {
                    // nothing flows into this layer: its x and w gradients stay undefined too
                    c.gradX = null;
                    c.gradW = null;
                    return UNDEFINED.get();
                }
                if (!Arrays.equals(TensorBridge.shape(go), c.outShape) || go.is_cuda() != c.cuda
                        || TensorBridge.dtype(go) != c.scalarType) {
                    throw new IllegalStateException("depthwise conv3d kernel: gradient of the output has shape "
                            + TensorBridge.shapeString(go) + " " + TensorBridge.dtype(go) + (go.is_cuda() ? " cuda" : " cpu")
                            + ", expected " + Arrays.toString(c.outShape) + " " + c.scalarType
                            + (c.cuda ? " cuda" : " cpu"));
                }
                Tensor goc = go.contiguous();
                MemorySegment gos = TensorBridge.borrow(goc, "grad_output", c.cuda);
                MemorySegment st = c.cuda ? CudaStreams.current(goc) : MemorySegment.NULL;
                int nt = threads();
                if (c.needX) {
                    Tensor gx = torch.empty(c.xShape, goc.options(), null);
                    DwConvKernel.run(c.cuda, c.g, DwConvKernel.GRAD_INPUT, c.dtype, nt, MemorySegment.NULL,
                            MemorySegment.ofAddress(c.wAddress).reinterpret(c.wBytes), gos, MemorySegment.NULL,
                            TensorBridge.borrow(gx, "grad_input", c.cuda), MemorySegment.NULL, st);
                    gx.retainReference();
                    scope.detach(gx);
                    c.gradX = gx;
                }
                if (c.needW) {
                    Tensor gw = torch.empty(c.wShape, goc.options(), null);
                    DwConvKernel.run(c.cuda, c.g, DwConvKernel.GRAD_WEIGHT, c.dtype, nt,
                            MemorySegment.ofAddress(c.xAddress).reinterpret(c.xBytes), MemorySegment.NULL, gos,
                            MemorySegment.NULL, MemorySegment.NULL, TensorBridge.borrow(gw, "grad_weight", c.cuda), st);
                    gw.retainReference();
                    scope.detach(gw);
                    c.gradW = gw;
                }
                return UNDEFINED.get();
            }
        }
    }

    /** Post-hook on the SliceBackward of xn (or wn): its undefined output replaced by the kernel's gradient. */
    private static final class EmitHook extends FunctionPostHook {
        private final Context ctx;
        private final boolean forX;

        EmitHook(Context ctx, boolean forX) {
            this.ctx = ctx;
            this.forX = forX;
        }

        @Override
        public TensorVector apply(TensorVector outputs, TensorVector inputs) {
            Context c = ctx;
            if (outputs.size() != 1) {
                throw new IllegalStateException("depthwise conv3d kernel: expected one output of the "
                        + (forX ? "input" : "weight") + " slice node, got " + outputs.size());
            }
            Tensor grad = forX ? c.gradX : c.gradW;
            TensorVector result = RESULT.get();
            result.put(0, grad == null ? new Tensor() : grad);
            if (grad != null) {
                grad.close(); // the vector holds the reference autograd takes over
            }
            if (forX) {
                c.gradX = null;
                c.xEmitted = true;
            } else {
                c.gradW = null;
                c.wEmitted = true;
            }
            if ((!c.needX || c.xEmitted) && (!c.needW || c.wEmitted)) {
                c.xEmitted = false;
                c.wEmitted = false;
                finished(c);
            }
            return result;
        }
    }

    /** Per-thread return vector of the emit hooks (returned by value: autograd copies it). */
    private static final ThreadLocal<TensorVector> RESULT = ThreadLocal.withInitial(() -> {
        TensorVector v = new TensorVector(1);
        detach(v);
        return v;
    });
}
