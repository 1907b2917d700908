package org.dualdistill.internal.torch;

import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicBoolean;

import org.bytedeco.pytorch.Tensor;
import org.dualdistill.internal.Leaks;

/**
 * A fixed set of retained tensors with one owner: lends them ({@link #get}), hands one over ({@link #take}), and
 * releases the rest on {@link #close()} or, as the single safety net, from {@link Leaks#CLEANER} with a warning
 * when the owner was never closed. The shared state behind Batch and MultiViewClip. Thread-safe; close is
 * idempotent; use after close throws {@code IllegalStateException("<what> is closed")}.
 */
public final class OwnedTensors implements AutoCloseable {
    private final String what;
    private final State state;
    private final Cleaner.Cleanable cleanable;
    private final AtomicBoolean closed = new AtomicBoolean();

    /**
     * @param owner     the object whose reachability ends the tensors' life (registered with the cleaner)
     * @param what      its type name, for messages
     * @param retained  retained tensors (entries may be null); ownership passes to this object
     * @param onRelease runs once after the tensors are released (close or cleaner), or null
     */
    public OwnedTensors(Object owner, String what, Tensor[] retained, Runnable onRelease) {
        this.what = what;
        this.state = new State(retained.clone(), what, Leaks.origin(what), onRelease);
        this.cleanable = Leaks.CLEANER.register(owner, state);
    }

    /** Releases the tensors still owned, warning when the owner was never closed. */
    private static final class State implements Runnable {
        private final Tensor[] tensors;
        private final String what;
        private final Throwable origin;
        private final Runnable onRelease;
        private volatile boolean explicit;

        State(Tensor[] tensors, String what, Throwable origin, Runnable onRelease) {
            this.tensors = tensors;
            this.what = what;
            this.origin = origin;
            this.onRelease = onRelease;
        }

        @Override
        public void run() {
            if (!explicit) {
                Leaks.report(what, origin);
            }
            synchronized (tensors) {
                for (int i = 0; i < tensors.length; i++) {
                    if (tensors[i] != null) {
                        tensors[i].releaseReference();
                        tensors[i] = null;
                    }
                }
            }
            if (onRelease != null) {
                onRelease.run();
            }
        }
    }

    /** @return tensor {@code i} (borrowed), or null when it was taken or never set */
    public Tensor get(int i) {
        synchronized (state.tensors) {
            requireOpen();
            return state.tensors[i];
        }
    }

    /** @return tensor {@code i}, now owned by the caller, or null when it was already taken */
    public Tensor take(int i) {
        synchronized (state.tensors) {
            requireOpen();
            Tensor t = state.tensors[i];
            state.tensors[i] = null;
            return t;
        }
    }

    private void requireOpen() {
        if (closed.get()) {
            throw new IllegalStateException(what + " is closed");
        }
    }

    /** Releases the tensors not taken. Idempotent and thread-safe. */
    @Override
    public void close() {
        if (!closed.getAndSet(true)) {
            state.explicit = true;
            cleanable.clean();
        }
    }
}
