package org.dualdistill.video;

import java.util.Arrays;
import java.util.SplittableRandom;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dualdistill.internal.torch.TensorBridge;
import org.dualdistill.internal.torch.TorchRuntime;

/**
 * Spatial augmentation of video clips, as pytorchvideo's and PySlowFast's transforms: short-side scale (random in
 * {@code [min, max]} for training, fixed for testing), then a random, centre, or one-of-three crop, then an optional
 * horizontal flip, then per-channel normalization.
 *
 * <p>Two halves. {@link #sample} <i>decides</i> a clip's geometry in plain Java: it turns "scale the short side to
 * {@code s}, cut a {@code crop} crop" into a {@link CropBox} of the source frame ({@code crop * sourceShortSide / s}
 * pixels wide), so every model's view can be resampled from the same region ({@link MultiViewSampler}). The static
 * tensor methods <i>apply</i> geometry: {@link #renderInto} cuts the box from decoded {@code uint8} frames, mirrors,
 * resizes (bilinear, {@code align_corners=false}, on the 8-bit pixels and rounded to whole levels as torchvision's
 * and swscale's resizes are; one resampling instead of scale-then-crop, so only the pixels at the box border differ
 * from pytorchvideo's two-step result) and normalizes, straight into a caller's tensor; the single steps
 * ({@link #shortSideScale}, {@link #crop}, {@link #horizontalFlip}, {@link #normalize}) work on
 * {@code float32 [C, T, H, W]} clips.
 *
 * <p>Crops follow PySlowFast: centre offsets are {@code ceil((size - crop) / 2)}; the three test crops are taken along
 * the long side at offset 0, centre, and the far end (left, centre, right for landscape video). Immutable and
 * thread-safe; the tensor methods open their own {@link PointerScope}, borrow their inputs and return new tensors the
 * caller must close.
 */
@SuppressWarnings("try") // a PointerScope is opened for what it collects, not referenced
public final class VideoTransform {
    static {
        TorchRuntime.init();
    }

    /** Where the crop is cut. */
    public enum Crop {
        /** Uniformly random position (training). */
        RANDOM,
        /** The centre. */
        CENTER,
        /** One of three positions along the long side, chosen by the clip's {@link ClipInfo#augIndex()} modulo 3. */
        THREE
    }

    /**
     * One clip's drawn geometry.
     *
     * @param box       the region of the source frame
     * @param flip      whether to mirror left-right
     * @param shortSide the short side the source was notionally scaled to (0 = not scaled)
     */
    public record Spatial(CropBox box, boolean flip, int shortSide) {
    }

    private final int minShortSide;
    private final int maxShortSide;
    private final Crop crop;
    private final double flipProbability;

    private VideoTransform(int minShortSide, int maxShortSide, Crop crop, double flipProbability) {
        if (minShortSide < 0 || maxShortSide < minShortSide || maxShortSide > 16384) {
            throw new IllegalArgumentException("short side range must satisfy 0 <= min <= max <= 16384 (0 = no scaling), got ["
                    + minShortSide + ", " + maxShortSide + "]");
        }
        if (minShortSide == 0 && maxShortSide != 0) {
            throw new IllegalArgumentException("short side range [0, " + maxShortSide + "]: 0 means no scaling and cannot be a bound");
        }
        if (crop == null) {
            throw new IllegalArgumentException("crop must not be null");
        }
        if (!(flipProbability >= 0 && flipProbability <= 1)) {
            throw new IllegalArgumentException("flipProbability must be in [0, 1], got " + flipProbability);
        }
        this.minShortSide = minShortSide;
        this.maxShortSide = maxShortSide;
        this.crop = crop;
        this.flipProbability = flipProbability;
    }

