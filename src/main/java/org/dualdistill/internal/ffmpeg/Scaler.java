package org.dualdistill.internal.ffmpeg;

import static org.bytedeco.ffmpeg.global.swscale.SWS_CS_DEFAULT;
import static org.bytedeco.ffmpeg.global.swscale.SWS_CS_ITU709;
import static org.bytedeco.ffmpeg.global.swscale.sws_freeContext;
import static org.bytedeco.ffmpeg.global.swscale.sws_getCachedContext;
import static org.bytedeco.ffmpeg.global.swscale.sws_getCoefficients;
import static org.bytedeco.ffmpeg.global.swscale.sws_setColorspaceDetails;

import org.bytedeco.ffmpeg.global.avutil;
import org.bytedeco.ffmpeg.swscale.SwsContext;
import org.bytedeco.ffmpeg.swscale.SwsFilter;
import org.bytedeco.javacpp.DoublePointer;

/**
 * Owns one {@code SwsContext} (pixel-format conversion plus resize) and re-creates it only when the source or target
 * geometry, format, range or colour space changes ({@code sws_getCachedContext} frees the old one itself).
 * {@code close()} calls {@code sws_freeContext}. Not thread-safe.
 *
 * <p>The JPEG ("{@code yuvj*}") pixel formats are deprecated aliases that make swscale warn on every context; they are
 * mapped to their plain formats with full range, which is what they mean.
 */
final class Scaler implements AutoCloseable {
    private SwsContext ctx;
    private final long[] keyParts = new long[11];
    private boolean keyValid;

    /**
     * Makes the context match; cheap when nothing changed.
     *
     * @return false when swscale cannot convert between these formats
     */
    boolean configure(int srcW, int srcH, int srcFmt, boolean srcFull, int srcColorspace, int dstW, int dstH, int dstFmt,
            boolean dstFull, int dstColorspace, int flags) {
        int fmt = srcFmt;
        boolean full = srcFull;
        if (fmt == avutil.AV_PIX_FMT_YUVJ420P) {
            fmt = avutil.AV_PIX_FMT_YUV420P;
            full = true;
        } else if (fmt == avutil.AV_PIX_FMT_YUVJ422P) {
            fmt = avutil.AV_PIX_FMT_YUV422P;
            full = true;
        } else if (fmt == avutil.AV_PIX_FMT_YUVJ444P) {
            fmt = avutil.AV_PIX_FMT_YUV444P;
            full = true;
        }
        long[] k = {srcW, srcH, fmt, full ? 1 : 0, srcColorspace, dstW, dstH, dstFmt, dstFull ? 1 : 0, dstColorspace, flags};
        if (keyValid && ctx != null && java.util.Arrays.equals(k, keyParts)) {
            return true;
        }
        SwsContext next = sws_getCachedContext(ctx, srcW, srcH, fmt, dstW, dstH, dstFmt, flags, (SwsFilter) null, (SwsFilter) null,
                (DoublePointer) null);
        if (next == null || next.isNull()) {
            ctx = null; // sws_getCachedContext freed the old context before failing
            keyValid = false;
            return false;
        }
        ctx = next;
        // colour matrices: BT.709 when the stream says so, else swscale's default (BT.601), as ffmpeg does
        sws_setColorspaceDetails(ctx, sws_getCoefficients(colorspace(srcColorspace)), full ? 1 : 0,
                sws_getCoefficients(colorspace(dstColorspace)), dstFull ? 1 : 0, 0, 1 << 16, 1 << 16);
        System.arraycopy(k, 0, keyParts, 0, k.length);
        keyValid = true;
        return true;
    }

    private static int colorspace(int avcolSpace) {
        return avcolSpace == avutil.AVCOL_SPC_BT709 ? SWS_CS_ITU709 : SWS_CS_DEFAULT;
    }

    /** @return the configured context (borrowed) */
    SwsContext get() {
        if (ctx == null) {
            throw new IllegalStateException("Scaler is not configured");
        }
        return ctx;
    }

    @Override
    public void close() {
        SwsContext c = ctx;
        ctx = null;
        keyValid = false;
        if (c != null && !c.isNull()) {
            sws_freeContext(c);
        }
    }
}
