package org.dualdistill.data.synthetic;

import java.nio.file.Path;
import java.util.Arrays;

/**
 * One generated video. Immutable and thread-safe.
 *
 * @param file        the video file
 * @param actionClass its class
 * @param label       its label: the class's position in the dataset's class list
 * @param frames      its number of frames
 * @param seed        the scene seed it was rendered from ({@link SyntheticActionDataset#renderFrames})
 * @param splitTags   its tag in split k at index k-1: 1 train, 2 test, 0 unused (as in HMDB51's split files)
 */
public record SyntheticVideo(Path file, ActionClass actionClass, int label, int frames, long seed, int[] splitTags) {
    /** Copies the tags. */
    public SyntheticVideo {
        splitTags = splitTags.clone();
    }

    /** @return the file name, as listed in the split files */
    public String name() {
        return file.getFileName().toString();
    }

    /** @return a copy of the split tags */
    @Override
    public int[] splitTags() {
        return splitTags.clone();
    }

    /**
     * @param split 1-based split number
     * @return 1 train, 2 test, 0 unused
     */
    public int tag(int split) {
        return splitTags[split - 1];
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SyntheticVideo v && v.file.equals(file) && v.actionClass == actionClass && v.frames == frames && v.seed == seed
                && Arrays.equals(v.splitTags, splitTags);
    }

    @Override
    public int hashCode() {
        return file.hashCode() * 31 + Arrays.hashCode(splitTags);
    }

    @Override
    public String toString() {
        return "SyntheticVideo[" + file + ", " + actionClass.folderName() + ", " + frames + " frames, tags " + Arrays.toString(splitTags) + "]";
    }
}