    /**
     * Training augmentation: random short side in {@code [min, max]}, random crop, flip with probability 0.5
     * (PySlowFast's {@code TRAIN_JITTER_SCALES}; X3D-S uses 182..228 with 160 crops, X3D-M 256..320 with 224).
     *
     * @param minShortSide smallest short side, pixels
     * @param maxShortSide largest short side, pixels
     * @return the transform
     */
    public static VideoTransform train(int minShortSide, int maxShortSide) {
        return new VideoTransform(minShortSide, maxShortSide, Crop.RANDOM, 0.5);
    }

    /**
     * Evaluation: fixed short side, centre crop, no flip.
     *
     * @param shortSide the short side, pixels (0 = keep the source size)
     * @return the transform
     */
    public static VideoTransform center(int shortSide) {
        return new VideoTransform(shortSide, shortSide, Crop.CENTER, 0);
    }

    /**
     * Multi-view testing: fixed short side, three crops along the long side (with {@link ClipSampler#uniform}'s
     * {@code numCrops = 3}), no flip.
     *
     * @param shortSide the short side, pixels (0 = keep the source size)
     * @return the transform
     */
    public static VideoTransform threeCrop(int shortSide) {
        return new VideoTransform(shortSide, shortSide, Crop.THREE, 0);
    }

    /**
     * Any combination.
     *
     * @param minShortSide    smallest short side (0 with max 0: no scaling)
     * @param maxShortSide    largest short side
     * @param crop            where to crop
     * @param flipProbability probability of mirroring
     * @return the transform
     */
    public static VideoTransform of(int minShortSide, int maxShortSide, Crop crop, double flipProbability) {
        return new VideoTransform(minShortSide, maxShortSide, crop, flipProbability);
    }

    /** @return the smallest short side (0 = no scaling) */
    public int minShortSide() {
        return minShortSide;
    }

    /** @return the largest short side */
    public int maxShortSide() {
        return maxShortSide;
    }

    /** @return where crops are cut */
    public Crop crop() {
        return crop;
    }

    /** @return the probability of a left-right flip */
    public double flipProbability() {
        return flipProbability;
    }

    /**
     * Draws one clip's geometry. Random draws, in this order and only where the setting is random: the short side,
     * the crop's x, its y, the flip.
     *
     * @param sourceWidth  W of the upright source frame
     * @param sourceHeight H of the upright source frame
     * @param cropWidth    the reference view's W (the crop size after scaling)
     * @param cropHeight   the reference view's H
     * @param spatialIndex the clip's {@link ClipInfo#augIndex()} (selects the crop with {@link Crop#THREE})
     * @param rnd          the randomness, advanced by the call
     * @return the box (inside the frame; clamped to it when the scaled frame is smaller than the crop), flip and scale
     */
    public Spatial sample(int sourceWidth, int sourceHeight, int cropWidth, int cropHeight, int spatialIndex, SplittableRandom rnd) {
        if (sourceWidth < 1 || sourceHeight < 1 || cropWidth < 1 || cropHeight < 1) {
            throw new IllegalArgumentException("sizes must be >= 1, got source " + sourceWidth + "x" + sourceHeight + ", crop " + cropWidth
                    + "x" + cropHeight);
        }
        int s = minShortSide == maxShortSide ? minShortSide : minShortSide + rnd.nextInt(maxShortSide - minShortSide + 1);
        int srcShort = Math.min(sourceWidth, sourceHeight);
        int w;
        int h;
        if (s == 0) {
            w = cropWidth;
            h = cropHeight;
        } else {
            w = (int) Math.round((double) cropWidth * srcShort / s);
            h = (int) Math.round((double) cropHeight * srcShort / s);
        }
        w = Math.clamp(w, 1, sourceWidth);
        h = Math.clamp(h, 1, sourceHeight);
        int freeX = sourceWidth - w;
        int freeY = sourceHeight - h;
        int x;
        int y;
        switch (crop) {
            case RANDOM -> {
                x = rnd.nextInt(freeX + 1);
                y = rnd.nextInt(freeY + 1);
            }
            case CENTER -> {
                x = (freeX + 1) / 2;
                y = (freeY + 1) / 2;
            }
            default -> {
                int k = Math.floorMod(spatialIndex, 3);
                x = (freeX + 1) / 2;
                y = (freeY + 1) / 2;
                if (sourceHeight > sourceWidth) {
                    y = k == 0 ? 0 : k == 1 ? y : freeY;
                } else {
                    x = k == 0 ? 0 : k == 1 ? x : freeX;
                }
            }
        }
        boolean flip = flipProbability > 0 && rnd.nextDouble() < flipProbability;
        return new Spatial(new CropBox(x, y, w, h), flip, s);
    }

