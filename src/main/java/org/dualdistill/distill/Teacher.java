package org.dualdistill.distill;

import java.util.Objects;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.dualdistill.model.VideoModel;

/**
 * A frozen teacher of a distillation run: its model (eval mode, parameters without gradient), the batch view it
 * takes, and the key its outputs are cached under in a {@link TeacherCache} (the fingerprint of its weights, computed
 * on first use). Replaces the parallel lists of models, view names and cache keys the trainer used to keep.
 *
 * <p>Borrows the model (the caller closes it). The cache key is computed once, thread-safely; forward passes are not
 * thread-safe (as the model's).
 */
public final class Teacher {
    private final String name;
    private final VideoModel model;
    private final String view;
    private volatile String cacheKey;

    private Teacher(String name, VideoModel model, String view, String cacheKey) {
        this.name = Objects.requireNonNull(name, "name");
        this.model = Objects.requireNonNull(model, "model");
        this.view = Objects.requireNonNull(view, "view");
        this.cacheKey = cacheKey;
        freeze(model);
    }

    /**
     * @param model the teacher (borrowed); put in eval mode with every parameter frozen
     * @param view  the name of the batch view it takes
     * @return the teacher, named after its view, its cache key the fingerprint of its weights
     */
    public static Teacher of(VideoModel model, String view) {
        return new Teacher(view, model, view, null);
    }

    /**
     * @param name     label for messages (e.g. {@code vit: mvitv2_s})
     * @param model    the teacher (borrowed); put in eval mode with every parameter frozen
     * @param view     the name of the batch view it takes
     * @param cacheKey the key of its outputs in a cache, or null for the fingerprint of its weights
     * @return the teacher
     */
    public static Teacher of(String name, VideoModel model, String view, String cacheKey) {
        return new Teacher(name, model, view, cacheKey);
    }

    /** Eval mode, no gradients: a teacher's outputs are targets, never trained. */
    private static void freeze(VideoModel m) {
        try (PointerScope scope = new PointerScope()) {
            m.module().eval();
            TensorVector ps = m.module().parameters();
            for (long i = 0; i < ps.size(); i++) {
                Tensor p = ps.get(i);
                if (p.requires_grad()) {
                    p.requires_grad_(false);
                }
            }
        }
    }

    /** @return the label */
    public String name() {
        return name;
    }

    /** @return the model (borrowed) */
    public VideoModel model() {
        return model;
    }

    /** @return the batch view it takes */
    public String view() {
        return view;
    }

    /** @return the cache key of its outputs (fingerprint of its weights unless given) */
    public String cacheKey() {
        String k = cacheKey;
        if (k == null) {
            synchronized (this) {
                if (cacheKey == null) {
                    cacheKey = TeacherCache.fingerprint(model.module());
                }
                k = cacheKey;
            }
        }
        return k;
    }

    @Override
    public String toString() {
        return "Teacher[" + name + ", view " + view + "]";
    }
}
