package org.dualdistill.train;

import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.AdamWOptions;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Optimizer;
import org.bytedeco.pytorch.OptimizerOptions;
import org.bytedeco.pytorch.OptimizerParamGroup;
import org.bytedeco.pytorch.SGD;
import org.bytedeco.pytorch.SGDOptions;
import org.bytedeco.pytorch.SharedModuleVector;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.dualdistill.internal.torch.TorchRuntime;

/**
 * Builds {@link TrainingOptimizer}s from {@link TrainConfig.Optimizer} over a list of modules (the student plus
 * {@code DistillationObjective.trainableModules()}).
 *
 * <p>Weight decay follows the usual practice for conv nets and ViTs (timm {@code param_groups_weight_decay},
 * PySlowFast {@code ZERO_WD_1D_PARAM}): parameters of normalization modules (BatchNorm, LayerNorm, GroupNorm,
 * InstanceNorm) and every tensor of rank <= 1 (biases, norm scales, scalar gates) go to a group with weight decay
 * 0; everything else (conv kernels, linear weights) gets {@code weightDecay}. Parameters that do not require
 * gradients (frozen) are left out; a parameter shared by two modules is added once. Stateless and thread-safe.
 */
public final class Optimizers {
    static {
        TorchRuntime.init();
    }

    private Optimizers() {
    }

    /**
     * @param cfg     optimizer settings (lr is the peak; a schedule sets the actual rate each step)
     * @param modules the modules to train (borrowed; they must outlive the optimizer)
     * @return the optimizer, group 0 with decay, group 1 without; caller must close
     * @throws IllegalArgumentException when the modules hold no trainable parameter
     */
    public static TrainingOptimizer create(TrainConfig.Optimizer cfg, List<Module> modules) {
        if (modules == null || modules.isEmpty()) {
            throw new IllegalArgumentException("modules: expected at least one module");
        }
        try (PointerScope scope = new PointerScope()) {
            TensorVector decay = new TensorVector();
            TensorVector noDecay = new TensorVector();
            Set<Long> seen = new HashSet<>();
            for (Module m : modules) {
                Set<Long> normParams = normParameterKeys(m);
                StringTensorDict named = m.named_parameters(true);
                for (long i = 0; i < named.size(); i++) {
                    Tensor p = named.get(i).value();
                    if (!p.requires_grad() || !seen.add(key(p))) {
                        continue;
                    }
                    if (p.dim() <= 1 || normParams.contains(key(p))) {
                        noDecay.push_back(p);
                    } else {
                        decay.push_back(p);
                    }
                }
            }
            if (decay.size() + noDecay.size() == 0) {
                throw new IllegalArgumentException("modules: no trainable parameter");
            }
            Optimizer opt = switch (cfg.name()) {
                case SGD -> {
                    SGDOptions o = new SGDOptions(cfg.lr());
                    o.momentum().put(cfg.momentum());
                    o.nesterov().put(cfg.nesterov());
                    o.dampening().put(0.0);
                    o.weight_decay().put(cfg.weightDecay());
                    yield new SGD(decay, o);
                }
                case ADAMW -> {
                    AdamWOptions o = new AdamWOptions(cfg.lr());
                    setBetas(o, cfg.beta1(), cfg.beta2());
                    o.eps().put(cfg.eps());
                    o.weight_decay().put(cfg.weightDecay());
                    yield new AdamW(decay, o);
                }
            };
            opt.retainReference();
            try {
                if (noDecay.size() > 0) {
                    // no options: LibTorch clones the defaults into the group; then switch its decay off
                    opt.add_param_group(new OptimizerParamGroup(noDecay));
                    OptimizerOptions g = opt.param_groups().get(opt.param_groups().size() - 1).options();
                    setWeightDecay(g, cfg.name(), 0.0);
                }
            } catch (RuntimeException e) {
                opt.releaseReference();
                throw e;
            }
            return new TrainingOptimizer(opt, cfg.name(), cfg.lr());
        }
    }

    /**
     * Where beta1 lives in {@code AdamWOptions::betas()}, a {@code std::tuple<double, double>} that the presets map
     * to a bare {@code DoublePointer}. libstdc++ lays a tuple's elements out in reverse order, so slot 0 holds
     * beta2: writing (beta1, beta2) to slots (0, 1) swapped them, and every AdamW run before 2026-12-04 ran with
     * beta1 = 0.999 and beta2 = 0.9 (the update's numerator averaged over ~1,000 steps, its denominator over ~10:
     * steps of up to ~100x the learning rate once gradients shrink, and the demo's ViT teacher did not learn).
     * Found from LibTorch's own defaults (0.9, 0.999) rather than assumed, so another C++ library's layout works too.
     */
    private static final int BETA1_SLOT = beta1Slot();

    private static int beta1Slot() {
        try (PointerScope scope = new PointerScope()) {
            DoublePointer d = new AdamWOptions(1.0).betas();
            if (d.get(0) == 0.9 && d.get(1) == 0.999) {
                return 0;
            }
            if (d.get(1) == 0.9 && d.get(0) == 0.999) {
                return 1;
            }
            throw new IllegalStateException("AdamWOptions: unexpected default betas layout (" + d.get(0) + ", " + d.get(1)
                    + "), expected LibTorch's (0.9, 0.999) in either order");
        }
    }

    private static void setBetas(AdamWOptions o, double beta1, double beta2) {
        o.betas().put(BETA1_SLOT, beta1).put(1 - BETA1_SLOT, beta2);
    }

    /** @return (beta1, beta2) of an AdamW group's options */
    static double[] betas(OptimizerOptions o) {
        DoublePointer d = new AdamWOptions(o).betas();
        return new double[] {d.get(BETA1_SLOT), d.get(1 - BETA1_SLOT)};
    }

    static double weightDecay(OptimizerOptions o, TrainConfig.Algorithm a) {
        return switch (a) {
            case SGD -> new SGDOptions(o).weight_decay().get();
            case ADAMW -> new AdamWOptions(o).weight_decay().get();
        };
    }

    private static void setWeightDecay(OptimizerOptions o, TrainConfig.Algorithm a, double wd) {
        // OptimizerOptions is the single, non-virtual base of SGDOptions/AdamWOptions: same address, so the
        // pointer cast is a static_cast
        switch (a) {
            case SGD -> new SGDOptions(o).weight_decay().put(wd);
            case ADAMW -> new AdamWOptions(o).weight_decay().put(wd);
        }
    }

    private static Set<Long> normParameterKeys(Module root) {
        Set<Long> out = new HashSet<>();
        SharedModuleVector all = root.modules(true);
        for (long i = 0; i < all.size(); i++) {
            Module m = all.get(i);
            String name = m.name().getString().toLowerCase(Locale.ROOT);
            if (name.contains("norm")) {
                TensorVector ps = m.parameters(false);
                for (long j = 0; j < ps.size(); j++) {
                    out.add(key(ps.get(j)));
                }
            }
        }
        return out;
    }

    /** Identity of a parameter: the address of its TensorImpl (shared by every wrapper of the same tensor). */
    private static long key(Tensor t) {
        return t.unsafeGetTensorImpl().address();
    }
}
