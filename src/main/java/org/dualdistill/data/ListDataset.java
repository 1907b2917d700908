package org.dualdistill.data;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The state every dataset in this package has once parsed: examples, class names and missing videos, validated
 * together. Immutable.
 */
class ListDataset implements VideoDataset {
    private final String name;
    private final List<LabeledVideo> videos;
    private final List<String> classNames;
    private final List<MissingVideo> missing;

    ListDataset(String name, List<LabeledVideo> videos, List<String> classNames, List<MissingVideo> missing) {
        this.name = name;
        this.videos = List.copyOf(videos);
        this.classNames = List.copyOf(classNames);
        this.missing = List.copyOf(missing);
        Set<String> ids = new HashSet<>();
        int extra = this.videos.isEmpty() ? 0 : this.videos.get(0).extraLabels().size();
        for (LabeledVideo v : this.videos) {
            if (v.label() >= this.classNames.size()) {
                throw new IllegalArgumentException(name + ": label " + v.label() + " of " + v.id() + " is not below the number of classes "
                        + this.classNames.size());
            }
            if (v.extraLabels().size() != extra) {
                throw new IllegalArgumentException(name + ": " + v.id() + " has " + v.extraLabels().size() + " extra labels, others " + extra);
            }
            if (!ids.add(v.id())) {
                throw new IllegalArgumentException(name + ": duplicate id " + v.id());
            }
        }
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public List<LabeledVideo> videos() {
        return videos;
    }

    @Override
    public List<String> classNames() {
        return classNames;
    }

    @Override
    public List<MissingVideo> missing() {
        return missing;
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[" + name + ", " + videos.size() + " videos, " + classNames.size() + " classes"
                + (missing.isEmpty() ? "" : ", " + missing.size() + " missing") + "]";
    }
}
