package org.dualdistill.model.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.UnaryOperator;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.ByteVector;
import org.bytedeco.pytorch.GenericDict;
import org.bytedeco.pytorch.GenericDictIterator;
import org.bytedeco.pytorch.IValue;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.internal.torch.TorchRuntime;

/**
 * PyTorch checkpoints written by {@code torch.save} (the zip format of .pth/.pyth files), read with LibTorch's own
 * unpickler ({@code torch::pickle_load}). The state dict may be the top-level dict or sit under
 * {@code "model_state"} (PySlowFast), {@code "state_dict"} or {@code "model"}.
 *
 * <p>Limitation, inherited from LibTorch's unpickler: it builds plain dicts, lists and tensors but no Python classes,
 * so a checkpoint whose state dict is a {@code collections.OrderedDict} (what {@code module.state_dict()} returns)
 * cannot be read here; the exception says so and gives the one-line conversion to safetensors:
 * <pre>
 *   python -c "import torch,sys; from safetensors.torch import save_file; c=torch.load(sys.argv[1],map_location='cpu'); \
 *     c=c.get('model_state',c.get('state_dict',c)); save_file({k:v.contiguous() for k,v in c.items()},sys.argv[2])" in.pth out.safetensors
 * </pre>
 * or saving {@code dict(model.state_dict())} in the first place. Thread-safe (no shared state).
 */
public final class PytorchCheckpoint {
    static {
        TorchRuntime.init();
    }

    /** The conversion command users are pointed to. */
    public static final String CONVERSION = "python -c \"import torch,sys; from safetensors.torch import save_file; "
            + "c=torch.load(sys.argv[1],map_location='cpu'); c=c.get('model_state',c.get('state_dict',c)); "
            + "save_file({k:v.contiguous() for k,v in c.items()},sys.argv[2])\" in.pth out.safetensors";

    private PytorchCheckpoint() {
    }

    /**
     * Loads a checkpoint's state dict into a module (see {@link SafeTensors#loadInto} for the rules).
     *
     * @throws IOException         missing or unreadable file, or a checkpoint LibTorch's unpickler cannot read
     *                             (message names the file and the conversion)
     * @throws WeightLoadException mismatched, missing (strict) or unexpected (strict) tensors
     */
    public static SafeTensors.LoadReport loadInto(Module module, Path file, SafeTensors.Mode mode, UnaryOperator<String> rename)
            throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new NoSuchFileException(file.toString(), null, "checkpoint not found");
        }
        byte[] bytes = Files.readAllBytes(file);
        try (PointerScope scope = new PointerScope()) {
            IValue root;
            try {
                root = torch.pickle_load(new ByteVector(bytes));
            } catch (RuntimeException e) {
                String m = e.getMessage() == null ? "" : e.getMessage();
                String first = m.contains("\n") ? m.substring(0, m.indexOf('\n')) : m;
                String why = m.contains("GenericDict but got None")
                        ? "its state dict is a Python class (collections.OrderedDict) that LibTorch's unpickler cannot build"
                        : "LibTorch's unpickler failed: " + first;
                throw new IOException(file + ": cannot read this PyTorch checkpoint (" + why + "). Convert it once with: "
                        + CONVERSION, e);
            }
            GenericDict dict = stateDict(root, file);
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            GenericDictIterator it = dict.begin();
            for (long i = 0; i < dict.size(); i++, it = it.increment()) {
                var entry = it.access();
                if (entry.key().isString() && entry.value().isTensor()) {
                    tensors.put(entry.key().toStringRef().getString(), entry.value().toTensor());
                }
            }
            if (tensors.isEmpty()) {
                throw new IOException(file + ": the checkpoint holds no tensors under string keys");
            }
            return SafeTensors.copyInto(module, tensors, file, mode, rename);
        }
    }

    private static GenericDict stateDict(IValue root, Path file) throws IOException {
        if (!root.isGenericDict()) {
            throw new IOException(file + ": the checkpoint is not a dict");
        }
        GenericDict d = root.toGenericDict();
        for (String key : new String[] {"model_state", "state_dict", "model"}) {
            IValue k = new IValue(key);
            if (d.contains(k) && d.at(k).isGenericDict()) {
                return d.at(k).toGenericDict();
            }
        }
        return d;
    }
}
