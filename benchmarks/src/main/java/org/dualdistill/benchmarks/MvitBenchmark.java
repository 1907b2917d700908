package org.dualdistill.benchmarks;

import java.util.concurrent.TimeUnit;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.internal.torch.TorchRuntime;
import org.dualdistill.model.mvit.MViT;
import org.dualdistill.model.mvit.MViTConfig;
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
 * MViTv2-S teacher inference (eval, no grad, batch 1) on the CPU: the full 16x224x224 reference model, and a
 * reduced configuration of the kind the embedded demo trains (depth 4, width 32, 8x64x64). Teachers cost ~12x
 * the student per sample (REFERENCE section 6), so this bounds how fast distillation can go without a cache.
 * Each call runs in its own PointerScope; the returned sum forces the whole graph.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 1, time = 5)
@Measurement(iterations = 3, time = 5)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"})
@State(Scope.Benchmark)
public class MvitBenchmark {

    /** "full" = MViTv2-S 16x224; "reduced" = depth 4, width 32, 8x64x64. */
    @Param({"reduced", "full"})
    public String size;

    @Param({"2"})
    public int threads;

    private MViT model;
    private Tensor clip;

    @Setup(Level.Trial)
    public void setUp() {
        TorchRuntime.init();
        torch.set_num_threads(threads);
        torch.manual_seed(3);
        MViTConfig cfg = size.equals("full") ? MViTConfig.mvitV2S(400)
                : MViTConfig.builder().depth(4).embedDim(32).numHeads(1).stageStarts(1, 3).numFrames(8).cropSize(64)
                        .numClasses(10).build();
        model = new MViT(cfg);
        model.module().eval();
        try (PointerScope scope = new PointerScope()) {
            clip = torch.randn(1, 3, cfg.numFrames(), cfg.cropSize(), cfg.cropSize()).retainReference();
        }
    }

    @Benchmark
    public double forward() {
        try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            return model.forward(clip).logits().sum().item_double();
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        clip.close();
        model.close();
    }
}
