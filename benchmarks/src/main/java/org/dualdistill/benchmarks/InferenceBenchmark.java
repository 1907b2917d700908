package org.dualdistill.benchmarks;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.bytedeco.pytorch.global.torch;
import org.dualdistill.export.ModelCard;
import org.dualdistill.export.StudentExport;
import org.dualdistill.inference.ClipInput;
import org.dualdistill.inference.VideoClassifier;
import org.dualdistill.internal.torch.TorchRuntime;
import org.dualdistill.model.x3d.X3d;
import org.dualdistill.video.EncoderOptions;
import org.dualdistill.video.VideoCodec;
import org.dualdistill.video.VideoEncoder;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/*
 * VideoClassifier under concurrent load: 1, 2, 4 or 8 caller threads each send 16 requests (one "burst") to one
 * classifier on a tiny exported X3D (width 0.5, depth 0.5, 64-d head, 10 classes, 8 x 64 x 64 input), with
 * micro-batching on (maxBatch 8, maxWait 2 ms) or off (maxBatch 1), for an already decoded clip or the bytes of a
 * small mpeg4 video (decoded, sampled and normalized on the caller's thread, as in a service).
 *
 * What it measures: JMH's score is milliseconds per burst, so throughput = callers * 16 * 1000 / score requests/s.
 * Every request's latency (call to result) is recorded too; at the end of every iteration its p50, p99 and mean batch
 * size are appended to target/inference-latency.csv under the working directory (benchmarks/ with run.sh), numbered
 * so that the warm-up iterations (the first ones of each trial) can be told from the measured ones.
 * Traps avoided: the caller threads live for the whole trial (no thread start-up inside the measurement), the
 * classifier and its worker are built once per trial, and every result is checked to be non-empty so nothing is
 * optimized away.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"})
@State(Scope.Benchmark)
public class InferenceBenchmark {
    static final int PER_CALLER = 16;
    static final int T = 8;
    static final int S = 64;

    /** Concurrent caller threads. */
    @Param({"1", "2", "4", "8"})
    public int callers;

    /** Micro-batching: on (maxBatch 8) or off (maxBatch 1). */
    @Param({"on", "off"})
    public String batching;

    /** What a request carries: a decoded clip, or a video file's bytes. */
    @Param({"clip", "video"})
    public String input;

    /** LibTorch intra-op threads. */
    @Param({"2"})
    public int threads;

    private Path dir;
    private VideoClassifier classifier;
    private ExecutorService pool;
    private List<ClipInput> clips;
    private byte[] video;
    private long[][] latencies;
    private int iteration;
    private VideoClassifier.Stats atIterationStart;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        TorchRuntime.init();
        torch.set_num_threads(threads);
        dir = Files.createTempDirectory("dualdistill-inference-bench");
        torch.manual_seed(1);
        List<String> names = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            names.add("class" + i);
        }
        try (X3d s = X3d.builder().widthFactor(0.5).depthFactor(0.5).headDimOut(64).numClasses(10).clipLength(T).crop(S).build()) {
            StudentExport.write(dir.resolve("model"), s, ModelCard.builder(s.config(), names).optInput(T, 2, S, S).build());
        }
        Path v = dir.resolve("v.avi");
        int w = 80;
        int h = 64;
        try (VideoEncoder enc = VideoEncoder.open(v, EncoderOptions.builder(VideoCodec.MPEG4, w, h).optFrameRate(25).build())) {
            SplittableRandom rnd = new SplittableRandom(2);
            byte[] rgb = new byte[w * h * 3];
            for (int t = 0; t < 24; t++) {
                for (int i = 0; i < rgb.length; i++) {
                    rgb[i] = (byte) rnd.nextInt(256);
                }
                enc.writeFrame(rgb);
            }
        }
        video = Files.readAllBytes(v);
        clips = new ArrayList<>();
        for (int c = 0; c < 8; c++) {
            SplittableRandom rnd = new SplittableRandom(c);
            float[] d = new float[3 * T * S * S];
            for (int i = 0; i < d.length; i++) {
                d[i] = (float) rnd.nextDouble();
            }
            clips.add(new ClipInput("clip" + c, d, T, S, S));
        }
        classifier = VideoClassifier.builder(dir.resolve("model")).optMaxBatch(batching.equals("on") ? 8 : 1)
                .optMaxWait(Duration.ofMillis(2)).optQueueCapacity(2 * callers).build();
        pool = Executors.newFixedThreadPool(callers);
    }

    @Setup(Level.Iteration)
    public void resetLatencies() {
        latencies = new long[callers][];
        atIterationStart = classifier.stats();
    }

    @Benchmark
    public int burst() throws Exception {
        List<Future<long[]>> fs = new ArrayList<>(callers);
        for (int c = 0; c < callers; c++) {
            int cc = c;
            fs.add(pool.submit(() -> {
                long[] lat = new long[PER_CALLER];
                for (int k = 0; k < PER_CALLER; k++) {
                    long t0 = System.nanoTime();
                    int n = input.equals("clip") ? classifier.classify(clips.get((cc + k) % clips.size())).size()
                            : classifier.classify(video, "bench.avi").size();
                    lat[k] = System.nanoTime() - t0;
                    if (n == 0) {
                        throw new IllegalStateException("empty result");
                    }
                }
                return lat;
            }));
        }
        int done = 0;
        for (int c = 0; c < callers; c++) {
            long[] lat = fs.get(c).get();
            latencies[c] = latencies[c] == null ? lat : concat(latencies[c], lat);
            done += lat.length;
        }
        return done;
    }

    private static long[] concat(long[] a, long[] b) {
        long[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @TearDown(Level.Iteration)
    public void report() throws IOException {
        iteration++;
        long[] all = Arrays.stream(latencies).filter(a -> a != null).flatMapToLong(Arrays::stream).sorted().toArray();
        if (all.length == 0) {
            return;
        }
        double p50 = all[(int) Math.min(all.length - 1, Math.round(0.50 * (all.length - 1)))] / 1e6;
        double p99 = all[(int) Math.min(all.length - 1, Math.round(0.99 * (all.length - 1)))] / 1e6;
        VideoClassifier.Stats s = classifier.stats();
        double meanBatch = (double) (s.clips() - atIterationStart.clips()) / Math.max(1, s.batches() - atIterationStart.batches());
        String line = String.format(Locale.ROOT, "%s,%d,%s,%s,%d,%d,%.3f,%.3f,%.2f%n", java.time.Instant.now(), iteration, input, batching,
                callers, all.length, p50, p99, meanBatch);
        Path csv = Path.of(System.getProperty("user.dir"), "target", "inference-latency.csv");
        Files.createDirectories(csv.getParent());
        if (!Files.exists(csv)) {
            Files.writeString(csv, "time,iteration,input,batching,callers,requests,p50_ms,p99_ms,mean_batch\n", StandardCharsets.UTF_8);
        }
        Files.writeString(csv, line, StandardCharsets.UTF_8, StandardOpenOption.APPEND);
        System.out.print("inference " + line);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        pool.shutdownNow();
        classifier.close();
        try (var s = Files.walk(dir)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
