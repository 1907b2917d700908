package org.dualdistill.internal.ffmpeg;

import java.util.Arrays;

/**
 * The frame index of one video stream, built by scanning its packets once (demuxing only, no decoding): the sorted
 * presentation timestamps of all frames, and the keyframes with the timestamp to hand to {@code av_seek_frame}.
 *
 * <p>Frame {@code i} of the video is the frame whose presentation timestamp is {@code ts(i)}. With B-frames packets
 * arrive in decode order, so sorting by presentation time is what makes indices match what a viewer sees. When the
 * container gives no usable timestamps (some packets lack both pts and dts, or timestamps repeat), the index is
 * marked unreliable and callers fall back to counting decoded frames from the start. A <em>counted</em> index (built
 * by {@code FfmpegDecoder}'s decode scan for streams whose packet timestamps name the wrong frames, such as B-frames
 * with pts = dts) numbers frames in decoder output order and keeps, per usable keyframe, its output ordinal, seek
 * timestamp and pts. Keyframe packets whose frame is discarded (an edit list that starts after them) are seek points
 * but not frames. Immutable.
 */
final class PacketIndex {
    /** Marks "no timestamp", equal to FFmpeg's {@code AV_NOPTS_VALUE}. */
    static final long NO_TS = Long.MIN_VALUE;

    private final long[] ts;
    private final long[] keyTs;
    private final long[] keySeekTs;
    private final long endTs;
    private final boolean reliable;
    private final boolean ptsComplete;
    private final long frameDuration;
    /** counted indexes only: output ordinal of each keyframe (ascending, first 0), else null */
    private final int[] keyOrdinal;
    /** counted indexes only: the pts the decoder stamps on each keyframe, to recognise it after a seek */
    private final long[] keyFramePts;
    /** counted indexes only: whether {@link #ts} holds presentation times (else frame counters) */
    private final boolean timesKnown;
    /** whether every packet had a pts and they increase in file (decode) order */
    private final boolean ptsInDecodeOrder;

    private PacketIndex(long[] ts, long[] keyTs, long[] keySeekTs, long endTs, boolean reliable, boolean ptsComplete) {
        this(ts, keyTs, keySeekTs, endTs, reliable, ptsComplete, null, null, reliable, false);
    }

    private PacketIndex(long[] ts, long[] keyTs, long[] keySeekTs, long endTs, boolean reliable, boolean ptsComplete, int[] keyOrdinal,
            long[] keyFramePts, boolean timesKnown, boolean ptsInDecodeOrder) {
        this.ts = ts;
        this.keyTs = keyTs;
        this.keySeekTs = keySeekTs;
        this.endTs = endTs;
        this.reliable = reliable;
        this.ptsComplete = ptsComplete;
        this.frameDuration = medianStep(ts);
        this.keyOrdinal = keyOrdinal;
        this.keyFramePts = keyFramePts;
        this.timesKnown = timesKnown;
        this.ptsInDecodeOrder = ptsInDecodeOrder;
    }

    /** @return number of frames */
    int size() {
        return ts.length;
    }

    /** @return presentation timestamp of frame {@code i}, in stream time base */
    long ts(int i) {
        return ts[i];
    }

    /** @return the first frame's presentation timestamp */
    long firstTs() {
        return ts[0];
    }

    /** @return the presentation time at which the last frame ends */
    long endTs() {
        return endTs;
    }

    /** @return whether timestamps identify frames (else count frames from the start) */
    boolean reliable() {
        return reliable;
    }

    /** @return number of keyframes */
    int keyframes() {
        return keyTs.length;
    }

    /** @return the index into the keyframe arrays of the last keyframe presented at or before {@code t}, or -1 */
    int keyAtOrBefore(long t) {
        int i = Arrays.binarySearch(keyTs, t);
        return i >= 0 ? i : -i - 2;
    }

    /** @return the keyframe presented at exactly {@code t}, or -1 */
    int keyWithTs(long t) {
        int i = Arrays.binarySearch(keyTs, t);
        return i >= 0 ? i : -1;
    }

    /** @return presentation timestamp of keyframe {@code k} */
    long keyTs(int k) {
        return keyTs[k];
    }

    /** @return the timestamp to seek to for keyframe {@code k} (its dts where known: what demuxer indexes hold) */
    long keySeekTs(int k) {
        return keySeekTs[k];
    }

