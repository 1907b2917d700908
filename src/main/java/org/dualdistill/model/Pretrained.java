package org.dualdistill.model;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import org.dualdistill.model.io.WeightLoadException;
import org.dualdistill.model.io.WeightReport;
import org.dualdistill.model.io.Weights;
import org.dualdistill.model.io.Zoo;

/**
 * Pretrained weights from the PyTorch model zoos into dualdistill's models: plain loads and the fine-tuning init
 * (a Kinetics-400 checkpoint into a model with another class count, the paper's first step). Thread-safe as far as
 * the model is not used concurrently.
 */
public final class Pretrained {
    private Pretrained() {
    }

    /**
     * Fine-tuning init: re-initializes the model's classifier ({@link VideoModel#resetHead}), then loads every other
     * tensor from the file strictly; the classifier is loaded too when its shape fits (same class count), else it
     * stays re-initialized. All or nothing: when anything but the classifier is missing, unexpected or mis-shaped,
     * nothing is loaded.
     *
     * @param model the model (borrowed), built with the target class count
     * @param file  a torch.save or safetensors file of that architecture (any class count)
     * @param zoo   where the file comes from (its key names)
     * @return the report; {@link WeightReport#reinitialized()} names the classifier tensors not taken from the file
     * @throws IOException                   when the file is unreadable or malformed
     * @throws WeightLoadException           when a tensor outside the classifier does not fit, naming them
     * @throws UnsupportedOperationException when the model has no key map for that zoo or cannot reset its head
     * @throws IllegalArgumentException      when the zoo has no such architecture
     */
    public static WeightReport init(VideoModel model, Path file, Zoo zoo) throws IOException {
        var keys = model.keyMap(zoo);
        List<String> head = model.resetHead();
        WeightReport r = Weights.load(model.module(), file, keys, Weights.Mode.STRICT, Set.copyOf(head));
        return r.withReinitialized(head.stream().filter(n -> !r.loaded().contains(n)).toList());
    }

    /**
     * Loads a zoo checkpoint into a model of the same class count.
     *
     * @param model the model (borrowed)
     * @param file  the file
     * @param zoo   where it comes from
     * @param mode  strict (fail naming every tensor that does not fit, load nothing) or not (load what fits)
     * @return the report
     * @throws IOException         when the file is unreadable or malformed
     * @throws WeightLoadException in strict mode, when anything does not fit
     */
    public static WeightReport load(VideoModel model, Path file, Zoo zoo, Weights.Mode mode) throws IOException {
        return Weights.load(model.module(), file, model.keyMap(zoo), mode, Set.of());
    }
}
