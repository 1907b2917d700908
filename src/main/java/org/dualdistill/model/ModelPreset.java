package org.dualdistill.model;

import java.util.List;
import java.util.Objects;

/**
 * One entry of the {@link ModelZoo}: a named architecture with its canonical input view and the feature taps the
 * distillation objective reads from it.
 *
 * @param name        registry name ({@code x3d_s}, {@code mvitv2_s}, ...), lower case
 * @param family      architecture family ({@code x3d}, {@code mvit}, ...): decides which objective taps exist
 * @param description one line for {@code dualdistill info}
 * @param view        the canonical input view (PySlowFast's config for the full-size models)
 * @param taps        what {@link VideoModel#forward} gives the objective: logits, embedding, features, as text
 * @param factory     builds the architecture for a class count and a view (the view fixes geometry-dependent
 *                    parts such as MViT's relative positions)
 * @param macs        multiply-accumulates of one clip at the view, in billions (conv + linear, as fvcore counts)
 */
public record ModelPreset(String name, String family, String description, ModelView view, List<String> taps,
                          Factory factory, MacCounter macs) {
    /** Builds a model; the caller owns (closes) it. */
    @FunctionalInterface
    public interface Factory {
        /**
         * @param numClasses classes of the head (>= 1)
         * @param view       the input view
         * @return the model; caller must close
         */
        VideoModel build(long numClasses, ModelView view);
    }

    /** Counts a built model's GMACs at a view. */
    @FunctionalInterface
    public interface MacCounter {
        /**
         * @param model a model this preset built (borrowed)
         * @param view  the input view
         * @return GMACs of one clip
         */
        double gmacs(VideoModel model, ModelView view);
    }

    /** Validates. */
    public ModelPreset {
        if (name == null || !name.matches("[a-z0-9_]+")) {
            throw new IllegalArgumentException("preset name must be lower-case letters, digits and _, got " + name);
        }
        Objects.requireNonNull(family, "family");
        Objects.requireNonNull(description, "description");
        Objects.requireNonNull(view, "view");
        taps = List.copyOf(taps);
        Objects.requireNonNull(factory, "factory");
        Objects.requireNonNull(macs, "macs");
    }

    /** @return the model at its canonical view; caller must close */
    public VideoModel build(long numClasses) {
        return build(numClasses, view);
    }

    /** @return the model for another view; caller must close */
    public VideoModel build(long numClasses, ModelView v) {
        if (numClasses < 1) {
            throw new IllegalArgumentException(name + ": numClasses must be >= 1, got " + numClasses);
        }
        return factory.build(numClasses, Objects.requireNonNull(v, "view"));
    }
}
