package org.dualdistill.sdd;

import org.dualdistill.internal.AtomicFiles;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicReference;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.internal.torch.TensorBridge;
import org.dualdistill.internal.torch.TorchRuntime;

/**
 * A frozen, seeded linear map phi: C_in -> D applied at every position of a feature map (SDD's teacher
 * projection, docs/method.md). Its rows are orthonormal when D <= C_in (its columns when
 * D > C_in), so it neither collapses to zero nor changes with training: it is never a parameter, never in an
 * optimizer, and {@link #apply} runs without gradient. The matrix is a pure function of (C_in, D, seed), made in
 * Java (SplittableRandom Gaussians, modified Gram-Schmidt in double), so it is identical on every platform and
 * LibTorch version; {@link #save}/{@link #load} keep it with a run so a resumed run uses the same one.
 *
 * <p>Owns one float32 CPU tensor [D, C_in, 1, 1, 1] (plus a per-device copy made on first use); thread-safe for
 * concurrent {@link #apply} calls on the CPU; {@link #close()} is idempotent.
 */
public final class FrozenProjection implements AutoCloseable {
    private static final int MAGIC = 0x44445048; // "DDPH"

    static {
        TorchRuntime.init();
    }

    private final long inChannels;
    private final long outChannels;
    private final long seed;
    private final float[] values;
    private final AtomicReference<Tensor> weight = new AtomicReference<>();

    private FrozenProjection(long inChannels, long outChannels, long seed, float[] values) {
        this.inChannels = inChannels;
        this.outChannels = outChannels;
        this.seed = seed;
        this.values = values;
        try (PointerScope scope = new PointerScope()) {
            Tensor w = Tensor.create(values, outChannels, inChannels, 1, 1, 1).clone();
            w.retainReference();
            weight.set(w);
        }
    }

    /**
     * Makes the projection for (C_in, D, seed).
     *
     * @param inChannels  C_in >= 1, the teacher's channels
     * @param outChannels D >= 1, the common dimension (default: the student's channels)
     * @param seed        any long; the same triple always gives the same matrix
     * @return a new projection; caller must close
     */
    public static FrozenProjection create(long inChannels, long outChannels, long seed) {
        if (inChannels < 1 || outChannels < 1 || inChannels * outChannels > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("projection: need 1 <= C_in, D and C_in * D < 2^31, got C_in=" + inChannels
                    + " D=" + outChannels);
        }
        return new FrozenProjection(inChannels, outChannels, seed, orthonormal((int) outChannels, (int) inChannels, seed));
    }

