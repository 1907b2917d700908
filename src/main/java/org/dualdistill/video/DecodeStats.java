package org.dualdistill.video;

/**
 * Counters of one decode call, or accumulated over a {@link VideoSource}'s life. Immutable and thread-safe.
 *
 * @param packetsRead       video packets read from the container
 * @param framesDecoded     frames that came out of the decoder (good or corrupt)
 * @param framesConverted   frames converted (colour, resize) into output tensors
 * @param corruptFrames     decoder errors and frames flagged corrupt or concealed (see {@link CorruptFramePolicy})
 * @param readErrors        container read errors other than end of file (a truncated or damaged file)
 * @param missingFrames     requested frames that no good decoded frame matched exactly; filled from their neighbour
 * @param seeks             container seeks performed
 */
public record DecodeStats(long packetsRead, long framesDecoded, long framesConverted, long corruptFrames, long readErrors,
        long missingFrames, long seeks) {
    /** All counters zero. */
    public static final DecodeStats ZERO = new DecodeStats(0, 0, 0, 0, 0, 0, 0);

    /**
     * @param o other counters
     * @return the element-wise sum
     */
    public DecodeStats plus(DecodeStats o) {
        return new DecodeStats(packetsRead + o.packetsRead, framesDecoded + o.framesDecoded, framesConverted + o.framesConverted,
                corruptFrames + o.corruptFrames, readErrors + o.readErrors, missingFrames + o.missingFrames, seeks + o.seeks);
    }

    /** @return whether any corruption, read error or missing frame was counted */
    public boolean hasProblems() {
        return corruptFrames > 0 || readErrors > 0 || missingFrames > 0;
    }
}
