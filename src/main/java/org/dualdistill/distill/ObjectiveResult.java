package org.dualdistill.distill;

import java.util.concurrent.atomic.AtomicBoolean;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.dualdistill.datw.DatwResult;
import org.dualdistill.internal.torch.TensorBridge;
import org.dualdistill.rkd.RkdResult;
import org.dualdistill.sdd.SddResult;

/**
 * One evaluation of {@link DistillationObjective}: the total loss to differentiate and its breakdown. Owns every
 * tensor it holds; the caller must close it (after {@code loss().backward()}). Not thread-safe.
 */
public final class ObjectiveResult implements AutoCloseable {
    private final Tensor total;
    private final DatwResult datw;
    private final SddResult sdd;
    private final RkdResult rkd;
    private final Tensor hint;
    private final DistillationObjective.Builder cfg;
    private final AtomicBoolean closed = new AtomicBoolean();

    ObjectiveResult(Tensor total, DatwResult datw, SddResult sdd, RkdResult rkd, Tensor hint, boolean rkdOn,
                    DistillationObjective.Builder cfg) {
        this.total = total;
        this.datw = datw;
        this.sdd = sdd;
        this.rkd = rkdOn ? rkd : null;
        this.hint = hint;
        this.cfg = cfg;
    }

    private void open() {
        if (closed.get()) {
            throw new IllegalStateException("ObjectiveResult is closed");
        }
    }

    /** @return the scalar total loss, connected to the student's (and SDB's) autograd graph; owned by this result */
    public Tensor loss() {
        open();
        return total;
    }

    /** @return the DATW part (weights, confidence, discrepancy tensors); owned by this result */
    public DatwResult datw() {
        open();
        return datw;
    }

    /** @return every term as Java values (synchronizes with the device) */
    public ObjectiveBreakdown breakdown() {
        open();
        try (PointerScope scope = new PointerScope()) {
            float[] w = TensorBridge.toFloats(datw.weights());
            float[] c = TensorBridge.toFloats(datw.confidence());
            float[] d = TensorBridge.toFloats(datw.discrepancy());
            int k = (int) datw.weights().size(1);
            double[] mean = new double[k];
            double[] min = new double[k];
            double[] max = new double[k];
            double[] cm = new double[k];
            double[] dm = new double[k];
            java.util.Arrays.fill(min, Double.POSITIVE_INFINITY);
            java.util.Arrays.fill(max, Double.NEGATIVE_INFINITY);
            int rows = w.length / k;
            for (int i = 0; i < w.length; i++) {
                int j = i % k;
                mean[j] += w[i] / rows;
                min[j] = Math.min(min[j], w[i]);
                max[j] = Math.max(max[j], w[i]);
                cm[j] += c[i] / rows;
                dm[j] += d[i] / rows;
            }
            double sddV = sdd == null ? 0 : sdd.lossValue();
            double rkdV = rkd == null ? 0 : rkd.lossValue();
            double hintV = hint == null ? 0 : hint.item_double();
            return new ObjectiveBreakdown(total.item_double(), datw.ceValue(), datw.kdValue(), sddV, rkdV,
                    rkd == null ? 0 : rkd.distanceValue(), rkd == null ? 0 : rkd.angleValue(), hintV, mean, min, max, cm, dm);
        }
    }

    @Override
    public void close() {
        if (closed.getAndSet(true)) {
            return;
        }
        total.close();
        datw.close();
        if (sdd != null) {
            sdd.close();
        }
        if (rkd != null) {
            rkd.close();
        }
        if (hint != null) {
            hint.close();
        }
    }
}
