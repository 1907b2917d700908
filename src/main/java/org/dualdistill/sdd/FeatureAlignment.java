package org.dualdistill.sdd;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.internal.torch.TensorBridge;

/**
 * SDD's teacher feature alignment (docs/method.md): each teacher's last-stage map is resampled
 * (trilinear, align_corners = false) to the student's grid and projected per position by its own
 * {@link FrozenProjection} to the common dimension D, giving a = phi_ViT(f_ViT) and b = phi_CNN(f_CNN). Both are
 * computed without gradient: teachers and projections are constants.
 *
 * <p>Resampling and projection are both linear (one across positions, one across channels), so they commute; the
 * projection runs first when it shrinks the map (768 -> 192 for MViTv2-S), which makes the resampling cheaper.
 *
 * <p>Owns its two projections; thread-safe for concurrent {@link #align} calls; {@link #close()} is idempotent.
 */
public final class FeatureAlignment implements AutoCloseable {
    private final FrozenProjection vit;
    private final FrozenProjection cnn;
    private final AtomicBoolean closed = new AtomicBoolean();

    private FeatureAlignment(FrozenProjection vit, FrozenProjection cnn) {
        if (vit.outChannels() != cnn.outChannels()) {
            throw new IllegalArgumentException("projections must share D, got " + vit.outChannels() + " and " + cnn.outChannels());
        }
        this.vit = vit;
        this.cnn = cnn;
    }

    /**
     * @param vitChannels channels of the ViT teacher's map (768 for MViTv2-S)
     * @param cnnChannels channels of the CNN teacher's map (192 for X3D-M)
     * @param dim         common dimension D (default: the student's channels, 192 for X3D-S)
     * @param seed        projection seed (the CNN projection uses seed + 1)
     * @return the alignment; caller must close
     */
    public static FeatureAlignment create(long vitChannels, long cnnChannels, long dim, long seed) {
        FrozenProjection v = FrozenProjection.create(vitChannels, dim, seed);
        try {
            return new FeatureAlignment(v, FrozenProjection.create(cnnChannels, dim, seed + 1));
        } catch (RuntimeException e) {
            v.close();
            throw e;
        }
    }

    /** @return D */
    public long dim() {
        return vit.outChannels();
    }

    /** @return the ViT teacher's projection (owned by this alignment) */
    public FrozenProjection vitProjection() {
        return vit;
    }

    /** @return the CNN teacher's projection (owned by this alignment) */
    public FrozenProjection cnnProjection() {
        return cnn;
    }

    /** The aligned, projected teacher maps a and b, both [B, D, T_s, H_s, W_s] float32, detached. */
    public record Aligned(Tensor a, Tensor b) {
    }

    /**
     * @param vitFeatures ViT teacher map [B, C_vit, T, H, W] (borrowed)
     * @param cnnFeatures CNN teacher map [B, C_cnn, T', H', W'] (borrowed)
     * @param grid        the student's (T_s, H_s, W_s)
     * @return a and b in the caller's PointerScope
     */
    public Aligned align(Tensor vitFeatures, Tensor cnnFeatures, long[] grid) {
        if (closed.get()) {
            throw new IllegalStateException("FeatureAlignment is closed");
        }
        if (grid == null || grid.length != 3 || grid[0] < 1 || grid[1] < 1 || grid[2] < 1) {
            throw new IllegalArgumentException("grid: expected (T, H, W) >= 1, got " + java.util.Arrays.toString(grid));
        }
        TensorBridge.requireDefined(vitFeatures, "vitFeatures");
        TensorBridge.requireDefined(cnnFeatures, "cnnFeatures");
        if (vitFeatures.dim() != 5 || cnnFeatures.dim() != 5 || vitFeatures.size(0) != cnnFeatures.size(0)) {
            throw new IllegalArgumentException("teacher features: expected [B, C, T, H, W] maps with the same B, got "
                    + TensorBridge.shapeString(vitFeatures) + " and " + TensorBridge.shapeString(cnnFeatures));
        }
        return new Aligned(project(vit, vitFeatures, grid, "vitFeatures"), project(cnn, cnnFeatures, grid, "cnnFeatures"));
    }

    private static Tensor project(FrozenProjection p, Tensor x, long[] grid, String name) {
        if (x.size(1) != p.inChannels()) {
            throw new IllegalArgumentException(name + ": expected " + p.inChannels() + " channels, got shape "
                    + TensorBridge.shapeString(x));
        }
        try (NoGradGuard g = new NoGradGuard()) {
            if (p.outChannels() < p.inChannels()) {
                return resample(p.apply(x), grid);
            }
            return p.apply(resample(x.detach().to(torch.ScalarType.Float), grid));
        }
    }

    /**
     * Trilinear resampling to (T, H, W) with align_corners = false (PyTorch's F.interpolate default); a map that
     * already has that grid is returned as is.
     *
     * @param x    [B, C, T, H, W] (borrowed)
     * @param grid target (T, H, W)
     * @return the resampled map in the caller's PointerScope
     */
    public static Tensor resample(Tensor x, long[] grid) {
        if (x.size(2) == grid[0] && x.size(3) == grid[1] && x.size(4) == grid[2]) {
            return x;
        }
        return torch.upsample_trilinear3d(x, grid, false);
    }

    /**
     * The SDD target r = n(a) - n(b), n = L2 normalization along channels with a floor eps, for reference and
     * logging (the fused SDD kernel computes it itself).
     *
     * @return r, detached, in the caller's PointerScope
     */
    public static Tensor residual(Tensor a, Tensor b, double eps) {
        try (NoGradGuard g = new NoGradGuard()) {
            return normalize(a, eps).sub(normalize(b, eps));
        }
    }

    static Tensor normalize(Tensor x, double eps) {
        Tensor norm = torch.sum(x.mul(x), new long[] {1}, true, new ScalarTypeOptional()).sqrt().clamp_min(new Scalar(eps));
        return x.div(norm);
    }

    /**
     * Saves both projections into a folder ({@code vit.proj}, {@code cnn.proj}), atomically per file.
     *
     * @param dir target folder
     * @throws IOException on write failure
     */
    public void save(Path dir) throws IOException {
        Files.createDirectories(dir);
        vit.save(dir.resolve("vit.proj"));
        cnn.save(dir.resolve("cnn.proj"));
    }

    /**
     * @param dir a folder written by {@link #save}
     * @return the alignment; caller must close
     * @throws IOException when a file is missing or corrupt (named in the message)
     */
    public static FeatureAlignment load(Path dir) throws IOException {
        FrozenProjection v = FrozenProjection.load(dir.resolve("vit.proj"));
        try {
            return new FeatureAlignment(v, FrozenProjection.load(dir.resolve("cnn.proj")));
        } catch (IOException | RuntimeException e) {
            v.close();
            throw e;
        }
    }

    @Override
    public void close() {
        if (!closed.getAndSet(true)) {
            vit.close();
            cnn.close();
        }
    }
}
