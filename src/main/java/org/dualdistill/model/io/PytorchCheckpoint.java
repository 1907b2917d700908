package org.dualdistill.model.io;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.UnaryOperator;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;

/**
 * PyTorch checkpoints written by {@code torch.save} (.pth/.pyth/.pt, zip or legacy format), read by
 * {@link TorchFile}: a restricted unpickler of our own that rebuilds only tensors and plain containers
 * ({@code dict}, {@code collections.OrderedDict}, lists, tuples, numbers, strings) and never runs code from the file.
 * The state dict may be the top-level dict or sit under {@code "model_state"} (PySlowFast, pytorchvideo),
 * {@code "state_dict"}, {@code "model"} or {@code "module"}. Tensors are copied straight from the memory-mapped file
 * into the module. Thread-safe (no shared state).
 *
 * <p>For foreign key schemes and a report with shape mismatches, see {@link Weights}.
 */
public final class PytorchCheckpoint {
    private PytorchCheckpoint() {
    }

    /**
     * Loads a checkpoint's state dict into a module (see {@link SafeTensors#loadInto} for the rules).
     *
     * @throws IOException         missing, unreadable or malformed file, or a pickle that refers to a global outside the
     *                             allow-list (the message names the file and the reason)
     * @throws WeightLoadException mismatched, missing (strict) or unexpected (strict) tensors
     */
    public static SafeTensors.LoadReport loadInto(Module module, Path file, SafeTensors.Mode mode, UnaryOperator<String> rename)
            throws IOException {
        try (TorchFile f = TorchFile.open(file); PointerScope scope = new PointerScope()) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (String name : f.tensors().keySet()) {
                tensors.put(name, f.tensor(name));
            }
            return SafeTensors.copyInto(module, tensors, file, mode, rename);
        }
    }
}
