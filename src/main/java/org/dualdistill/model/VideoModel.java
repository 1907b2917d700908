package org.dualdistill.model;

import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;

/**
 * A video classification network: clip in, {@link ModelOutput} (logits, embedding, last-stage map) out, with
 * parameter names and shapes identical to its reference implementation's state_dict.
 *
 * <p>Implementations own their LibTorch module; {@link #close()} releases it. Not thread-safe in training mode;
 * in eval mode concurrent forwards on the CPU are safe as far as LibTorch's modules are.
 */
public interface VideoModel extends AutoCloseable {

    /**
     * @param clip float32 [B, 3, T, H, W] normalized frames, on the model's device (borrowed)
     * @return logits, embedding and last-stage map in the caller's PointerScope
     * @throws IllegalArgumentException when the clip's shape does not fit the model (message says what fits)
     */
    ModelOutput forward(Tensor clip);

    /** @return the LibTorch module (parameters, train/eval, to(device)); owned by this model */
    Module module();

    /** @return number of classes of the head */
    long numClasses();

    /** @return total number of parameters (counted from {@link #module()}; throws after close like it) */
    default long parameterCount() {
        try (org.bytedeco.javacpp.PointerScope scope = new org.bytedeco.javacpp.PointerScope()) {
            long n = 0;
            org.bytedeco.pytorch.TensorVector ps = module().parameters();
            for (long i = 0; i < ps.size(); i++) {
                n += ps.get(i).numel();
            }
            return n;
        }
    }

    /**
     * The map from a zoo's checkpoint names to this model's names, for {@link org.dualdistill.model.io.Weights#load}.
     *
     * @param zoo where the file comes from
     * @return the key map
     * @throws UnsupportedOperationException when this model has no map for that zoo (the message says which exist)
     */
    default org.dualdistill.model.io.KeyMap keyMap(org.dualdistill.model.io.Zoo zoo) {
        if (zoo == org.dualdistill.model.io.Zoo.DUALDISTILL) {
            return org.dualdistill.model.io.KeyMap.IDENTITY;
        }
        throw new UnsupportedOperationException(getClass().getSimpleName() + " has no key map from " + zoo.cliName());
    }

    /**
     * Re-initializes the classifier (the last Linear layer, as at construction) for fine-tuning on another label set.
     *
     * @return the state-dict names of the re-initialized tensors
     * @throws UnsupportedOperationException when the model does not support it
     */
    default java.util.List<String> resetHead() {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " cannot re-initialize its head");
    }

    /** Releases the native module. Idempotent. */
    @Override
    void close();
}
