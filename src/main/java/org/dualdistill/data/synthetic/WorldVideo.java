package org.dualdistill.data.synthetic;

import java.nio.file.Path;

/**
 * One video of a {@link SyntheticWorld} stage. Immutable and thread-safe.
 *
 * @param file       the video file
 * @param worldClass its class
 * @param label      its label in its stage (the class's position in that stage's class list)
 * @param frames     its number of frames
 * @param seed       the scene seed it was rendered from ({@link SyntheticWorld#renderFrames})
 * @param tag        its tag in split 1: 1 train, 2 test, 0 validation (target) / never (source)
 */
public record WorldVideo(Path file, WorldClass worldClass, int label, int frames, long seed, int tag) {
    /** @return the file name, as listed in the split file */
    public String name() {
        return file.getFileName().toString();
    }
}
