package org.dualdistill.data.synthetic;

import java.nio.file.Path;
import java.util.List;

/**
 * One stage (source or target) of a written {@link SyntheticWorld}: an HMDB51-layout folder. Immutable and thread-safe.
 *
 * @param root    the stage folder ({@code <world>/source} or {@code <world>/target})
 * @param domain  which stage
 * @param classes the classes in label order
 * @param videos  every video, grouped by class in label order, then by index
 */
public record WorldStage(Path root, WorldDomain domain, List<WorldClass> classes, List<WorldVideo> videos) {
    /** Copies the lists. */
    public WorldStage {
        classes = List.copyOf(classes);
        videos = List.copyOf(videos);
    }

    /**
     * @param tag 1 train, 2 test, 0 validation
     * @return the videos with that tag
     */
    public List<WorldVideo> videos(int tag) {
        return videos.stream().filter(v -> v.tag() == tag).toList();
    }

    /** @return the family of each label, in label order */
    public List<ClassFamily> families() {
        return classes.stream().map(WorldClass::family).toList();
    }
}
