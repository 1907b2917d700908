package org.dualdistill.video;

import org.dualdistill.internal.Leaks;
import java.lang.ref.Cleaner;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicReference;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.dualdistill.internal.ffmpeg.FfmpegDecoder;
import org.dualdistill.internal.torch.TensorBridge;
import org.dualdistill.internal.torch.TorchRuntime;

/**
 * One opened video, decoded in process by the bundled FFmpeg, with frame-accurate random access.
 *
 * <p>{@link #open(Path, DecodeOptions)} probes the container and scans the video packets once (no decoding), so
 * {@link #info()} knows the exact frame count, every frame's timestamp and the keyframes. Frames are addressed by
 * index ({@code 0 .. frameCount-1}, in presentation order) or by a time window ({@link ClipInfo}, microseconds from
 * the first frame). A request seeks to the nearest keyframe before the first wanted frame, decodes forward, and
 * converts only the wanted frames (colour conversion and resize in one swscale pass) straight into the output
 * tensor's memory. Works for constant and variable frame rate, B-frames, any frame size, and turns frames upright
 * from display-matrix rotation metadata unless told not to.
 *
 * <p>Output: {@code uint8 [T, H, W, 3]} RGB tensors on the CPU ({@link Clip#frames()}), or the network layout
 * {@code float32 [3, T, H, W]} normalized ({@link Clip#toFloat(float[], float[])}). {@code H x W} is
 * {@link #outputHeight()} x {@link #outputWidth()}, from {@link DecodeOptions#width()}/{@link DecodeOptions#height()}
 * or the source; {@link #decodeInto(long[], Tensor)} decodes into a caller's tensor at that tensor's size.
 *
 * <p>Errors: unreadable input throws {@link VideoDecodeException} (a checked {@link java.io.IOException}) naming the
 * source, the FFmpeg function, its return code and error text; damaged frames follow
 * {@link DecodeOptions#onCorruptFrame()} and are counted in {@link DecodeStats}.
 *
 * <p>Ownership and threads: the source owns its FFmpeg contexts until {@link #close()} (idempotent, thread-safe);
 * clips it returns are owned by the caller. A source is <b>not</b> thread-safe: give each thread (each data loader
 * worker) its own source; sources are independent of each other. Use after close throws
 * {@link IllegalStateException}.
 */
@SuppressWarnings("try") // a PointerScope is opened for what it collects, not referenced
public final class VideoSource implements AutoCloseable {
    static {
        TorchRuntime.init();
    }

    private final AtomicReference<FfmpegDecoder> decoder;
    private final State state;
    private final Cleaner.Cleanable cleanable;
    private final DecodeOptions options;
    private final VideoInfo info;
    private final int rotation;
    private final int outWidth;
    private final int outHeight;

    private VideoSource(FfmpegDecoder d, DecodeOptions options) {
        this.decoder = new AtomicReference<>(d);
        this.options = options;
        this.info = d.info();
        this.rotation = options.applyRotation() ? info.rotation() : 0;
        int dw = rotation % 180 == 0 ? info.width() : info.height();
        int dh = rotation % 180 == 0 ? info.height() : info.width();
        int w = options.width();
        int h = options.height();
        if (w > 0 && h == 0) {
            h = (int) Math.max(1, Math.round((double) w * dh / dw));
        } else if (h > 0 && w == 0) {
            w = (int) Math.max(1, Math.round((double) h * dw / dh));
        } else if (w == 0) {
            w = dw;
            h = dh;
        }
        this.outWidth = w;
        this.outHeight = h;
        this.state = new State(d, Leaks.origin("VideoSource " + info.source()));
        this.cleanable = Leaks.CLEANER.register(this, state);
    }

    /** Closes the decoder of a source that was never closed. */
    private static final class State implements Runnable {
        private final FfmpegDecoder decoder;
        private final Throwable origin;
        private volatile boolean explicit;

        State(FfmpegDecoder decoder, Throwable origin) {
            this.decoder = decoder;
            this.origin = origin;
        }

        @Override
        public void run() {
            if (!explicit) {
                Leaks.report("VideoSource", origin);
            }
            decoder.close();
        }
    }

    /**
     * Opens a video file with the default options.
     *
     * @param path the video file
     * @return the open source; caller must close it
     * @throws VideoDecodeException if the file is missing, empty, truncated before any frame, corrupt, not a video, or
     *                              uses a codec the bundled FFmpeg cannot decode
     */
    public static VideoSource open(Path path) throws VideoDecodeException {
        return open(path, DecodeOptions.defaults());
    }

    /**
     * Opens a video file.
     *
     * @param path    the video file
     * @param options how to decode
     * @return the open source; caller must close it
     * @throws VideoDecodeException as for {@link #open(Path)}
     */
    public static VideoSource open(Path path, DecodeOptions options) throws VideoDecodeException {
        if (path == null || options == null) {
            throw new IllegalArgumentException("path and options must not be null");
        }
        return new VideoSource(FfmpegDecoder.open(path, options), options);
    }

