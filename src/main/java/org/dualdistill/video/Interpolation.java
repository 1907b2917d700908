package org.dualdistill.video;

import org.bytedeco.ffmpeg.global.swscale;

/** The swscale filter used when decoded frames are resized to the output size. */
public enum Interpolation {
    /** Nearest neighbour ({@code SWS_POINT}): fastest, aliased. */
    NEAREST(swscale.SWS_POINT),
    /** Bilinear ({@code SWS_BILINEAR}): the default, as torchvision's and pytorchvideo's resizes. */
    BILINEAR(swscale.SWS_BILINEAR),
    /** Bicubic ({@code SWS_BICUBIC}). */
    BICUBIC(swscale.SWS_BICUBIC),
    /** Area averaging ({@code SWS_AREA}): the least aliasing for large downscales. */
    AREA(swscale.SWS_AREA);

    private final int swsFlag;

    Interpolation(int swsFlag) {
        this.swsFlag = swsFlag;
    }

    /** @return the {@code SWS_*} flag passed to {@code sws_getCachedContext} */
    public int swsFlag() {
        return swsFlag;
    }
}