    /** Rows (rows <= cols) or columns (rows > cols) orthonormal, row-major [rows, cols]. */
    static float[] orthonormal(int rows, int cols, long seed) {
        boolean transpose = rows > cols;
        int n = transpose ? cols : rows; // vectors to orthonormalize
        int len = transpose ? rows : cols; // their length
        SplittableRandom rng = new SplittableRandom(seed);
        double[][] v = new double[n][len];
        for (int i = 0; i < n; i++) {
            for (int attempt = 0; ; attempt++) {
                for (int j = 0; j < len; j++) {
                    v[i][j] = gaussian(rng);
                }
                // modified Gram-Schmidt, twice for numerical orthogonality
                for (int pass = 0; pass < 2; pass++) {
                    for (int k = 0; k < i; k++) {
                        double d = 0;
                        for (int j = 0; j < len; j++) {
                            d += v[i][j] * v[k][j];
                        }
                        for (int j = 0; j < len; j++) {
                            v[i][j] -= d * v[k][j];
                        }
                    }
                }
                double norm = 0;
                for (int j = 0; j < len; j++) {
                    norm += v[i][j] * v[i][j];
                }
                norm = Math.sqrt(norm);
                if (norm > 1e-6 || attempt > 8) {
                    for (int j = 0; j < len; j++) {
                        v[i][j] /= norm;
                    }
                    break;
                }
            }
        }
        float[] out = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                out[r * cols + c] = (float) (transpose ? v[c][r] : v[r][c]);
            }
        }
        return out;
    }

    private static double gaussian(SplittableRandom rng) {
        // Box-Muller: a fixed algorithm, so the matrix does not depend on a JDK's nextGaussian
        double u1 = rng.nextDouble();
        double u2 = rng.nextDouble();
        return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
    }

    /** @return C_in */
    public long inChannels() {
        return inChannels;
    }

    /** @return D */
    public long outChannels() {
        return outChannels;
    }

    /** @return the seed */
    public long seed() {
        return seed;
    }

    /** @return a copy of the matrix, row-major [D, C_in] */
    public float[] matrix() {
        return values.clone();
    }

    private Tensor weight() {
        Tensor w = weight.get();
        if (w == null) {
            throw new IllegalStateException("FrozenProjection is closed");
        }
        return w;
    }

    /**
     * Projects every position: out[b, :, t, h, w] = W x[b, :, t, h, w], without gradient.
     *
     * @param x [B, C_in, T, H, W] float32 on the CPU or the weight's device (borrowed)
     * @return [B, D, T, H, W] float32, detached; caller's PointerScope owns it
     */
    public Tensor apply(Tensor x) {
        TensorBridge.requireDefined(x, "features");
        if (x.dim() != 5 || x.size(1) != inChannels) {
            throw new IllegalArgumentException("features: expected [B, " + inChannels + ", T, H, W], got "
                    + TensorBridge.shapeString(x));
        }
        try (NoGradGuard g = new NoGradGuard()) {
            Tensor w = weight();
            if (x.is_cuda()) {
                w = w.to(x.device(), torch.ScalarType.Float);
            }
            return torch.conv3d(x.detach().to(torch.ScalarType.Float), w);
        }
    }

    /**
     * Writes the projection atomically (temporary file, then rename).
     *
     * @param file target path
     * @throws IOException on write failure
     */
    public void save(Path file) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, file.getFileName().toString(), ".tmp");
        try {
            try (OutputStream os = Files.newOutputStream(tmp); DataOutputStream out = new DataOutputStream(os)) {
                out.writeInt(MAGIC);
                out.writeLong(inChannels);
                out.writeLong(outChannels);
                out.writeLong(seed);
                for (float v : values) {
                    out.writeFloat(v);
                }
            }
            AtomicFiles.replace(tmp, file);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * Reads a projection written by {@link #save}, checking that it is the one its seed defines.
     *
     * @param file the file
     * @return the projection; caller must close
     * @throws IOException when the file is missing, truncated, not a projection, or altered
     */
    public static FrozenProjection load(Path file) throws IOException {
        try (InputStream is = Files.newInputStream(file); DataInputStream in = new DataInputStream(is)) {
            if (in.readInt() != MAGIC) {
                throw new IOException(file + ": not a dualdistill projection file (bad magic)");
            }
            long cin = in.readLong();
            long d = in.readLong();
            long seed = in.readLong();
            if (cin < 1 || d < 1 || cin * d > Integer.MAX_VALUE) {
                throw new IOException(file + ": bad projection shape [" + d + ", " + cin + "]");
            }
            float[] v = new float[(int) (cin * d)];
            for (int i = 0; i < v.length; i++) {
                v[i] = in.readFloat();
            }
            float[] expected = orthonormal((int) d, (int) cin, seed);
            if (!java.util.Arrays.equals(v, expected)) {
                throw new IOException(file + ": projection values differ from the ones seed " + seed + " defines");
            }
            return new FrozenProjection(cin, d, seed, v);
        } catch (java.io.EOFException e) {
            throw new IOException(file + ": truncated projection file", e);
        }
    }

    /** @return the weight as it is now, for tests (row-major [D, C_in]) */
    float[] currentWeight() {
        try (PointerScope scope = new PointerScope()) {
            Tensor w = weight().contiguous();
            float[] out = new float[values.length];
            new FloatPointer(w.data_ptr()).capacity(out.length).get(out);
            return out;
        }
    }

    @Override
    public void close() {
        Tensor w = weight.getAndSet(null);
        if (w != null) {
            w.close();
        }
    }
}