    /**
     * Opens a video held in memory (for example read from an archive).
     *
     * @param data    the complete file contents; borrowed, and must not be modified while the source is open
     * @param name    a name for messages and {@link VideoInfo#source()}, e.g. the archive entry
     * @param options how to decode
     * @return the open source; caller must close it
     * @throws VideoDecodeException as for {@link #open(Path)}
     */
    public static VideoSource open(byte[] data, String name, DecodeOptions options) throws VideoDecodeException {
        if (data == null || name == null || options == null) {
            throw new IllegalArgumentException("data, name and options must not be null");
        }
        return new VideoSource(FfmpegDecoder.open(data, name, options), options);
    }

    private FfmpegDecoder live() {
        FfmpegDecoder d = decoder.get();
        if (d == null) {
            throw new IllegalStateException("VideoSource is closed");
        }
        return d;
    }

    /** @return what was probed: codec, size, rotation, frame rate, exact frame count, duration */
    public VideoInfo info() {
        return info;
    }

    /** @return the options this source decodes with */
    public DecodeOptions options() {
        return options;
    }

    /** @return microseconds from the first frame's presentation time to the end of the last frame */
    public long durationUs() {
        return info.durationUs();
    }

    /** @return the exact number of frames */
    public long frameCount() {
        return info.frameCount();
    }

    /**
     * @param index a frame index in {@code [0, frameCount)}
     * @return its presentation time in microseconds relative to frame 0
     */
    public long frameTimeUs(long index) {
        return live().frameTimeUs(checkIndex(index));
    }

    /** @return W of the clips this source returns */
    public int outputWidth() {
        return outWidth;
    }

    /** @return H of the clips this source returns */
    public int outputHeight() {
        return outHeight;
    }

    /** @return the rotation applied to decoded frames, clockwise degrees (0 when rotation is not applied) */
    public int appliedRotation() {
        return rotation;
    }

    /**
     * The indices of the frames whose presentation time lies in {@code [startUs, endUs)}.
     *
     * @param window the time window
     * @return ascending frame indices, possibly empty
     */
    public long[] indicesIn(ClipInfo window) {
        FfmpegDecoder d = live();
        int n = (int) info.frameCount();
        int lo = lowerBound(d, n, window.startUs());
        int hi = lowerBound(d, n, window.endUs());
        long[] out = new long[Math.max(0, hi - lo)];
        for (int i = 0; i < out.length; i++) {
            out[i] = lo + i;
        }
        return out;
    }

