package org.dualdistill.benchmarks;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.data.Batch;
import org.dualdistill.data.DataLoader;
import org.dualdistill.data.LabeledVideo;
import org.dualdistill.data.LoaderStats;
import org.dualdistill.data.VideoDataset;
import org.dualdistill.data.synthetic.ActionClass;
import org.dualdistill.data.synthetic.SyntheticActionDataset;
import org.dualdistill.data.synthetic.SyntheticConfig;
import org.dualdistill.internal.torch.TorchRuntime;
import org.dualdistill.video.Clip;
import org.dualdistill.video.ClipSampler;
import org.dualdistill.video.CropBox;
import org.dualdistill.video.DecodeOptions;
import org.dualdistill.video.EncoderOptions;
import org.dualdistill.video.MultiViewSampler;
import org.dualdistill.video.VideoCodec;
import org.dualdistill.video.VideoEncoder;
import org.dualdistill.video.VideoSource;
import org.dualdistill.video.VideoTransform;
import org.dualdistill.video.ViewSpec;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/*
 * What this measures: the video input pipeline on HMDB51-like files (320x240 MPEG-4 Part 2 in AVI, 30 fps,
 * a keyframe every 12 frames, textured moving content from the synthetic action generator), next to Debian's
 * ffmpeg command line doing the decoding and scaling alone. Three benchmarks, all in Mode.Throughput:
 *
 *   loader      one epoch of the DataLoader over 8 three-second videos, 2 random clips each (16 clips per
 *               invocation, so the score is clips/s): open, index, plan, decode the clip windows (13 x 6
 *               frames: every frame from the keyframe before the window to its end is decoded), cut the
 *               random short-side-scale crop, resize to 160x160 (and to 224x224 for the teacher views with
 *               views=3), flip, normalize into float32 batches. @Param workers = 1 or 2 decoding threads.
 *   fullDecode  one source decoding all 900 frames of a 30 s file at 160x160 RGB (swscale resizes during
 *               colour conversion) in 30-frame chunks, each normalized to float32 [3, 30, 160, 160]
 *               (VideoTransform.render over the whole frame, no second resize): the same
 *               per-frame work as the command line below plus the float conversion, so frames/s compare
 *               directly (one 900-frame float tensor would be 276 MB and measure memory traffic instead).
 *   ffmpegCli   `ffmpeg -v error -threads 1 -i f.avi -vf scale=160:160 -pix_fmt rgb24 -f rawvideo -y /dev/null`
 *               on the same 900-frame file (process start included, ~2% of the run); frames/s.
 *               benchmarks/python/ffmpeg_cli_decode.sh times the same command standalone.
 *
 * Traps avoided:
 *
 *   1. Comparing clips with frames. A training clip needs far more decoded frames than it keeps (13 kept of
 *      ~80-90 decoded here, since MPEG-4 decodes every frame from the previous keyframe). tearDown prints the
 *      loader's decoded frames per clip, so clips/s converts into decoded frames/s for the ratio with the
 *      command line; fullDecode is the like-for-like comparison.
 *
 *   2. Oversubscription. LibTorch's intra-op pool would otherwise add threads to every resize and
 *      normalization from the workers, and "1 worker" would not mean one core. setUp sets one LibTorch
 *      thread; each worker decodes with one FFmpeg thread (DecodeOptions default), as the CLI does.
 *
 *   3. Setup in the measurement. Generating the videos takes tens of seconds; they are written once into
 *      java.io.tmpdir/dualdistill-decode-bench-v1 and reused by every fork and trial. The loader (and its
 *      worker threads) is built per trial, not per invocation; the first epoch runs in setUp.
 *
 *   4. Leaks and dead code. Every batch is closed inside the measured method (native memory stays flat, see
 *      DataLoaderTest), and the methods return a value derived from the work.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 4, time = 3)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"})
public class DecodeBenchmark {
    static final int CLIP_VIDEOS = 8;
    static final int CLIP_VIDEO_FRAMES = 90;
    static final int CLIPS_PER_VIDEO = 2;
    static final int LONG_FRAMES = 900;
    static final int CHUNK = 30;
    static final CropBox FULL_FRAME = new CropBox(0, 0, 160, 160);

    /** The generated files and the command-line tool; shared by all benchmarks. */
    @State(Scope.Benchmark)
    public static class Videos {
        Path dir;
        String ffmpeg;

        @Setup(Level.Trial)
        public void setUp() throws IOException {
            TorchRuntime.init();
            torch.set_num_threads(1);
            dir = videos();
            ffmpeg = Files.isExecutable(Path.of("/usr/bin/ffmpeg")) ? "/usr/bin/ffmpeg" : Loader.load(org.bytedeco.ffmpeg.ffmpeg.class);
        }
    }

    /** A running loader over the clip videos. */
    @State(Scope.Benchmark)
    public static class Loading {
        /** Decoding threads of the loader. */
        @Param({"1", "2"})
        public int workers;

        /** 1: the student view 13x160x160; 3: plus two teacher views 16x224x224 of the same window and region. */
        @Param({"1", "3"})
        public int views;

        DataLoader loader;
        int epoch;

        @Setup(Level.Trial)
        public void setUp(Videos v) {
            List<LabeledVideo> list = new ArrayList<>();
            for (int i = 0; i < CLIP_VIDEOS; i++) {
                list.add(LabeledVideo.of("v" + i, v.dir.resolve("clip_" + i + ".avi"), i % 4));
            }
            VideoDataset ds = VideoDataset.of("decode-bench", list, List.of("a", "b", "c", "d"));
            MultiViewSampler.Builder mv = MultiViewSampler.builder(ClipSampler.random(13, 6, CLIPS_PER_VIDEO), VideoTransform.train(182, 228))
                    .addView(ViewSpec.of("student", 13, 160));
            if (views == 3) {
                mv.addView(ViewSpec.of("x3d_m", 16, 224)).addView(ViewSpec.of("mvit", 16, 224));
            }
            loader = DataLoader.builder(ds, mv.build()).optBatchSize(4).optWorkers(workers).optSeed(1).build();
            epoch = 0;
            if (runEpoch() != CLIP_VIDEOS * CLIPS_PER_VIDEO) {
                throw new IllegalStateException("the loader skipped clips: " + loader.stats().recentSkips());
            }
        }

        int runEpoch() {
            int n = 0;
            for (Batch b : loader.epoch(epoch++)) {
                try (b) {
                    n += b.size();
                }
            }
            return n;
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            if (loader != null) {
                LoaderStats s = loader.stats();
                if (s.clips() > 0) {
                    System.out.printf("%n[loader workers=%d views=%d] %d clips, %.1f decoded frames per clip, %d skipped, consumer waited %.0f%%%n",
                            workers, views, s.clips(), (double) s.framesDecoded() / s.clips(), s.skippedClips(), 100.0 * s.waitNanos() / s.elapsedNanos());
                }
                loader.close();
                loader = null;
            }
        }
    }

    @Benchmark
    @OperationsPerInvocation(CLIP_VIDEOS * CLIPS_PER_VIDEO)
    public int loader(Loading l) {
        return l.runEpoch();
    }

    @Benchmark
    @OperationsPerInvocation(LONG_FRAMES)
    public long fullDecode(Videos v) throws IOException {
        // a sequential reader: 30-frame chunks decoded at 160x160 and normalized to float32 [3, 30, 160, 160]
        DecodeOptions o = DecodeOptions.builder().optSize(160, 160).build();
        float[] mean = {0.45f, 0.45f, 0.45f};
        float[] std = {0.225f, 0.225f, 0.225f};
        long checksum = 0;
        try (VideoSource s = VideoSource.open(v.dir.resolve("long.avi"), o)) {
            long[] idx = new long[CHUNK];
            for (int start = 0; start < LONG_FRAMES; start += CHUNK) {
                for (int i = 0; i < CHUNK; i++) {
                    idx[i] = start + i;
                }
                try (Clip c = s.frames(idx); PointerScope scope = new PointerScope()) {
                    Tensor x = VideoTransform.render(c.frames(), FULL_FRAME, false, 160, 160, mean, std);
                    checksum += x.size(1);
                    x.close();
                }
            }
        }
        return checksum;
    }

    @Benchmark
    @OperationsPerInvocation(LONG_FRAMES)
    public int ffmpegCli(Videos v) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(v.ffmpeg, "-v", "error", "-threads", "1", "-i", v.dir.resolve("long.avi").toString(), "-vf", "scale=160:160",
                "-pix_fmt", "rgb24", "-f", "rawvideo", "-y", "/dev/null").redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
        int rc = p.waitFor();
        if (rc != 0) {
            throw new IllegalStateException(v.ffmpeg + " exited with " + rc);
        }
        return rc;
    }

    /** Writes the benchmark videos once (a marker file says they are complete) and returns their folder. */
    static Path videos() throws IOException {
        Path d = Path.of(System.getProperty("java.io.tmpdir"), "dualdistill-decode-bench-v1");
        if (Files.exists(d.resolve("complete"))) {
            return d;
        }
        Files.createDirectories(d);
        SyntheticConfig look = SyntheticConfig.builder().optSize(320, 240).optNoise(2).build();
        ActionClass[] classes = ActionClass.values();
        for (int i = 0; i < CLIP_VIDEOS; i++) {
            write(d.resolve("clip_" + i + ".avi"), SyntheticActionDataset.renderFrames(classes[i % classes.length], 100 + i, CLIP_VIDEO_FRAMES, look));
        }
        List<byte[]> longFrames = new ArrayList<>();
        for (int k = 0; k < LONG_FRAMES / 30; k++) {
            longFrames.addAll(SyntheticActionDataset.renderFrames(classes[k % classes.length], k, 30, look));
        }
        write(d.resolve("long.avi"), longFrames);
        Files.writeString(d.resolve("complete"), "320x240 mpeg4 q5 gop12 30fps\n");
        return d;
    }

    private static void write(Path f, List<byte[]> frames) throws IOException {
        EncoderOptions o = EncoderOptions.builder(VideoCodec.MPEG4, 320, 240).optFrameRate(30).optGopSize(12).optQuality(5).build();
        try (VideoEncoder enc = VideoEncoder.open(f, o)) {
            for (byte[] rgb : frames) {
                enc.writeFrame(rgb);
            }
        }
    }
}
