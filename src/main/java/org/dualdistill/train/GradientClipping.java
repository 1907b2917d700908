package org.dualdistill.train;

import java.util.List;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.internal.torch.TorchRuntime;

/**
 * Gradient clipping by global L2 norm (torch::nn::utils::clip_grad_norm_): when the norm of all gradients taken
 * together exceeds {@code maxNorm}, every gradient is scaled by {@code maxNorm / (norm + 1e-6)}. Parameters
 * without a gradient are skipped. Stateless and thread-safe, but the gradients it scales must not be in use by
 * another thread.
 */
public final class GradientClipping {
    static {
        TorchRuntime.init();
    }

    private GradientClipping() {
    }

    /**
     * @param opt     the optimizer whose parameters' gradients are clipped (borrowed)
     * @param maxNorm the bound (> 0)
     * @return the global norm before clipping
     */
    public static double clip(TrainingOptimizer opt, double maxNorm) {
        check(maxNorm);
        try (PointerScope scope = new PointerScope()) {
            return clip(opt.parameters(), maxNorm);
        }
    }

    /**
     * @param modules modules whose parameters' gradients are clipped together (borrowed)
     * @param maxNorm the bound (> 0)
     * @return the global norm before clipping
     */
    public static double clip(List<Module> modules, double maxNorm) {
        check(maxNorm);
        try (PointerScope scope = new PointerScope()) {
            TensorVector all = new TensorVector();
            for (Module m : modules) {
                TensorVector ps = m.parameters(true);
                for (long i = 0; i < ps.size(); i++) {
                    all.push_back(ps.get(i));
                }
            }
            return clip(all, maxNorm);
        }
    }

    /**
     * @param modules modules whose parameters' gradients are measured (borrowed)
     * @return the global L2 norm of the gradients (0 when there are none; NaN or infinity when a gradient holds one),
     *         reduced on the device with one host synchronisation
     */
    public static double globalNorm(List<Module> modules) {
        try (PointerScope scope = new PointerScope()) {
            TensorVector norms = new TensorVector(); // per-tensor norms stay on the device: one host sync in all
            for (Module m : modules) {
                TensorVector ps = m.parameters(true);
                for (long i = 0; i < ps.size(); i++) {
                    var g = ps.get(i).grad();
                    if (g.defined()) {
                        norms.push_back(g.norm().to(torch.ScalarType.Double));
                    }
                }
            }
            return norms.empty() ? 0 : torch.stack(norms, 0).norm().item_double();
        }
    }

    private static double clip(TensorVector params, double maxNorm) {
        return torch.clip_grad_norm_(params, maxNorm, 2.0, false);
    }

    private static void check(double maxNorm) {
        if (!(maxNorm > 0) || Double.isInfinite(maxNorm)) {
            throw new IllegalArgumentException("maxNorm: must be finite and > 0, got " + maxNorm);
        }
    }
}
