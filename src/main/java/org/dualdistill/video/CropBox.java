package org.dualdistill.video;

/**
 * A rectangle of a decoded frame, in whole pixels of the frame as the {@link VideoSource} returns it (upright, at the
 * video's native size unless {@link DecodeOptions} set another): columns {@code [x, x + width)}, rows
 * {@code [y, y + height)}. Every view of a clip is resampled
 * from the same box, so teachers see exactly the region the student sees. Immutable and thread-safe.
 *
 * @param x      left column, &gt;= 0
 * @param y      top row, &gt;= 0
 * @param width  columns, &gt;= 1
 * @param height rows, &gt;= 1
 */
public record CropBox(int x, int y, int width, int height) {
    /** Validates. */
    public CropBox {
        if (x < 0 || y < 0 || width < 1 || height < 1) {
            throw new IllegalArgumentException("CropBox needs x, y >= 0 and width, height >= 1, got " + x + "," + y + " " + width + "x"
                    + height);
        }
    }

    /**
     * @param frameWidth  frame width in pixels
     * @param frameHeight frame height in pixels
     * @return whether the box lies inside such a frame
     */
    public boolean fitsIn(int frameWidth, int frameHeight) {
        return (long) x + width <= frameWidth && (long) y + height <= frameHeight;
    }

    @Override
    public String toString() {
        return width + "x" + height + "+" + x + "+" + y;
    }
}
