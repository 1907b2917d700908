package org.dualdistill.video;

/**
 * What {@link VideoSource#open} learned about a video: container and stream headers plus an exact scan of the video
 * packets (frame count, timestamps, keyframes). Immutable and thread-safe.
 *
 * @param source            file path, or the name given to an in-memory video
 * @param container         FFmpeg's demuxer name, e.g. {@code "avi"} or {@code "mov,mp4,m4a,3gp,3g2,mj2"}
 * @param codec             FFmpeg's codec name, e.g. {@code "mpeg4"}, {@code "h264"}, {@code "vp9"}, {@code "mjpeg"}
 * @param width             coded frame width in pixels (before rotation)
 * @param height            coded frame height in pixels (before rotation)
 * @param rotation          clockwise rotation in degrees (0, 90, 180 or 270) that turns coded frames upright, from the
 *                          display matrix (as ffmpeg's autorotate; ffprobe shows it with the opposite sign)
 * @param frameRate         the stream's frame rate as FFmpeg guesses it ({@code av_guess_frame_rate}); the average rate for
 *                          variable-frame-rate video; {@link Rational#UNKNOWN} if none
 * @param frameCount        exact number of video frames (packets carrying a frame), from the packet scan
 * @param durationUs        microseconds from the first frame's presentation time to the end of the last frame
 * @param timeBase          the stream's time base
 * @param pixelFormat       the decoder's pixel format name, e.g. {@code "yuv420p"}
 * @param bitRate           bits per second as reported by the container or codec, 0 if unknown
 * @param variableFrameRate whether frame durations differ by more than one time-base tick
 * @param keyframes         number of keyframes (random access points)
 */
public record VideoInfo(String source, String container, String codec, int width, int height, int rotation, Rational frameRate,
        long frameCount, long durationUs, Rational timeBase, String pixelFormat, long bitRate, boolean variableFrameRate,
        long keyframes) {

    /** @return the width of an upright frame (height when rotated by 90 or 270 degrees) */
    public int displayWidth() {
        return rotation % 180 == 0 ? width : height;
    }

    /** @return the height of an upright frame */
    public int displayHeight() {
        return rotation % 180 == 0 ? height : width;
    }
}
