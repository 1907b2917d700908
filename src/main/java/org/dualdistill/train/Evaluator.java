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
import org.dualdistill.data.DevicePrefetcher;
import org.dualdistill.data.LabeledVideo;
import org.dualdistill.internal.torch.TensorBridge;
import org.dualdistill.internal.torch.TorchRuntime;
import org.dualdistill.model.VideoModel;

/**
 * Top-1/top-5, per-class accuracy and the confusion matrix of a model over one pass of a {@link DataLoader}. With
 * video-level aggregation the softmax scores of every clip of the same video (same {@code LabeledVideo.id()}) are
 * averaged before scoring (multi-view testing); otherwise each clip is scored on its own. The model is put in eval
 * mode and run under {@link NoGradGuard}; it is left in eval mode. For EPIC-KITCHENS models with a verb and a noun head,
 * {@link #evaluateVerbNoun} scores each head and the action (both right). Stateless; not thread-safe with respect to the
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
        return evaluate(model, loader, view, aggregateByVideo, epoch, null);
    }

    /**
     * As {@link #evaluate(VideoModel, DataLoader, String, boolean, int)}, reporting progress.
     *
     * @param onBatch called on the calling thread after each batch with its clip count (a progress bar), or null
     * @return the metrics
     */
    public static EvalResult evaluate(VideoModel model, DataLoader loader, String view, boolean aggregateByVideo, int epoch,
                                      java.util.function.IntConsumer onBatch) {
        int c = loader.dataset().numClasses();
        Collected r = collect(model, loader, view, aggregateByVideo, epoch, new int[] {c}, "dataset " + c, onBatch);
        List<Integer> labels = new ArrayList<>();
        for (LabeledVideo v : r.videos()) {
            labels.add(v.label());
        }
        return score(r.scores().get(0), labels, c, r.clips(), aggregateByVideo);
    }

    /**
     * Verb, noun and action accuracy of a model with a verb head and a noun head (EPIC-KITCHENS: an X3D built with
     * {@code heads(97, 300)}, whose logits are the two heads side by side). Each head gets its own softmax (averaged
     * over the clips of a video with video-level aggregation); targets are the examples' extra labels
     * {@code [verb_class, noun_class]} ({@link org.dualdistill.data.EpicKitchensDataset}). The action is right when
     * both argmaxes are, which is also the argmax of the joint score {@code p_verb(v) * p_noun(n)}.
     *
     * @param model            the two-head model (borrowed); logits {@code float32 [B, numVerbs + numNouns]}
     * @param loader           the data (borrowed), whose examples carry {@code [verb, noun]} extra labels
     * @param view             the batch view the model takes
     * @param aggregateByVideo whether to average each head's softmax over the clips of each video
     * @param epoch            the loader epoch to iterate
     * @param numVerbs         classes of the first head (EPIC-KITCHENS-100: 97)
     * @param numNouns         classes of the second head (EPIC-KITCHENS-100: 300)
     * @return verb and noun metrics (each an {@link EvalResult}) and action top-1/top-5
     * @throws IllegalArgumentException when the examples do not carry two extra labels or the logits are not
     *                                  {@code numVerbs + numNouns} wide
     */
    public static EvalResult.VerbNoun evaluateVerbNoun(VideoModel model, DataLoader loader, String view,
                                                       boolean aggregateByVideo, int epoch, int numVerbs, int numNouns) {
        if (numVerbs < 1 || numNouns < 1) {
            throw new IllegalArgumentException("numVerbs and numNouns must be >= 1, got " + numVerbs + ", " + numNouns);
        }
        if (loader.dataset().numExtraLabels() != 2) {
            throw new IllegalArgumentException("verb/noun evaluation needs [verb, noun] extra labels; dataset "
                    + loader.dataset().name() + " has " + loader.dataset().numExtraLabels());
        }
        Collected r = collect(model, loader, view, aggregateByVideo, epoch, new int[] {numVerbs, numNouns},
                "verb + noun heads " + numVerbs + " + " + numNouns, null);
        List<int[]> labels = new ArrayList<>();
        for (LabeledVideo v : r.videos()) {
            labels.add(new int[] {v.extraLabels().get(0), v.extraLabels().get(1)});
        }
        return scoreVerbNoun(r.scores().get(0), r.scores().get(1), labels, numVerbs, numNouns, r.clips(), aggregateByVideo);
    }

    /** Per scored sample (video or clip): summed softmax rows per head, the example, and the clips forwarded. */
    private record Collected(List<List<double[]>> scores, List<LabeledVideo> videos, long clips) {
    }

    /** One pass: softmax of each head (logit columns split by {@code heads}), summed per video or kept per clip. */
    private static Collected collect(VideoModel model, DataLoader loader, String view, boolean aggregateByVideo, int epoch,
                                     int[] heads, String expected, java.util.function.IntConsumer onBatch) {
        int width = 0;
        for (int h : heads) {
            width += h;
        }
        Map<String, double[][]> scores = new LinkedHashMap<>(); // key -> per head, summed softmax
        Map<String, LabeledVideo> videos = new LinkedHashMap<>();
        long clips = 0;
        long anon = 0;
        model.module().eval();
        org.bytedeco.pytorch.Device device = modelDevice(model);
        Iterable<Batch> pass = loader.epoch(epoch);
        // the model lives on a GPU: evaluate there, batch k+1 copied (pinned, non-blocking) while k is scored
        try (DevicePrefetcher feed = device == null ? null : DevicePrefetcher.cuda(pass, device)) {
            for (Batch b : feed == null ? pass : (Iterable<Batch>) () -> feed) {
                try (b; PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
                    Tensor logits = model.forward(b.data(view)).logits();
                    if (logits.size(1) != width) {
                        throw new IllegalArgumentException("model has " + logits.size(1) + " outputs, expected " + expected);
                    }
                    float[][] p = new float[heads.length][];
                    for (int h = 0, off = 0; h < heads.length; off += heads[h], h++) {
                        p[h] = TensorBridge.toFloats(torch.softmax(logits.narrow(1, off, heads[h]), 1).cpu().contiguous());
                    }
                    for (int i = 0; i < b.size(); i++) {
                        String key = aggregateByVideo ? b.videos().get(i).id() : "clip#" + (anon++);
                        double[][] s = scores.computeIfAbsent(key, k -> {
                            double[][] z = new double[heads.length][];
                            for (int h = 0; h < heads.length; h++) {
                                z[h] = new double[heads[h]];
                            }
                            return z;
                        });
                        for (int h = 0; h < heads.length; h++) {
                            for (int j = 0; j < heads[h]; j++) {
                                s[h][j] += p[h][i * heads[h] + j];
                            }
                        }
                        videos.put(key, b.videos().get(i));
                        clips++;
                    }
                    if (onBatch != null) {
                        onBatch.accept(b.size());
                    }
                }
            }
        }
        List<List<double[]>> perHead = new ArrayList<>();
        for (int h = 0; h < heads.length; h++) {
            List<double[]> rows = new ArrayList<>();
            for (double[][] s : scores.values()) {
                rows.add(s[h]);
            }
            perHead.add(rows);
        }
        return new Collected(perHead, new ArrayList<>(videos.values()), clips);
    }

    /**
     * Scores summed verb and noun probability rows against {@code [verb, noun]} labels. Action top-1: both argmaxes
     * right (first index wins a tie, as in {@link #score}); action top-5: fewer than 5 (verb, noun) pairs have a
     * joint score {@code s_verb(v) * s_noun(n)} strictly above the true pair's.
     */
    static EvalResult.VerbNoun scoreVerbNoun(List<double[]> verbScores, List<double[]> nounScores, List<int[]> labels,
                                             int numVerbs, int numNouns, long clips, boolean videoLevel) {
        List<Integer> verbs = new ArrayList<>();
        List<Integer> nouns = new ArrayList<>();
        long actionTop1 = 0;
        long actionTop5 = 0;
        for (int n = 0; n < labels.size(); n++) {
            double[] v = verbScores.get(n);
            double[] o = nounScores.get(n);
            int yv = labels.get(n)[0];
            int yn = labels.get(n)[1];
            verbs.add(yv);
            nouns.add(yn);
            if (argmax(v) == yv && argmax(o) == yn) {
                actionTop1++;
            }
            double target = v[yv] * o[yn];
            long above = 0;
            for (int i = 0; i < numVerbs && above < 5; i++) {
                for (int j = 0; j < numNouns && above < 5; j++) {
                    if (v[i] * o[j] > target) {
                        above++;
                    }
                }
            }
            if (above < 5) {
                actionTop5++;
            }
        }
        long total = labels.size();
        return new EvalResult.VerbNoun(score(verbScores, verbs, numVerbs, clips, videoLevel),
                score(nounScores, nouns, numNouns, clips, videoLevel),
                total == 0 ? 0 : (double) actionTop1 / total, total == 0 ? 0 : (double) actionTop5 / total);
    }

    private static int argmax(double[] s) {
        int best = 0;
        for (int j = 1; j < s.length; j++) {
            if (s[j] > s[best]) {
                best = j;
            }
        }
        return best;
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

    /** @return the CUDA device of a model's first parameter, or null when it lives on the CPU */
    private static org.bytedeco.pytorch.Device modelDevice(VideoModel model) {
        org.bytedeco.pytorch.TensorVector ps = model.module().parameters();
        if (ps.size() == 0) {
            return null;
        }
        org.bytedeco.pytorch.Device d = ps.get(0).device();
        return d.is_cuda() ? d : null;
    }
}
