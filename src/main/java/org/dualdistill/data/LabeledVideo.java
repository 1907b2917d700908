package org.dualdistill.data;

import java.nio.file.Path;
import java.util.List;

/**
 * One annotated example of a {@link VideoDataset}: a video file (or a segment of one) and its class. Immutable and
 * thread-safe.
 *
 * @param id          a stable, unique id within the dataset (e.g. {@code "brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0.avi"},
 *                    a Kinetics file name, an EPIC narration id); recorded in every {@link org.dualdistill.video.ViewRecord}
 * @param path        the video file
 * @param label       the class index, {@code 0 <= label < numClasses}
 * @param startUs     segment start in microseconds from the video's first frame (0 for a whole video)
 * @param endUs       segment end, exclusive ({@link #TO_END} for the end of the video)
 * @param extraLabels further targets of the example, e.g. EPIC-KITCHENS' {@code [verb_class, noun_class]}; empty if none
 */
public record LabeledVideo(String id, Path path, int label, long startUs, long endUs, List<Integer> extraLabels) {
    /** {@link #endUs()} of a whole video: up to its end. */
    public static final long TO_END = Long.MAX_VALUE;

    /** Validates and copies. */
    public LabeledVideo {
        if (id == null || id.isEmpty() || path == null) {
            throw new IllegalArgumentException("id and path must be given, got " + id + ", " + path);
        }
        if (label < 0) {
            throw new IllegalArgumentException("label must be >= 0, got " + label + " for " + id);
        }
        if (startUs < 0 || endUs <= startUs) {
            throw new IllegalArgumentException("segment must satisfy 0 <= start < end, got [" + startUs + ", " + endUs + ") us for " + id);
        }
        extraLabels = extraLabels == null ? List.of() : List.copyOf(extraLabels);
    }

    /**
     * A whole video.
     *
     * @param id    the id
     * @param path  the file
     * @param label the class index
     * @return the example
     */
    public static LabeledVideo of(String id, Path path, int label) {
        return new LabeledVideo(id, path, label, 0, TO_END, List.of());
    }

    /** @return whether this is a segment rather than a whole video */
    public boolean isSegment() {
        return startUs != 0 || endUs != TO_END;
    }
}