    /** @return whether frame durations differ by more than one tick */
    boolean variableRate() {
        if (ts.length < 3) {
            return false;
        }
        long min = Long.MAX_VALUE;
        long max = Long.MIN_VALUE;
        for (int i = 1; i < ts.length; i++) {
            long d = ts[i] - ts[i - 1];
            min = Math.min(min, d);
            max = Math.max(max, d);
        }
        return max - min > 1;
    }

    /**
     * @return whether every packet carried a pts. When some only have a dts (AVI with B-frames), the timestamps are decode
     *         order counters that do not say which frame is shown when; {@code FfmpegDecoder} then indexes by decoding.
     */
    boolean ptsComplete() {
        return ptsComplete;
    }

    /**
     * @return whether every packet has a pts and they increase in file order, i.e. decode order. A stream that reorders
     *         frames (B-frames) cannot have that: its muxer wrote decode order as presentation order (pts = dts), and
     *         {@code FfmpegDecoder} then indexes by decoding.
     */
    boolean ptsInDecodeOrder() {
        return ptsInDecodeOrder;
    }

    /**
     * @return whether {@link #ts(int)} are presentation times: always for a reliable index; for a counted index, when
     *         the presentation times could be taken from the packets
     */
    boolean timesKnown() {
        return timesKnown;
    }

    /**
     * Counted indexes only: whether keyframes other than the first can be seeked to, found again by their pts and
     * counted on from their ordinal.
     */
    boolean countedKeys() {
        return keyOrdinal != null && keyOrdinal.length > 1;
    }

    /** @return for a counted index, the keyframe to start from for frame ordinal {@code frame} (0 without keys) */
    int keyAtOrBeforeOrdinal(int frame) {
        if (keyOrdinal == null) {
            return 0;
        }
        int i = Arrays.binarySearch(keyOrdinal, frame);
        return Math.max(0, i >= 0 ? i : -i - 2);
    }

    /** @return for a counted index, the output ordinal of keyframe {@code k} (0 for the first) */
    int keyOrdinal(int k) {
        return keyOrdinal == null ? 0 : keyOrdinal[k];
    }

    /** @return for a counted index with keys, the pts the decoder gives keyframe {@code k} */
    long keyFramePts(int k) {
        return keyFramePts[k];
    }

    /** @return the median distance between consecutive frames, at least 1 */
    long typicalFrameDuration() {
        return frameDuration;
    }

    private static long medianStep(long[] ts) {
        if (ts.length < 2) {
            return 1;
        }
        long[] d = new long[ts.length - 1];
        for (int i = 1; i < ts.length; i++) {
            d[i - 1] = ts[i] - ts[i - 1];
        }
        Arrays.sort(d);
        return Math.max(1, d[d.length / 2]);
    }

    /**
     * Builds the index from what the decoder produced (see {@code FfmpegDecoder}'s decode scan): the timestamps of the
     * output frames, in output order, and the keyframes matched to their packets' seek timestamps.
     *
     * @param frameTs   decoder timestamps of all frames, strictly increasing
     * @param keyTs     timestamps of the keyframes among them, increasing
     * @param keySeekTs the seek timestamp of each of those keyframes
     * @param endTs     presentation end of the last frame
     * @return the index, reliable, marked as complete
     */
    static PacketIndex fromDecoded(long[] frameTs, long[] keyTs, long[] keySeekTs, long endTs) {
        return new PacketIndex(frameTs, keyTs, keySeekTs, endTs, true, true);
    }

    /** @return an index that only counts frames (sequential decoding from the start) */
    static PacketIndex sequential(int n) {
        long[] seq = new long[n];
        for (int i = 0; i < n; i++) {
            seq[i] = i;
        }
        return new PacketIndex(seq, new long[] {0}, new long[] {0}, n, false, false);
    }

    /**
     * An index that counts the decoder's output frames: frame {@code i} is the {@code i}-th frame out of the decoder,
     * as {@code ffmpeg -fps_mode passthrough} numbers them, whatever the timestamps say. Random access seeks to a
     * keyframe packet, waits for the keyframe with the recorded pts to come out, and counts on from its ordinal.
     *
     * @param times       presentation time of each frame (ascending), or null when unknown (then frame counters)
     * @param endTs       presentation end of the last frame (with {@code times})
     * @param keyOrdinals output ordinal of each usable keyframe, ascending, the first 0
     * @param keySeekTs   the seek timestamp of each of those keyframes' packets (the first: where the counting started)
     * @param keyPts      the pts the decoder stamped on each of those keyframes (unused for the first)
     * @param n           number of frames
     * @return the index, not {@link #reliable()}, not complete
     */
    static PacketIndex counted(long[] times, long endTs, int[] keyOrdinals, long[] keySeekTs, long[] keyPts, int n) {
        long[] t = times;
        long end = endTs;
        if (t == null) {
            t = new long[n];
            for (int i = 0; i < n; i++) {
                t[i] = i;
            }
            end = n;
        }
        long[] keyT = new long[keyOrdinals.length];
        for (int k = 0; k < keyT.length; k++) {
            keyT[k] = t[keyOrdinals[k]];
        }
        return new PacketIndex(t, keyT, keySeekTs, end, false, false, keyOrdinals, keyPts, times != null, false);
    }

