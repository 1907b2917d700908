package org.dualdistill.video;

import java.util.ArrayList;
import java.util.List;

import org.bytedeco.pytorch.Tensor;
import org.dualdistill.internal.torch.OwnedTensors;
import org.dualdistill.internal.torch.TorchRuntime;

/**
 * One clip in every model's view: per view an owned {@code float32 [3, T, H, W]} CPU tensor, normalized, plus the
 * plan it was made from (window, region, flip, records).
 *
 * <p>Ownership: the clip owns its tensors and frees them in {@link #close()} (idempotent, thread-safe);
 * {@link #view(int)} lends one, {@link #takeView(int)} hands one over. Use after close throws
 * {@link IllegalStateException}. May be passed between threads; not meant for concurrent use.
 */
public final class MultiViewClip implements AutoCloseable {
    static {
        TorchRuntime.init();
    }

    private final OwnedTensors views;
    private final ClipPlan plan;
    private final List<String> names;

    /** @param retained one retained tensor per view, which this clip now owns */
    MultiViewClip(Tensor[] retained, ClipPlan plan, List<String> names) {
        this.views = new OwnedTensors(this, "MultiViewClip", retained, null);
        this.plan = plan;
        this.names = List.copyOf(names);
    }

    /**
     * Lends a view.
     *
     * @param view the view's index
     * @return {@code float32 [3, T, H, W]}; borrowed: valid until this clip is closed, do not close it
     */
    public Tensor view(int view) {
        Tensor t = views.get(view);
        if (t == null) {
            throw new IllegalStateException("view " + names.get(view) + " was taken");
        }
        return t;
    }

    /**
     * Lends a view by name.
     *
     * @param name the view's name
     * @return as {@link #view(int)}
     */
    public Tensor view(String name) {
        int i = names.indexOf(name);
        if (i < 0) {
            throw new IllegalArgumentException("no view named " + name + "; views are " + names);
        }
        return view(i);
    }

    /**
     * Hands a view's tensor to the caller; this clip no longer frees it.
     *
     * @param view the view's index
     * @return {@code float32 [3, T, H, W]}; caller must close it
     */
    public Tensor takeView(int view) {
        Tensor t = views.take(view);
        if (t == null) {
            throw new IllegalStateException("view " + names.get(view) + " was taken");
        }
        return t;
    }

    /** @return the plan: window, region, flip, per-view frame indices and records */
    public ClipPlan plan() {
        return plan;
    }

    /** @return one record per view */
    public List<ViewRecord> records() {
        return plan.records();
    }

    /** @return the view names, in order */
    public List<String> viewNames() {
        return names;
    }

    /** Frees the tensors not taken. Idempotent and thread-safe. */
    @Override
    public void close() {
        views.close();
    }

    static List<String> namesOf(List<ViewSpec> specs) {
        List<String> out = new ArrayList<>(specs.size());
        for (ViewSpec s : specs) {
            out.add(s.name());
        }
        return out;
    }
}