    /**
     * Makes one view from decoded frames: selects frames, cuts the box, mirrors, resizes to {@code out}'s size
     * (bilinear on the 8-bit pixels, rounded to whole levels) and normalizes,
     * {@code out = resize(frames[positions, box]) * scale + shift} with per-channel {@code scale = 1 / (255 std)} and
     * {@code shift = -mean / std} (as floats), i.e. {@code (x / 255 - mean) / std}; without intermediate copies of
     * whole frames.
     *
     * @param frames    {@code uint8 [N, H, W, 3]} contiguous RGB on the CPU, as {@link Clip#frames()}; borrowed
     * @param positions which of the N frames, in output order (repeats allowed), each in {@code [0, N)}
     * @param box       the region, inside {@code W x H}
     * @param flip      whether to mirror left-right
     * @param mean      per-channel mean, 3 values
     * @param std       per-channel standard deviation, 3 values &gt; 0
     * @param out       {@code float32 [3, positions.length, outH, outW]}, contiguous, on the CPU; borrowed, overwritten
     * @throws IllegalArgumentException on a shape, dtype or range mismatch
     */
    public static void renderInto(Tensor frames, long[] positions, CropBox box, boolean flip, float[] mean, float[] std, Tensor out) {
        checkMeanStd(mean, std);
        try (PointerScope scope = new PointerScope()) {
            TensorBridge.requireDefined(frames, "frames");
            TensorBridge.requireDefined(out, "out");
            long[] fs = TensorBridge.shape(frames);
            if (fs.length != 4 || fs[3] != 3 || TensorBridge.dtype(frames) != ScalarType.Byte) {
                throw new IllegalArgumentException("frames: expected uint8 [N, H, W, 3], got " + TensorBridge.dtype(frames) + " "
                        + Arrays.toString(fs));
            }
            long[] os = TensorBridge.shape(out);
            if (positions == null || positions.length == 0 || os.length != 4 || os[0] != 3 || os[1] != positions.length
                    || TensorBridge.dtype(out) != ScalarType.Float || !out.is_contiguous()) {
                throw new IllegalArgumentException("out: expected contiguous float32 [3, " + (positions == null ? "?" : positions.length)
                        + ", H, W], got " + TensorBridge.dtype(out) + " " + Arrays.toString(os) + (out.is_contiguous() ? "" : " (not contiguous)"));
            }
            if (box == null || !box.fitsIn((int) fs[2], (int) fs[1])) {
                throw new IllegalArgumentException("box " + box + " does not fit in frames of " + fs[2] + "x" + fs[1]);
            }
            for (long p : positions) {
                if (p < 0 || p >= fs[0]) {
                    throw new IllegalArgumentException("frame position " + p + " out of range [0, " + fs[0] + ")");
                }
            }
            Tensor sel = frames.narrow(1, box.y(), box.height()).narrow(2, box.x(), box.width()).index_select(0, Tensor.create(positions));
            if (flip) {
                sel = sel.flip(2);
            }
            // Resize the 8-bit pixels (LibTorch's vectorized uint8 bilinear kernel on the channels-last view
            // [T, 3, h, w] of [T, h, w, 3], rounding to whole levels as torchvision and swscale do), then convert to
            // float, transpose to [3, T, H, W] and normalize: 3-4x faster than resampling floats, and the large result
            // is written once, straight into out.
            Tensor img = sel.permute(0, 3, 1, 2);
            if (box.height() != os[2] || box.width() != os[3]) {
                img = torch.upsample_bilinear2d(img, new long[] {os[2], os[3]}, false);
            }
            out.copy_(img.permute(1, 0, 2, 3));
            normalizeInPlace(out, mean, std);
        }
    }

