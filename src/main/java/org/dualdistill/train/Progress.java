package org.dualdistill.train;

import java.util.Locale;

/**
 * One-line training progress with throughput and ETA, e.g.
 * {@code epoch 2/10 step 120/600 (20%) loss 1.2345 lr 0.0500 12.3 clips/s eta 0:04:10}. Not thread-safe.
 */
public final class Progress {
    private final long totalSteps;
    private final int totalEpochs;
    private final long startNanos = System.nanoTime();
    private final long startStep;

    /**
     * @param totalSteps  steps of the whole run
     * @param totalEpochs epochs of the whole run
     * @param startStep   the step the run (re)started at (ETA is measured from here)
     */
    public Progress(long totalSteps, int totalEpochs, long startStep) {
        this.totalSteps = totalSteps;
        this.totalEpochs = totalEpochs;
        this.startStep = startStep;
    }

    /**
     * @param epoch       current epoch (0-based)
     * @param step        completed steps
     * @param loss        latest loss
     * @param lr          current learning rate
     * @param clipsPerSec throughput
     * @return the line
     */
    public String line(int epoch, long step, double loss, double lr, double clipsPerSec) {
        double elapsed = (System.nanoTime() - startNanos) / 1e9;
        long done = step - startStep;
        long left = Math.max(0, totalSteps - step);
        double eta = done > 0 ? elapsed / done * left : Double.NaN;
        return String.format(Locale.ROOT, "epoch %d/%d step %d/%d (%d%%) loss %.4f lr %.5f %.1f clips/s eta %s",
                epoch + 1, totalEpochs, step, totalSteps, totalSteps == 0 ? 100 : step * 100 / totalSteps, loss, lr,
                clipsPerSec, format(eta));
    }

    static String format(double seconds) {
        if (Double.isNaN(seconds) || Double.isInfinite(seconds)) {
            return "?";
        }
        long s = Math.round(seconds);
        return String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
    }
}
