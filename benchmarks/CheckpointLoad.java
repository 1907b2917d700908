import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.dualdistill.model.io.KeyMap;
import org.dualdistill.model.io.TorchFile;
import org.dualdistill.model.io.Weights;
import org.dualdistill.model.mvit.MViT;

/**
 * Load time of a torch.save checkpoint with dualdistill's reader (run by benchmarks/checkpoint_load.sh, which times
 * torch.load of the same file in the same script). Prints the median of 7 runs (after 2 warm-ups) of:
 * open = TorchFile.open (map, CRC-32 of every entry, unpickle, checks); copy = open + a contiguous copy of every
 * tensor (what torch.load materializes); into = Weights.load into a full-size MViTv2-S (open + copy into the model).
 */
public final class CheckpointLoad {
    public static void main(String[] args) throws Exception {
        Path file = Path.of(args[0]);
        try (MViT model = MViT.mvitV2S(400)) {
            System.out.printf("java open  %.1f ms%n", median(() -> {
                try (TorchFile f = TorchFile.open(file)) {
                    return f.tensors().size();
                }
            }));
            System.out.printf("java copy  %.1f ms%n", median(() -> {
                try (TorchFile f = TorchFile.open(file); PointerScope s = new PointerScope()) {
                    long n = 0;
                    for (String k : f.tensors().keySet()) {
                        Tensor c = f.tensor(k).clone();
                        n += c.numel();
                    }
                    return n;
                }
            }));
            System.out.printf("java into  %.1f ms%n", median(() -> Weights.load(model.module(), file, KeyMap.IDENTITY,
                    Weights.Mode.STRICT, Set.of()).loaded().size()));
        }
    }

    interface Run {
        long run() throws Exception;
    }

    static double median(Run r) throws Exception {
        double[] t = new double[9];
        for (int i = 0; i < t.length; i++) {
            long a = System.nanoTime();
            r.run();
            t[i] = (System.nanoTime() - a) / 1e6;
        }
        double[] m = Arrays.copyOfRange(t, 2, t.length);
        Arrays.sort(m);
        return m[m.length / 2];
    }
}
