package org.dualdistill.data.synthetic;

import java.nio.file.Path;
import java.util.List;

/**
 * What {@link SyntheticActionDataset#generate} wrote. Immutable and thread-safe.
 *
 * @param root    the dataset folder
 * @param config  the settings it was generated with
 * @param classes the classes in label order (folder names via {@link ActionClass#folderName()})
 * @param videos  every video, grouped by class in label order, then by index
 */
public record SyntheticDataset(Path root, SyntheticConfig config, List<ActionClass> classes, List<SyntheticVideo> videos) {
    /** Copies the lists. */
    public SyntheticDataset {
        classes = List.copyOf(classes);
        videos = List.copyOf(videos);
    }

    /** @return the folder holding the split files ({@code <root>/splits}) */
    public Path splitDir() {
        return root.resolve(SyntheticActionDataset.SPLIT_DIR);
    }

    /**
     * @param split 1-based split number
     * @param tag   1 train, 2 test, 0 unused
     * @return the videos with that tag in that split
     */
    public List<SyntheticVideo> videos(int split, int tag) {
        if (split < 1 || split > config.splits()) {
            throw new IllegalArgumentException("split must be in [1, " + config.splits() + "], got " + split);
        }
        return videos.stream().filter(v -> v.tag(split) == tag).toList();
    }
}
