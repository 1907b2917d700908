package org.dualdistill.train;

import java.util.concurrent.atomic.AtomicReference;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Optimizer;
import org.bytedeco.pytorch.TensorVector;
import org.dualdistill.internal.torch.TorchRuntime;

/**
 * A LibTorch optimizer with two parameter groups: group 0 carries weight decay (conv and linear weights), group 1
 * has weight decay 0 (normalization parameters and biases). Built by {@link Optimizers#create}.
 *
 * <p>Owns the native optimizer (its state: momentum buffers, Adam moments) until {@link #close()}; the parameters
 * themselves stay owned by their modules, which must outlive this object. Not thread-safe: use it from the training
 * thread only.
 */
public final class TrainingOptimizer implements AutoCloseable {
    static {
        TorchRuntime.init();
    }

    private final AtomicReference<Optimizer> native_;
    private final TrainConfig.Algorithm algorithm;
    private final double peakLr;

    TrainingOptimizer(Optimizer retained, TrainConfig.Algorithm algorithm, double peakLr) {
        this.native_ = new AtomicReference<>(retained);
        this.algorithm = algorithm;
        this.peakLr = peakLr;
    }

    private Optimizer open() {
        Optimizer o = native_.get();
        if (o == null) {
            throw new IllegalStateException("TrainingOptimizer is closed");
        }
        return o;
    }

    /** @return the algorithm */
    public TrainConfig.Algorithm algorithm() {
        return algorithm;
    }

    /** @return the configured (peak) learning rate */
    public double peakLr() {
        return peakLr;
    }

    /** @return number of parameter groups (1 or 2) */
    public int groupCount() {
        try (PointerScope scope = new PointerScope()) {
            return (int) open().param_groups().size();
        }
    }

    /**
     * @param group group index
     * @return number of parameter tensors in the group
     */
    public long groupSize(int group) {
        try (PointerScope scope = new PointerScope()) {
            return open().param_groups().get(group).params().size();
        }
    }

    /**
     * @param group group index
     * @return the group's weight decay
     */
    public double groupWeightDecay(int group) {
        try (PointerScope scope = new PointerScope()) {
            return Optimizers.weightDecay(open().param_groups().get(group).options(), algorithm);
        }
    }

    /**
     * @param group group index
     * @return the group's current learning rate
     */
    public double lr(int group) {
        try (PointerScope scope = new PointerScope()) {
            return open().param_groups().get(group).options().get_lr();
        }
    }

    /**
     * Sets the learning rate of every group.
     *
     * @param lr the new rate (>= 0)
     */
    public void setLr(double lr) {
        if (!(lr >= 0) || Double.isInfinite(lr)) {
            throw new IllegalArgumentException("lr: must be finite and >= 0, got " + lr);
        }
        try (PointerScope scope = new PointerScope()) {
            var groups = open().param_groups();
            for (long i = 0; i < groups.size(); i++) {
                groups.get(i).options().set_lr(lr);
            }
        }
    }

    /** Sets every parameter's gradient to undefined (set_to_none). */
    public void zeroGrad() {
        try (PointerScope scope = new PointerScope()) {
            open().zero_grad(true);
        }
    }

    /** One update from the parameters' current gradients. */
    public void step() {
        try (PointerScope scope = new PointerScope()) {
            open().step();
        }
    }

    /** @return the parameters of every group (views of the modules' parameters); released with the caller's scope */
    TensorVector parameters() {
        // gathered from the groups: Optimizer::parameters() is deprecated and warns on every call
        TensorVector all = new TensorVector();
        var groups = open().param_groups();
        for (long i = 0; i < groups.size(); i++) {
            TensorVector ps = groups.get(i).params();
            for (long j = 0; j < ps.size(); j++) {
                all.push_back(ps.get(j));
            }
        }
        return all;
    }

    /** @return the native optimizer, borrowed (for serialization) */
    Optimizer handle() {
        return open();
    }

    @Override
    public void close() {
        Optimizer o = native_.getAndSet(null);
        if (o != null) {
            o.releaseReference();
        }
    }
}
