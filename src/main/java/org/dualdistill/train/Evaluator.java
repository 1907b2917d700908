package org.dualdistill.train;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.data.Batch;
import org.dualdistill.data.DataLoader;
import org.dualdistill.internal.torch.TensorBridge;
import org.dualdistill.internal.torch.TorchRuntime;
import org.dualdistill.model.VideoModel;

/**
 * Top-1/top-5, per-class accuracy and the confusion matrix of a model over one pass of a {@link DataLoader}. With
 * video-level aggregation the softmax scores of every clip of the same video (same {@code LabeledVideo.id()}) are
 * averaged before scoring (multi-view testing); otherwise each clip is scored on its own. The model is put in eval
 * mode and run under {@link NoGradGuard}; it is left in eval mode. Stateless; not thread-safe with respect to the
 * model.
 */
public final class Evaluator {
    static {
        TorchRuntime.init();
    }

    private Evaluator() {
    }

    /**
     * @param model            the model (borrowed)
     * @param loader           the data (borrowed); one epoch (number {@code epoch}) is consumed
     * @param view             the batch view the model takes
     * @param aggregateByVideo whether to average softmax over the clips of each video
     * @param epoch            the loader epoch to iterate (fixes its sampling)
     * @return the metrics
     */
    public static EvalResult evaluate(VideoModel model, DataLoader loader, String view, boolean aggregateByVideo, int epoch) {
        int c = loader.dataset().numClasses();
        Map<String, double[]> scores = new LinkedHashMap<>(); // key -> summed softmax
        Map<String, Integer> labels = new LinkedHashMap<>();
        long clips = 0;
        long anon = 0;
        model.module().eval();
        for (Batch b : loader.epoch(epoch)) {
            try (b; PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
                Tensor logits = model.forward(b.data(view)).logits();
                if (logits.size(1) != c) {
                    throw new IllegalArgumentException("model has " + logits.size(1) + " classes, dataset " + c);
                }
                float[] p = TensorBridge.toFloats(torch.softmax(logits, 1).contiguous());
                for (int i = 0; i < b.size(); i++) {
                    String key = aggregateByVideo ? b.videos().get(i).id() : "clip#" + (anon++);
                    double[] s = scores.computeIfAbsent(key, k -> new double[c]);
                    for (int j = 0; j < c; j++) {
                        s[j] += p[i * c + j];
                    }
                    labels.put(key, b.videos().get(i).label());
                    clips++;
                }
            }
        }
        return score(new ArrayList<>(scores.values()), new ArrayList<>(labels.values()), c, clips, aggregateByVideo);
    }

    /** Scores summed probability rows against labels. */
    static EvalResult score(List<double[]> scores, List<Integer> labels, int c, long clips, boolean videoLevel) {
        int k = Math.min(5, c);
        long[][] confusion = new long[c][c];
        long[] counts = new long[c];
        long[] correct = new long[c];
        long top1 = 0;
        long top5 = 0;
        for (int n = 0; n < scores.size(); n++) {
            double[] s = scores.get(n);
            int y = labels.get(n);
            int pred = 0;
            for (int j = 1; j < c; j++) {
                if (s[j] > s[pred]) {
                    pred = j;
                }
            }
            int rank = 0; // classes scored strictly higher than the true one (ties favour the true class)
            for (int j = 0; j < c; j++) {
                if (s[j] > s[y]) {
                    rank++;
                }
            }
            counts[y]++;
            confusion[y][pred]++;
            if (pred == y) {
                top1++;
                correct[y]++;
            }
            if (rank < k) {
                top5++;
            }
        }
        double[] per = new double[c];
        for (int j = 0; j < c; j++) {
            per[j] = counts[j] == 0 ? Double.NaN : (double) correct[j] / counts[j];
        }
        long total = scores.size();
        return new EvalResult(total, clips, total == 0 ? 0 : (double) top1 / total, total == 0 ? 0 : (double) top5 / total,
                per, counts, confusion, videoLevel);
    }
}
