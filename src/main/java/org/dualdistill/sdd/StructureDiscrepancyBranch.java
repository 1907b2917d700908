package org.dualdistill.sdd;

import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BatchNorm3dImpl;
import org.bytedeco.pytorch.BatchNormOptions;
import org.bytedeco.pytorch.Conv3dImpl;
import org.bytedeco.pytorch.Conv3dOptions;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.internal.torch.TensorBridge;
import org.dualdistill.internal.torch.TorchRuntime;
import org.dualdistill.model.NativeOwner;

/**
 * The Structure Discrepancy Branch (SDB) of SDD: a training-only head on the student's last-stage feature map that
 * predicts the residual between the projected ViT and CNN teacher features (docs/method.md).
 * <pre>
 *   x [B, C, T, H, W]
 *   -> non-local block (embedded Gaussian): theta, phi, g = 1x1x1 convs C -> C/2;
 *      A = softmax(theta^T phi / sqrt(C/2)) over positions; y = g A^T; z = x + BN(W y), W: 1x1x1 conv C/2 -> C
 *      (BN's scale starts at 0, so the block starts as the identity, as in Wang et al. 2018)
 *   -> squeeze-excitation (reduction 1/4): z * sigmoid(fc2(relu(fc1(avgpool(z)))))
 *   -> 1x1x1 conv C -> D = r_hat
 * </pre>
 * It is a LibTorch {@link Module} whose parameters join the student's in the optimizer, and it is never part of
 * the exported student. Parameters: for C = D = 192 (X3D-S res5), 130,320.
 *
 * <p>Owned by its creator ({@link #close()} releases the native module); not thread-safe (as any module in
 * training mode).
 */
public final class StructureDiscrepancyBranch extends Module {
    static {
        TorchRuntime.init();
    }

    private final NativeOwner own = new NativeOwner();

    private final long channels;
    private final long inner;
    private final long outDim;
    private final Conv3dImpl theta;
    private final Conv3dImpl phi;
    private final Conv3dImpl g;
    private final Conv3dImpl w;
    private final BatchNorm3dImpl bn;
    private final Conv3dImpl seReduce;
    private final Conv3dImpl seExpand;
    private final Conv3dImpl out;

    /**
     * @param channels the student tap's channels C (>= 2)
     * @param outDim   D, the projected teachers' dimension
     */
    public StructureDiscrepancyBranch(long channels, long outDim) {
        super();
        if (channels < 2 || outDim < 1) {
            throw new IllegalArgumentException("SDB: need channels >= 2 and outDim >= 1, got C=" + channels + " D=" + outDim);
        }
        this.channels = channels;
        this.inner = channels / 2;
        this.outDim = outDim;
        long se = Math.max(1, channels / 4);
        // Each submodule wrapper is retained by `own`: a wrapper freed by an enclosing PointerScope would leave this
        // module with a dead child (SIGSEGV in parameters()); see NativeOwner.
        theta = keep("theta", conv(channels, inner));
        phi = keep("phi", conv(channels, inner));
        g = keep("g", conv(channels, inner));
        w = keep("w", conv(inner, channels));
        bn = keep("bn", new BatchNorm3dImpl(new BatchNormOptions(channels)));
        seReduce = keep("se_reduce", conv(channels, se));
        seExpand = keep("se_expand", conv(se, channels));
        out = keep("out", conv(channels, outDim));
        try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            bn.weight().zero_();
        }
    }

    private static Conv3dImpl conv(long in, long outCh) {
        LongPointer k = new LongPointer(1L, 1L, 1L);
        return new Conv3dImpl(new Conv3dOptions(in, outCh, k));
    }

    /** @return C */
    public long channels() {
        return channels;
    }

    /** @return D */
    public long outDim() {
        return outDim;
    }

    /**
     * @param x student feature map [B, C, T, H, W] (borrowed; gradients flow into it)
     * @return r_hat [B, D, T, H, W] in the caller's PointerScope
     */
    public Tensor forward(Tensor x) {
        TensorBridge.requireDefined(x, "features");
        if (x.dim() != 5 || x.size(1) != channels) {
            throw new IllegalArgumentException("features: expected [B, " + channels + ", T, H, W], got "
                    + TensorBridge.shapeString(x));
        }
        long b = x.size(0);
        long t = x.size(2);
        long h = x.size(3);
        long wd = x.size(4);
        long n = t * h * wd;
        Tensor q = theta.forward(x).view(b, inner, n).transpose(1, 2);    // [B, N, i]
        Tensor k = phi.forward(x).view(b, inner, n);                      // [B, i, N]
        Tensor v = g.forward(x).view(b, inner, n).transpose(1, 2);        // [B, N, i]
        Tensor attn = torch.softmax(torch.bmm(q, k).mul(new Scalar(1.0 / Math.sqrt(inner))), -1); // [B, N, N]
        Tensor y = torch.bmm(attn, v).transpose(1, 2).contiguous().view(b, inner, t, h, wd);
        Tensor z = x.add(bn.forward(w.forward(y)));
        Tensor s = torch.sigmoid(seExpand.forward(torch.relu(seReduce.forward(torch.adaptive_avg_pool3d(z, 1, 1, 1)))));
        return out.forward(z.mul(s));
    }

    /** Registers a submodule and keeps its wrapper alive as long as this module (see NativeOwner). */
    private <M extends Module> M keep(String name, M child) {
        return own.register(this, name, child);
    }

    /** Releases the submodules' wrappers and this module. Idempotent. */
    @Override
    public void close() {
        own.releaseAll();
        super.close();
    }
}
