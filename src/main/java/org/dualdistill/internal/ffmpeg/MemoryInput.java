package org.dualdistill.internal.ffmpeg;

import static org.bytedeco.ffmpeg.global.avformat.AVSEEK_FORCE;
import static org.bytedeco.ffmpeg.global.avformat.AVSEEK_SIZE;
import static org.bytedeco.ffmpeg.global.avformat.avio_alloc_context;
import static org.bytedeco.ffmpeg.global.avformat.avio_context_free;
import static org.bytedeco.ffmpeg.global.avutil.AVERROR_EOF;
import static org.bytedeco.ffmpeg.global.avutil.av_free;
import static org.bytedeco.ffmpeg.global.avutil.av_malloc;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import org.bytedeco.ffmpeg.avformat.AVIOContext;
import org.bytedeco.ffmpeg.avformat.Read_packet_Pointer_BytePointer_int;
import org.bytedeco.ffmpeg.avformat.Seek_Pointer_long_int;
import org.bytedeco.ffmpeg.avformat.Write_packet_Pointer_BytePointer_int;
import org.bytedeco.ffmpeg.global.avutil;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.dualdistill.video.VideoDecodeException;

/**
 * Owns the custom {@code AVIOContext} (and its {@code av_malloc}ed buffer) through which FFmpeg reads a video held in
 * a Java {@code byte[]}.
 *
 * <p>Lifetime: created before the {@code AVFormatContext} that reads through it and closed after that context is
 * closed ({@code avformat_close_input} leaves custom I/O alone). {@code close()} frees the buffer FFmpeg currently
 * uses (it may have replaced ours) and then the context, as FFmpeg's {@code avio_reading} example does.
 *
 * <p>Callbacks: JavaCPP callbacks are a limited resource, so there is exactly one read and one seek callback for the
 * whole process, retained forever; FFmpeg's {@code opaque} argument carries a small id (never dereferenced) that
 * selects the open input in a concurrent map. Each input is only ever touched by the thread that decodes it.
 */
final class MemoryInput implements AutoCloseable {
    private static final int BUFFER_SIZE = 64 * 1024;
    private static final ConcurrentHashMap<Long, MemoryInput> OPEN = new ConcurrentHashMap<>();
    private static final AtomicLong IDS = new AtomicLong(1);
    private static final Reader READER;
    private static final Seeker SEEKER;

    static {
        Ffmpeg.init();
        READER = new Reader();
        READER.retainReference(); // outlives whatever PointerScope loaded this class
        SEEKER = new Seeker();
        SEEKER.retainReference();
    }

    private final byte[] data;
    private final long id;
    private ReadBudget budget;
    private int position;
    private AVIOContext io;

    private MemoryInput(byte[] data, long id) {
        this.data = data;
        this.id = id;
    }

    /**
     * @param data   the whole file, borrowed (not copied; must not change while open)
     * @param source name for error messages
     * @param budget read bound asked before every read (custom I/O bypasses FFmpeg's interrupt check); borrowed
     * @return an open input; caller must close it after the format context that uses it
     */
    static MemoryInput open(byte[] data, String source, ReadBudget budget) throws VideoDecodeException {
        long id = IDS.getAndIncrement();
        MemoryInput in = new MemoryInput(data, id);
        in.budget = budget;
        Pointer buffer = av_malloc(BUFFER_SIZE);
        if (buffer == null || buffer.isNull()) {
            throw new VideoDecodeException(source, "av_malloc", Ffmpeg.AVERROR_ENOMEM, "no memory for a " + BUFFER_SIZE + "-byte I/O buffer");
        }
        OPEN.put(id, in);
        AVIOContext ctx = avio_alloc_context(new BytePointer(buffer), BUFFER_SIZE, 0, new OpaqueId(id), READER,
                (Write_packet_Pointer_BytePointer_int) null, SEEKER);
        if (ctx == null || ctx.isNull()) {
            OPEN.remove(id);
            av_free(buffer);
            throw new VideoDecodeException(source, "avio_alloc_context", Ffmpeg.AVERROR_ENOMEM, null);
        }
        in.io = ctx;
        return in;
    }

    /** @return the I/O context to install as {@code AVFormatContext.pb} (borrowed) */
    AVIOContext context() {
        return io;
    }

    @Override
    public void close() {
        AVIOContext ctx = io;
        io = null;
        if (ctx != null) {
            BytePointer buf = ctx.buffer();
            if (buf != null && !buf.isNull()) {
                av_free(buf);
                ctx.buffer(null);
            }
            avio_context_free(ctx);
        }
        OPEN.remove(id);
    }

    /** A {@code void*} whose value is the input's id; FFmpeg passes it back to the callbacks untouched. */
    private static final class OpaqueId extends Pointer {
        OpaqueId(long id) {
            this.address = id;
        }
    }

    private static final class Reader extends Read_packet_Pointer_BytePointer_int {
        @Override
        public int call(Pointer opaque, BytePointer buf, int size) {
            MemoryInput in = OPEN.get(opaque.address());
            if (in == null) {
                return Ffmpeg.AVERROR_EINVAL;
            }
            if (in.budget != null && in.budget.check()) {
                return avutil.AVERROR_EXIT;
            }
            int n = Math.min(size, in.data.length - in.position);
            if (n <= 0) {
                return AVERROR_EOF;
            }
            buf.position(0).put(in.data, in.position, n);
            in.position += n;
            return n;
        }
    }

    private static final class Seeker extends Seek_Pointer_long_int {
        @Override
        public long call(Pointer opaque, long offset, int whence) {
            MemoryInput in = OPEN.get(opaque.address());
            if (in == null) {
                return Ffmpeg.AVERROR_EINVAL;
            }
            if ((whence & AVSEEK_SIZE) != 0) {
                return in.data.length;
            }
            long target = switch (whence & ~AVSEEK_FORCE) {
                case 0 -> offset;                   // SEEK_SET
                case 1 -> in.position + offset;     // SEEK_CUR
                case 2 -> in.data.length + offset;  // SEEK_END
                default -> -1;
            };
            if (target < 0 || target > in.data.length) {
                return Ffmpeg.AVERROR_EINVAL;
            }
            in.position = (int) target;
            return target;
        }
    }
}
