package org.dualdistill.video;

import org.dualdistill.internal.Leaks;
import java.lang.ref.Cleaner;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicReference;

import org.dualdistill.internal.ffmpeg.FfmpegEncoder;

/**
 * Writes RGB frames to a video file through the bundled FFmpeg: MPEG-4 Part 2 in AVI (as HMDB51), H.264 (openh264)
 * in MP4, MJPEG, VP9 in WebM/MKV, lossless FFV1 in MKV; the container follows the file extension. Used by the
 * synthetic dataset generator and by tests, which create their fixtures at run time.
 *
 * <pre>{@code
 * try (VideoEncoder enc = VideoEncoder.open(path, EncoderOptions.builder(VideoCodec.MPEG4, 112, 112).optFrameRate(15).build())) {
 *     for (byte[] rgb : frames) enc.writeFrame(rgb);
 * } // close() flushes the encoder and writes the trailer
 * }</pre>
 *
 * <p>Ownership: the encoder owns its FFmpeg contexts; {@link #close()} finishes the file (if {@link #finish()} was not
 * called) and frees them, idempotently; close from one thread. Not thread-safe: one writer thread per encoder.
 * With one encoder thread the output bytes are a deterministic function of the frames and options.
 */
public final class VideoEncoder implements AutoCloseable {
    private final AtomicReference<FfmpegEncoder> encoder;
    private final EncoderOptions options;
    private final Path path;
    private final State state;
    private final Cleaner.Cleanable cleanable;

    private VideoEncoder(FfmpegEncoder e, EncoderOptions options, Path path) {
        this.encoder = new AtomicReference<>(e);
        this.options = options;
        this.path = path;
        this.state = new State(e, Leaks.origin("VideoEncoder " + path));
        this.cleanable = Leaks.CLEANER.register(this, state);
    }

    /** Frees the natives of an encoder that was never closed (the file is then left without its trailer). */
    private static final class State implements Runnable {
        private final FfmpegEncoder encoder;
        private final Throwable origin;
        private volatile boolean explicit;

        State(FfmpegEncoder encoder, Throwable origin) {
            this.encoder = encoder;
            this.origin = origin;
        }

        @Override
        public void run() {
            if (!explicit) {
                Leaks.report("VideoEncoder", origin);
            }
            encoder.close();
        }
    }

    /**
     * Creates (or truncates) the file and writes the container header.
     *
     * @param path    the output file; {@code .avi}, {@code .mp4}, {@code .mov}, {@code .mkv} or {@code .webm}
     * @param options codec, size, rate and metadata
     * @return the encoder; caller must close it
     * @throws VideoEncodeException     if the bundled FFmpeg lacks the encoder or container, or rejects the settings
     * @throws IllegalArgumentException if the container cannot store what the options ask (rotation or VFR in AVI)
     */
    public static VideoEncoder open(Path path, EncoderOptions options) throws VideoEncodeException {
        if (path == null || options == null) {
            throw new IllegalArgumentException("path and options must not be null");
        }
        return new VideoEncoder(FfmpegEncoder.open(path, options), options, path);
    }

    private FfmpegEncoder live() {
        FfmpegEncoder e = encoder.get();
        if (e == null) {
            throw new IllegalStateException("VideoEncoder is closed");
        }
        return e;
    }

    /**
     * Appends a frame at the next constant-rate time ({@code n / frameRate} for the n-th frame).
     *
     * @param rgb {@code height * width * 3} bytes, RGB24, rows top to bottom (borrowed, copied)
     * @throws VideoEncodeException if encoding or writing fails
     */
    public void writeFrame(byte[] rgb) throws VideoEncodeException {
        FfmpegEncoder e = live();
        long n = e.framesWritten();
        Rational fps = options.frameRate();
        long pts = options.variableFrameRate() ? Rational.of(fps.den(), fps.num()).rescale(n, e.timeBase()) : n;
        e.write(rgb, pts);
    }

    /**
     * Appends a frame at an explicit presentation time (variable frame rate). Times are rounded to the encoder's time
     * base (milliseconds with {@link EncoderOptions#variableFrameRate()}, else one frame period) and must increase
     * strictly after rounding.
     *
     * @param rgb    {@code height * width * 3} bytes, RGB24 (borrowed, copied)
     * @param timeUs presentation time in microseconds
     * @throws VideoEncodeException     if encoding or writing fails
     * @throws IllegalArgumentException if the time does not increase
     */
    public void writeFrame(byte[] rgb, long timeUs) throws VideoEncodeException {
        FfmpegEncoder e = live();
        e.write(rgb, new Rational(1, 1_000_000).rescale(timeUs, e.timeBase()));
    }

    /** @return the number of frames written */
    public long framesWritten() {
        return live().framesWritten();
    }

    /** @return the options */
    public EncoderOptions options() {
        return options;
    }

    /** @return the output file */
    public Path path() {
        return path;
    }

    /**
     * Flushes buffered frames and writes the container trailer; further writes are refused. Idempotent.
     *
     * @throws VideoEncodeException if flushing or writing the trailer fails
     */
    public void finish() throws VideoEncodeException {
        live().finish();
    }

    /**
     * Finishes the file if needed and frees the FFmpeg contexts. Idempotent; native memory is freed even when finishing
     * fails.
     *
     * @throws VideoEncodeException if finishing the file fails (the file is then incomplete)
     */
    @Override
    public void close() throws VideoEncodeException {
        FfmpegEncoder e = encoder.getAndSet(null);
        if (e == null) {
            return;
        }
        try {
            e.finish();
        } finally {
            state.explicit = true;
            cleanable.clean(); // closes e
        }
    }
}