    private static int lowerBound(FfmpegDecoder d, int n, long us) {
        int lo = 0;
        int hi = n;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (d.frameTimeUs(mid) < us) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    /**
     * Decodes every frame in a time window.
     *
     * @param window the window; must contain at least one frame
     * @return {@code uint8 [T, H, W, 3]} with T the number of frames in the window; caller must close it
     * @throws VideoDecodeException  on unreadable or damaged input (see {@link DecodeOptions#onCorruptFrame()})
     * @throws IllegalArgumentException if no frame lies in the window
     */
    public Clip clip(ClipInfo window) throws VideoDecodeException {
        return frames(nonEmpty(window));
    }

    /**
     * Decodes {@code numFrames} frames spread uniformly over a time window: of the {@code n} frames in the window, those
     * at positions {@code floor(i * (n - 1) / (numFrames - 1))}, {@code i = 0 .. numFrames-1} (pytorchvideo's
     * {@code UniformTemporalSubsample}, computed exactly). Frames repeat when the window holds fewer than numFrames.
     *
     * @param window    the window; must contain at least one frame
     * @param numFrames T, at least 1
     * @return {@code uint8 [numFrames, H, W, 3]}; caller must close it
     * @throws VideoDecodeException  on unreadable or damaged input
     * @throws IllegalArgumentException if no frame lies in the window or numFrames &lt; 1
     */
    public Clip clip(ClipInfo window, int numFrames) throws VideoDecodeException {
        if (numFrames < 1) {
            throw new IllegalArgumentException("numFrames must be >= 1, got " + numFrames);
        }
        long[] all = nonEmpty(window);
        long n = all.length;
        long[] pick = new long[numFrames];
        for (int i = 0; i < numFrames; i++) {
            pick[i] = all[(int) (numFrames == 1 ? 0 : (long) i * (n - 1) / (numFrames - 1))];
        }
        return frames(pick);
    }

    private long[] nonEmpty(ClipInfo window) {
        if (window == null) {
            throw new IllegalArgumentException("window must not be null");
        }
        long[] idx = indicesIn(window);
        if (idx.length == 0) {
            throw new IllegalArgumentException("no frame of " + info.source() + " lies in [" + window.startUs() + ", "
                    + window.endUs() + ") us; the video has " + info.frameCount() + " frames over " + info.durationUs() + " us");
        }
        return idx;
    }

    /**
     * Decodes the frames at the given indices, in the given order (repeats allowed).
     *
     * @param indices frame indices in {@code [0, frameCount)}, at least one
     * @return {@code uint8 [indices.length, H, W, 3]}; caller must close it
     * @throws VideoDecodeException on unreadable or damaged input (see {@link DecodeOptions#onCorruptFrame()})
     */
    public Clip frames(long... indices) throws VideoDecodeException {
        FfmpegDecoder d = live();
        checkIndices(indices);
        try (PointerScope scope = new PointerScope()) {
            Tensor out = torch.empty(new long[] {indices.length, outHeight, outWidth, 3}, new TensorOptions(ScalarType.Byte), null);
            DecodeStats stats = decodeTo(d, indices, out);
            long[] ts = new long[indices.length];
            for (int i = 0; i < ts.length; i++) {
                ts[i] = d.frameTimeUs((int) indices[i]);
            }
            out.retainReference();
            return new Clip(out, indices.clone(), ts, stats);
        }
    }

    /**
     * Decodes frames into a caller's tensor, resized to that tensor's size (for example one slice of a batch).
     *
     * @param indices frame indices in {@code [0, frameCount)}, any order, repeats allowed
     * @param out     {@code uint8 [indices.length, H, W, 3]}, contiguous, on the CPU; borrowed and overwritten
     * @return the counters of this decode
     * @throws VideoDecodeException     on unreadable or damaged input
     * @throws IllegalArgumentException if {@code out} has the wrong dtype, device, layout or frame count
     */
    public DecodeStats decodeInto(long[] indices, Tensor out) throws VideoDecodeException {
        FfmpegDecoder d = live();
        checkIndices(indices);
        try (PointerScope scope = new PointerScope()) {
            TensorBridge.requireDefined(out, "out");
            long[] shape = TensorBridge.shape(out);
            if (shape.length != 4 || shape[0] != indices.length || shape[3] != 3 || shape[1] < 1 || shape[2] < 1) {
                throw new IllegalArgumentException("out: expected uint8 [" + indices.length + ", H, W, 3], got "
                        + Arrays.toString(shape));
            }
            if (TensorBridge.dtype(out) != ScalarType.Byte) {
                throw new IllegalArgumentException("out: expected dtype uint8, got " + TensorBridge.dtype(out));
            }
            TensorBridge.borrow(out, "out", false); // checks CPU and contiguity
            return decodeTo(d, indices, out);
        }
    }

    /** Decodes into {@code out} (uint8 [T, H, W, 3], contiguous CPU); must run inside a PointerScope. */
    private DecodeStats decodeTo(FfmpegDecoder d, long[] indices, Tensor out) throws VideoDecodeException {
        int h = (int) out.size(1);
        int w = (int) out.size(2);
        int codedW = rotation % 180 == 0 ? w : h;
        int codedH = rotation % 180 == 0 ? h : w;
        int[] unique = Arrays.stream(indices).sorted().distinct().mapToInt(i -> (int) i).toArray();
        boolean ascending = unique.length == indices.length && isAscending(indices);
        if (ascending && rotation == 0) {
            return d.decode(unique, new BytePointer(out.data_ptr()), w, h);
        }
        Tensor tmp = torch.empty(new long[] {unique.length, codedH, codedW, 3}, new TensorOptions(ScalarType.Byte), null);
        DecodeStats stats = d.decode(unique, new BytePointer(tmp.data_ptr()), codedW, codedH);
        Tensor src = tmp;
        if (!ascending) {
            long[] pos = new long[indices.length];
            for (int i = 0; i < indices.length; i++) {
                pos[i] = Arrays.binarySearch(unique, (int) indices[i]);
            }
            src = src.index_select(0, Tensor.create(pos));
        }
        src = switch (rotation) {
            case 90 -> src.rot90(-1, 1, 2);  // clockwise
            case 180 -> src.rot90(2, 1, 2);
            case 270 -> src.rot90(1, 1, 2);  // counter-clockwise
            default -> src;
        };
        out.copy_(src);
        return stats;
    }

    private static boolean isAscending(long[] a) {
        for (int i = 1; i < a.length; i++) {
            if (a[i] <= a[i - 1]) {
                return false;
            }
        }
        return true;
    }

    private void checkIndices(long[] indices) {
        if (indices == null || indices.length == 0) {
            throw new IllegalArgumentException("at least one frame index is required");
        }
        for (long i : indices) {
            checkIndex(i);
        }
    }

    private int checkIndex(long i) {
        if (i < 0 || i >= info.frameCount()) {
            throw new IllegalArgumentException("frame index " + i + " out of range [0, " + info.frameCount() + ") for "
                    + info.source());
        }
        return (int) i;
    }

    /**
     * @return bytes read from the input since it was opened (probing, indexing, decoding and seeks included); bounded
     *         per gap between packets by {@link DecodeOptions#maxBytesWithoutPacket()}
     */
    public long bytesRead() {
        return live().bytesRead();
    }

    /** @return counters accumulated over all decodes of this source since it was opened (including the index scan) */
    public DecodeStats stats() {
        return live().totals();
    }

    /** Frees the FFmpeg contexts. Idempotent and thread-safe; clips already returned stay valid. */
    @Override
    public void close() {
        if (decoder.getAndSet(null) != null) {
            state.explicit = true;
            cleanable.clean();
        }
    }

    @Override
    public String toString() {
        return "VideoSource[" + info.source() + ", " + info.codec() + " " + info.width() + "x" + info.height() + ", "
                + info.frameCount() + " frames]";
    }
}