    /**
     * Like {@link #renderInto} for all frames, into a new tensor.
     *
     * @param frames {@code uint8 [T, H, W, 3]}; borrowed
     * @param box    the region
     * @param flip   whether to mirror
     * @param height output H
     * @param width  output W
     * @param mean   per-channel mean
     * @param std    per-channel standard deviation
     * @return {@code float32 [3, T, height, width]}; caller must close it
     */
    public static Tensor render(Tensor frames, CropBox box, boolean flip, int height, int width, float[] mean, float[] std) {
        try (PointerScope scope = new PointerScope()) {
            TensorBridge.requireDefined(frames, "frames");
            long t = frames.size(0);
            Tensor out = torch.empty(new long[] {3, t, height, width}, new TensorOptions(ScalarType.Float), null);
            long[] pos = new long[(int) t];
            for (int i = 0; i < pos.length; i++) {
                pos[i] = i;
            }
            renderInto(frames, pos, box, flip, mean, std, out);
            out.retainReference();
            return out;
        }
    }

    /**
     * Scales a clip so that its short side is {@code size}, keeping the aspect ratio (pytorchvideo's
     * {@code short_side_scale}: bilinear, {@code align_corners=false}; the long side is {@code floor(long * size / short)}).
     *
     * @param clip {@code float32 [C, T, H, W]}; borrowed
     * @param size the new short side, &gt;= 1
     * @return {@code float32 [C, T, H', W']}; caller must close it
     */
    public static Tensor shortSideScale(Tensor clip, int size) {
        if (size < 1) {
            throw new IllegalArgumentException("size must be >= 1, got " + size);
        }
        try (PointerScope scope = new PointerScope()) {
            long[] s = checkClip(clip);
            long h = s[2];
            long w = s[3];
            long nh;
            long nw;
            if (w < h) {
                nw = size;
                nh = (long) Math.floor((double) h / w * size);
            } else {
                nh = size;
                nw = (long) Math.floor((double) w / h * size);
            }
            Tensor out = torch.upsample_bilinear2d(clip.to(ScalarType.Float), new long[] {nh, nw}, false).contiguous();
            out.retainReference();
            return out;
        }
    }

    /**
     * Cuts a box out of every frame.
     *
     * @param clip {@code [C, T, H, W]} any dtype; borrowed
     * @param box  the region, inside {@code W x H}
     * @return {@code [C, T, box.height, box.width]}, contiguous; caller must close it
     */
    public static Tensor crop(Tensor clip, CropBox box) {
        try (PointerScope scope = new PointerScope()) {
            long[] s = checkClip(clip);
            if (box == null || !box.fitsIn((int) s[3], (int) s[2])) {
                throw new IllegalArgumentException("box " + box + " does not fit in frames of " + s[3] + "x" + s[2]);
            }
            Tensor out = clip.narrow(2, box.y(), box.height()).narrow(3, box.x(), box.width()).contiguous();
            out.retainReference();
            return out;
        }
    }

    /**
     * Mirrors left-right.
     *
     * @param clip {@code [C, T, H, W]}; borrowed
     * @return the mirrored clip, {@code out[..., w] = clip[..., W - 1 - w]}; caller must close it
     */
    public static Tensor horizontalFlip(Tensor clip) {
        try (PointerScope scope = new PointerScope()) {
            checkClip(clip);
            Tensor out = clip.flip(3);
            out.retainReference();
            return out;
        }
    }

