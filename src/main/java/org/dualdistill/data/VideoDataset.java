package org.dualdistill.data;

import java.util.List;

/**
 * An indexed list of labelled videos (or video segments) plus its class names: what a {@link DataLoader} iterates.
 * Implementations parse a dataset's own annotation format: {@link Hmdb51Dataset}, {@link Kinetics400Dataset},
 * {@link EpicKitchensDataset}, {@link CsvDataset}, {@link FolderDataset}; {@link #of} wraps a list.
 *
 * <p>Loading validates the annotations (malformed lines raise an {@link AnnotationException} naming file and line)
 * and checks that every listed file exists: missing ones are left out, counted in {@link #missing()} and logged once,
 * unless the loader was asked to fail on them. Datasets are immutable and thread-safe; they hold no native
 * resources.
 */
public interface VideoDataset {
    /** @return a short name for messages, e.g. {@code "hmdb51 split 1 train"} */
    String name();

    /** @return the examples, in a stable order (the loader shuffles indices, never this list) */
    List<LabeledVideo> videos();

    /** @return the class names, index = label */
    List<String> classNames();

    /** @return annotated videos whose files were not found (not part of {@link #videos()}) */
    List<MissingVideo> missing();

    /** @return the number of classes */
    default int numClasses() {
        return classNames().size();
    }

    /** @return the number of examples */
    default int size() {
        return videos().size();
    }

    /**
     * @param index an example index in {@code [0, size())}
     * @return the example
     */
    default LabeledVideo get(int index) {
        return videos().get(index);
    }

    /** @return how many extra labels each example carries (EPIC-KITCHENS: 2, verb and noun), 0 if none */
    default int numExtraLabels() {
        return videos().isEmpty() ? 0 : videos().get(0).extraLabels().size();
    }

    /**
     * Wraps a list.
     *
     * @param name       the name
     * @param videos     the examples (copied); labels must be below {@code classNames.size()}, and all must carry the
     *                   same number of extra labels
     * @param classNames the class names (copied)
     * @return the dataset
     */
    static VideoDataset of(String name, List<LabeledVideo> videos, List<String> classNames) {
        return new ListDataset(name, videos, classNames, List.of());
    }
}
