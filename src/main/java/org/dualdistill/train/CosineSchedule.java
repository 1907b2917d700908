package org.dualdistill.train;

/**
 * Cosine learning-rate schedule with a linear warmup, evaluated per optimizer step (PySlowFast
 * {@code lr_policy: cosine} with {@code WARMUP_EPOCHS}, measured in steps):
 * <pre>
 *   step &lt; W:  lr = start + (peak - start) * step / W
 *   step &gt;= W: lr = min + (peak - min) * (1 + cos(pi * (step - W) / (S - W))) / 2
 * </pre>
 * with W warmup steps and S total steps; steps past S stay at {@code min}. {@link #apply} sets every parameter
 * group's rate and advances the step counter; the counter is the whole state ({@link #step()},
 * {@link #restore(long)}), saved in checkpoints. Not thread-safe (one per training loop).
 */
public final class CosineSchedule {
    private final double peakLr;
    private final double warmupStartLr;
    private final double minLr;
    private final long warmupSteps;
    private final long totalSteps;
    private long step;

    /**
     * @param peakLr        rate at the end of the warmup (> 0)
     * @param warmupStartLr rate at step 0 (>= 0)
     * @param minLr         rate at the end (>= 0)
     * @param warmupSteps   warmup length in steps (>= 0, <= totalSteps)
     * @param totalSteps    schedule length in steps (>= 1)
     */
    public CosineSchedule(double peakLr, double warmupStartLr, double minLr, long warmupSteps, long totalSteps) {
        if (!(peakLr > 0) || Double.isInfinite(peakLr)) {
            throw new IllegalArgumentException("peakLr: must be > 0, got " + peakLr);
        }
        if (!(warmupStartLr >= 0) || !(minLr >= 0)) {
            throw new IllegalArgumentException("warmupStartLr and minLr must be >= 0, got " + warmupStartLr + ", "
                    + minLr);
        }
        if (totalSteps < 1 || warmupSteps < 0 || warmupSteps > totalSteps) {
            throw new IllegalArgumentException("steps: need 0 <= warmupSteps <= totalSteps and totalSteps >= 1, got "
                    + warmupSteps + " and " + totalSteps);
        }
        this.peakLr = peakLr;
        this.warmupStartLr = warmupStartLr;
        this.minLr = minLr;
        this.warmupSteps = warmupSteps;
        this.totalSteps = totalSteps;
    }

    /**
     * @param opt           the optimizer settings (peak lr)
     * @param schedule      the schedule settings
     * @param stepsPerEpoch optimizer steps per epoch (>= 1)
     * @return the schedule; warmup and total steps are epochs times steps per epoch (warmup rounded)
     */
    public static CosineSchedule of(TrainConfig.Optimizer opt, TrainConfig.Schedule schedule, long stepsPerEpoch) {
        if (stepsPerEpoch < 1) {
            throw new IllegalArgumentException("stepsPerEpoch: must be >= 1, got " + stepsPerEpoch);
        }
        long total = schedule.epochs() * stepsPerEpoch;
        long warm = Math.round(schedule.warmupEpochs() * stepsPerEpoch);
        return new CosineSchedule(opt.lr(), schedule.warmupStartLr(), schedule.minLr(), Math.min(warm, total), total);
    }

    /**
     * @param step an optimizer step (>= 0)
     * @return the learning rate at that step
     */
    public double lrAt(long step) {
        if (step < 0) {
            throw new IllegalArgumentException("step: must be >= 0, got " + step);
        }
        if (step < warmupSteps) {
            return warmupStartLr + (peakLr - warmupStartLr) * ((double) step / warmupSteps);
        }
        if (step >= totalSteps) {
            return minLr;
        }
        double progress = (double) (step - warmupSteps) / (totalSteps - warmupSteps);
        return minLr + (peakLr - minLr) * 0.5 * (1.0 + Math.cos(Math.PI * progress));
    }

    /**
     * Sets every group's rate to {@code lrAt(step())} and advances the counter. Call once per optimizer step,
     * before {@code opt.step()}.
     *
     * @param opt the optimizer (borrowed)
     * @return the rate set
     */
    public double apply(TrainingOptimizer opt) {
        double lr = lrAt(step);
        opt.setLr(lr);
        step++;
        return lr;
    }

    /** @return the next step to be applied (the state to checkpoint) */
    public long step() {
        return step;
    }

    /**
     * @param step a value from {@link #step()} (>= 0)
     */
    public void restore(long step) {
        if (step < 0) {
            throw new IllegalArgumentException("step: must be >= 0, got " + step);
        }
        this.step = step;
    }

    /** @return warmup length in steps */
    public long warmupSteps() {
        return warmupSteps;
    }

    /** @return schedule length in steps */
    public long totalSteps() {
        return totalSteps;
    }
}