    /** @return the seek timestamps of all keyframe packets, in decode order (for the decode scan) */
    long[] keySeekTimestamps() {
        return keySeekTs.clone();
    }

    /** Collects packets in file order; not thread-safe. */
    static final class Builder {
        private long[] pts = new long[256];
        private long[] dts = new long[256];
        private long[] dur = new long[256];
        private boolean[] key = new boolean[256];
        private int n;
        private long[] discardedKeys = new long[0]; // pairs (presentation ts, seek ts) of keyframes whose frame is discarded

        void add(long packetPts, long packetDts, long duration, boolean keyframe) {
            if (n == pts.length) {
                int cap = n * 2;
                pts = Arrays.copyOf(pts, cap);
                dts = Arrays.copyOf(dts, cap);
                dur = Arrays.copyOf(dur, cap);
                key = Arrays.copyOf(key, cap);
            }
            pts[n] = packetPts;
            dts[n] = packetDts;
            dur[n] = duration;
            key[n] = keyframe;
            n++;
        }

        /**
         * Records a keyframe packet whose frame the decoder drops (an edit list starting after it): no frame, but the
         * place to seek to for the frames after it.
         */
        void addDiscardedKey(long packetPts, long packetDts) {
            long t = packetPts != NO_TS ? packetPts : packetDts;
            if (t != NO_TS) {
                discardedKeys = Arrays.copyOf(discardedKeys, discardedKeys.length + 2);
                discardedKeys[discardedKeys.length - 2] = t;
                discardedKeys[discardedKeys.length - 1] = packetDts != NO_TS ? packetDts : t;
            }
        }

        int size() {
            return n;
        }

        PacketIndex build() {
            boolean reliable = true;
            boolean complete = true;
            boolean decodeOrder = true;
            long[] t = new long[n];
            for (int i = 0; i < n; i++) {
                t[i] = pts[i] != NO_TS ? pts[i] : dts[i];
                complete &= pts[i] != NO_TS;
                decodeOrder &= i == 0 || pts[i] > pts[i - 1];
                if (t[i] == NO_TS) {
                    reliable = false;
                }
            }
            if (!reliable) {
                // decode order is all we have: frame i is the i-th packet
                return sequential(n);
            }
            long end = NO_TS;
            for (int i = 0; i < n; i++) {
                if (dur[i] > 0) {
                    end = Math.max(end, t[i] + dur[i]);
                }
            }
            int keys = discardedKeys.length / 2;
            for (int i = 0; i < n; i++) {
                if (key[i]) {
                    keys++;
                }
            }
            long[][] kk = new long[keys][];
            int k0 = 0;
            for (int i = 0; i < n; i++) { // file order; sorted by presentation below
                if (key[i]) {
                    kk[k0++] = new long[] {t[i], dts[i] != NO_TS ? dts[i] : t[i]};
                }
            }
            for (int i = 0; i < discardedKeys.length; i += 2) {
                kk[k0++] = new long[] {discardedKeys[i], discardedKeys[i + 1]};
            }
            Arrays.sort(kk, (a, b) -> Long.compare(a[0], b[0]));
            long[] keyTs = new long[keys];
            long[] keySeek = new long[keys];
            for (int k = 0; k < keys; k++) {
                keyTs[k] = kk[k][0];
                keySeek[k] = kk[k][1];
            }
            long[] sorted = Arrays.copyOf(t, n);
            Arrays.sort(sorted);
            for (int i = 1; i < n; i++) {
                if (sorted[i] == sorted[i - 1]) {
                    reliable = false; // repeated timestamps cannot name frames
                    break;
                }
            }
            PacketIndex tmp = new PacketIndex(sorted, keyTs, keySeek, 0, reliable, complete);
            if (end == NO_TS || end <= sorted[n - 1]) {
                end = sorted[n - 1] + tmp.typicalFrameDuration();
            }
            if (!reliable) {
                return sequential(n);
            }
            return new PacketIndex(sorted, keyTs, keySeek, end, true, complete, null, null, true, complete && decodeOrder);
        }
    }
}