    /**
     * Normalizes per channel: {@code (clip / 255 - mean[c]) / std[c]} for {@code uint8} input (computed as
     * {@code clip * scale + shift}, see {@link #normalizationScale}), {@code (clip - mean[c]) / std[c]} for floating
     * input (already in {@code [0, 1]}).
     *
     * @param clip {@code [3, T, H, W]} uint8 or float32; borrowed
     * @param mean per-channel mean
     * @param std  per-channel standard deviation, &gt; 0
     * @return {@code float32 [3, T, H, W]}; caller must close it
     */
    public static Tensor normalize(Tensor clip, float[] mean, float[] std) {
        checkMeanStd(mean, std);
        try (PointerScope scope = new PointerScope()) {
            long[] s = checkClip(clip);
            if (s[0] != 3) {
                throw new IllegalArgumentException("clip: expected 3 channels, got " + Arrays.toString(s));
            }
            boolean bytes = TensorBridge.dtype(clip) == ScalarType.Byte;
            Tensor out = clip.to(ScalarType.Float).contiguous().clone();
            if (bytes) {
                normalizeInPlace(out, mean, std);
            } else {
                out.sub_(Tensor.create(mean.clone(), 3, 1, 1, 1)).div_(Tensor.create(std.clone(), 3, 1, 1, 1));
            }
            out.retainReference();
            return out;
        }
    }

    /** {@code x = x * scale + shift} in place, per channel of dim 0 (see {@link #affine}); inside a scope. */
    private static void normalizeInPlace(Tensor x, float[] mean, float[] std) {
        Tensor[] a = affine(mean, std);
        x.mul_(a[0]).add_(a[1]);
    }

    /**
     * The normalization as one multiply-add per channel, for 8-bit input.
     *
     * @param mean per-channel mean
     * @param std  per-channel standard deviation
     * @return {@code {scale, shift}}: {@code float(1 / (255 std[c]))} and {@code float(-mean[c] / std[c])} computed in
     *         double, each a {@code [3, 1, 1, 1]} float tensor; inside a scope
     */
    private static Tensor[] affine(float[] mean, float[] std) {
        return new Tensor[] {Tensor.create(normalizationScale(std), 3, 1, 1, 1), Tensor.create(normalizationShift(mean, std), 3, 1, 1, 1)};
    }

    /**
     * @param std per-channel standard deviation
     * @return {@code (float) (1 / (255 * std[c]))}: what 8-bit pixels are multiplied by when normalized
     */
    public static float[] normalizationScale(float[] std) {
        float[] out = new float[std.length];
        for (int c = 0; c < out.length; c++) {
            out[c] = (float) (1.0 / (255.0 * std[c]));
        }
        return out;
    }

    /**
     * @param mean per-channel mean
     * @param std  per-channel standard deviation
     * @return {@code (float) (-mean[c] / std[c])}: what is added after the scale
     */
    public static float[] normalizationShift(float[] mean, float[] std) {
        float[] out = new float[mean.length];
        for (int c = 0; c < out.length; c++) {
            out[c] = (float) (-(double) mean[c] / std[c]);
        }
        return out;
    }

    private static long[] checkClip(Tensor clip) {
        TensorBridge.requireDefined(clip, "clip");
        long[] s = TensorBridge.shape(clip);
        if (s.length != 4 || s[2] < 1 || s[3] < 1) {
            throw new IllegalArgumentException("clip: expected [C, T, H, W], got " + Arrays.toString(s));
        }
        return s;
    }

    private static void checkMeanStd(float[] mean, float[] std) {
        if (mean == null || std == null || mean.length != 3 || std.length != 3) {
            throw new IllegalArgumentException("mean and std must have 3 values (RGB)");
        }
        for (float s : std) {
            if (!(s > 0)) {
                throw new IllegalArgumentException("std values must be > 0, got " + Arrays.toString(std));
            }
        }
    }

    @Override
    public String toString() {
        return "VideoTransform[short side " + (minShortSide == maxShortSide ? String.valueOf(minShortSide) : minShortSide + ".." + maxShortSide)
                + ", " + crop + " crop, flip p=" + flipProbability + "]";
    }
}
