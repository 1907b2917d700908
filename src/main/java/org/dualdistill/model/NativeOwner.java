package org.dualdistill.model;

import java.util.ArrayList;
import java.util.List;

import org.bytedeco.javacpp.Pointer;

/**
 * Holds one reference on every JavaCPP wrapper of a module tree (container modules, layers, registered parameters)
 * and releases them together, children before parents.
 *
 * <p>Why: the presets' {@code Module} is a peer class whose C++ side calls back into its Java wrapper, so a wrapper
 * that a {@code PointerScope} or the GC frees while its parent is still used leaves the parent with a dead child
 * (NullPointerException or SIGSEGV on the next {@code train()}, {@code parameters()} or forward). Retaining each
 * wrapper once makes the tree independent of whatever scope the constructor happened to run in: an enclosing scope
 * only drops its own reference, and {@link #releaseAll()} drops ours. Confined to the owning model's lifecycle; not
 * thread-safe by itself (the owning model's close() serializes).
 */
public final class NativeOwner {
    private final List<Pointer> held = new ArrayList<>();

    /**
     * @param p a wrapper the tree must keep alive (retained once here)
     * @return {@code p}
     */
    public <P extends Pointer> P keep(P p) {
        p.retainReference();
        held.add(p);
        return p;
    }

    /**
     * Registers {@code child} under {@code parent} and keeps its wrapper alive as long as this owner.
     *
     * @return {@code child}
     */
    public <M extends org.bytedeco.pytorch.Module> M register(org.bytedeco.pytorch.Module parent, String name, M child) {
        keep(child);
        parent.register_module(name, child);
        return child;
    }

    /** Releases every reference taken, most recent first (children were registered after their parents). */
    public void releaseAll() {
        for (int i = held.size() - 1; i >= 0; i--) {
            held.get(i).releaseReference();
        }
        held.clear();
    }
}
