package org.dualdistill.export;

import java.nio.file.Path;

import org.dualdistill.model.x3d.X3d;

/**
 * A student loaded by {@link StudentExport#load}: the rebuilt X3D (in eval mode, weights loaded strictly) and its
 * card. Owns the model; {@link #close()} releases it (idempotent, thread-safe), after which {@link #model()} throws
 * {@link IllegalStateException}. The model itself is not thread-safe in training mode; run concurrent inference
 * through {@code org.dualdistill.inference.VideoClassifier}.
 */
public final class ExportedStudent implements AutoCloseable {
    private final Path dir;
    private final X3d model;
    private final ModelCard card;

    ExportedStudent(Path dir, X3d model, ModelCard card) {
        this.dir = dir;
        this.model = model;
        this.card = card;
    }

    /** @return the folder it was loaded from */
    public Path dir() {
        return dir;
    }

    /**
     * @return the model; borrowed: owned by this object, valid until {@link #close()}
     * @throws IllegalStateException after close
     */
    public X3d model() {
        model.module(); // throws "X3d is closed" after close
        return model;
    }

    /** @return the card (checksum verified) */
    public ModelCard card() {
        return card;
    }

    /** Releases the model. Idempotent. */
    @Override
    public void close() {
        model.close();
    }
}
