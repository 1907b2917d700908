package org.dualdistill.internal.ffmpeg;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import org.bytedeco.ffmpeg.avformat.AVFormatContext;
import org.bytedeco.ffmpeg.avformat.AVIOContext;
import org.bytedeco.ffmpeg.avformat.AVIOInterruptCB;
import org.bytedeco.javacpp.Pointer;

/**
 * Bounds what one input may read: FFmpeg's interrupt callback ({@code AVFormatContext.interrupt_callback}, which the
 * file protocol checks before every read and the demuxer in its own loops) stops the read once more than
 * {@code maxBytesWithoutPacket} bytes have been read since the last packet (counted by the {@code AVIOContext}'s
 * {@code bytes_read}), or once an optional wall-clock deadline has passed. FFmpeg then returns
 * {@code AVERROR_EXIT}; {@link #takeTripped()} says why. Custom I/O ({@link MemoryInput}) asks {@link #check()} from
 * its read callback instead.
 *
 * <p>Callbacks: as in {@link MemoryInput}, there is one callback for the whole process, retained forever; the
 * {@code opaque} argument carries a small id (never dereferenced) that selects the budget in a concurrent map. A
 * budget is only touched by the thread that decodes its input. {@link #close()} unregisters it (after the format
 * context is closed).
 */
final class ReadBudget implements AutoCloseable {
    private static final ConcurrentHashMap<Long, ReadBudget> OPEN = new ConcurrentHashMap<>();
    private static final AtomicLong IDS = new AtomicLong(1);
    private static final Interrupt CALLBACK;

    static {
        Ffmpeg.init();
        CALLBACK = new Interrupt();
        CALLBACK.retainReference(); // outlives whatever PointerScope loaded this class
    }

    private final long id;
    private final long maxBytesWithoutPacket;
    private AVFormatContext fmt;
    private long baseline;
    private long deadlineNanos;
    private long timeoutMs;
    private String tripped;

    private ReadBudget(long id, long maxBytesWithoutPacket) {
        this.id = id;
        this.maxBytesWithoutPacket = maxBytesWithoutPacket;
    }

    /**
     * @param maxBytesWithoutPacket bytes that may be read between two packets
     * @return a registered budget; caller must close it after the format context that uses it
     */
    static ReadBudget open(long maxBytesWithoutPacket) {
        long id = IDS.getAndIncrement();
        ReadBudget b = new ReadBudget(id, maxBytesWithoutPacket);
        OPEN.put(id, b);
        return b;
    }

    /** Installs the interrupt callback into a freshly allocated (not yet opened) format context. */
    void install(AVFormatContext ctx) {
        this.fmt = ctx;
        AVIOInterruptCB cb = ctx.interrupt_callback();
        cb.callback(CALLBACK);
        cb.opaque(new OpaqueId(id));
    }

    /** Forgets the format context (it was freed by a failed {@code avformat_open_input}). */
    void detach() {
        this.fmt = null;
    }

    /** Starts a wall-clock deadline of {@code ms} milliseconds from now (0 = none). */
    void startDeadline(long ms) {
        timeoutMs = ms;
        deadlineNanos = ms > 0 ? System.nanoTime() + ms * 1_000_000L : 0;
    }

    /** Ends the deadline. */
    void endDeadline() {
        deadlineNanos = 0;
    }

    /** A packet came (or the input was repositioned): the byte count starts again here. */
    void progress() {
        baseline = bytesRead();
    }

    /** @return bytes read from the input so far ({@code AVIOContext.bytes_read}); 0 before it is open */
    long bytesRead() {
        AVFormatContext f = fmt;
        if (f == null || f.isNull()) {
            return 0;
        }
        AVIOContext pb = f.pb();
        return pb == null || pb.isNull() ? 0 : pb.bytes_read();
    }

    /** @return whether the read must stop now (and stays so until {@link #takeTripped()}) */
    boolean check() {
        if (tripped != null) {
            return true;
        }
        if (deadlineNanos != 0 && System.nanoTime() - deadlineNanos > 0) {
            tripped = "opening took longer than " + timeoutMs + " ms (DecodeOptions.openTimeoutMs)";
            return true;
        }
        long read = bytesRead() - baseline;
        if (read > maxBytesWithoutPacket) {
            tripped = "read " + read + " bytes without finding a packet (DecodeOptions.maxBytesWithoutPacket = " + maxBytesWithoutPacket
                    + "): trailing junk or a damaged file";
            return true;
        }
        return false;
    }

    /** @return whether the deadline (not the byte bound) tripped */
    boolean timedOut() {
        return tripped != null && tripped.startsWith("opening took");
    }

    /** @return why the read was stopped, or null if it was not; clears the state and restarts the byte count */
    String takeTripped() {
        String t = tripped;
        if (t != null && !timedOut()) {
            tripped = null;
            progress();
        }
        return t;
    }

    @Override
    public void close() {
        fmt = null;
        OPEN.remove(id);
    }

    /** A {@code void*} whose value is the budget's id; FFmpeg passes it back to the callback untouched. */
    private static final class OpaqueId extends Pointer {
        OpaqueId(long id) {
            this.address = id;
        }
    }

    private static final class Interrupt extends AVIOInterruptCB.Callback_Pointer {
        @Override
        public int call(Pointer opaque) {
            ReadBudget b = opaque == null ? null : OPEN.get(opaque.address());
            return b != null && b.check() ? 1 : 0;
        }
    }
}
