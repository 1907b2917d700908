package org.dualdistill.benchmarks;

import java.util.List;
import java.util.concurrent.TimeUnit;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.distill.DistillationObjective;
import org.dualdistill.distill.ObjectiveResult;
import org.dualdistill.distill.StudentOutputs;
import org.dualdistill.distill.TeacherOutputs;
import org.dualdistill.internal.torch.TorchRuntime;
import org.dualdistill.kernels.KernelBackend;
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
 * The paper's full objective, forward + backward, at the reference shapes: X3D-S student (logits [B,400], res5
 * [B,192,13,5,5], 2048-d embedding), MViTv2-S teacher (logits, [B,768,8,7,7] map, 768-d cls), X3D-M teacher
 * (logits, [B,192,16,7,7] map). Every loss term on, default weights. FUSED_CPU uses the three fused kernels;
 * TORCH composes every term from LibTorch ops. Both include the alignment (projections, trilinear resampling)
 * and the Structure Discrepancy Branch, which are the same LibTorch code in both, so the ratio shows what the
 * fused losses are worth inside the whole objective. Trap avoided: the SDB is seeded identically for both
 * backends, and each call runs in its own PointerScope and zeroes the student's gradients.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"})
@State(Scope.Benchmark)
public class ObjectiveBenchmark {

    @Param({"FUSED_CPU", "TORCH"})
    public KernelBackend backend;

    @Param({"16"})
    public long batch;

    @Param({"2"})
    public int threads;

    private DistillationObjective objective;
    private Tensor logits;
    private Tensor map;
    private Tensor emb;
    private List<TeacherOutputs> teachers;
    private Tensor labels;

    private static Tensor keep(Tensor t) {
        return t.retainReference();
    }

    @Setup(Level.Trial)
    public void setUp() {
        TorchRuntime.init();
        torch.set_num_threads(threads);
        torch.manual_seed(5);
        objective = DistillationObjective.builder().backend(backend).studentChannels(192).vitChannels(768)
                .cnnChannels(192).build();
        try (PointerScope scope = new PointerScope()) {
            logits = keep(torch.randn(batch, 400).mul(new Scalar(3.0)).requires_grad_(true));
            map = keep(torch.randn(batch, 192, 13, 5, 5).requires_grad_(true));
            emb = keep(torch.randn(batch, 2048).requires_grad_(true));
            teachers = List.of(
                    new TeacherOutputs(keep(torch.randn(batch, 400).mul(new Scalar(4.0))),
                            keep(torch.randn(batch, 768, 8, 7, 7)), keep(torch.randn(batch, 768))),
                    new TeacherOutputs(keep(torch.randn(batch, 400).mul(new Scalar(3.0))),
                            keep(torch.randn(batch, 192, 16, 7, 7)), null));
            labels = keep(torch.randint(400, new long[] {batch}));
        }
    }

    @Benchmark
    public double forwardBackward() {
        try (PointerScope scope = new PointerScope()) {
            for (Tensor t : new Tensor[] {logits, map, emb}) {
                t.mutable_grad().reset();
            }
            try (ObjectiveResult r = objective.compute(new StudentOutputs(logits, map, emb), teachers, labels)) {
                r.loss().backward();
                return r.loss().item_double();
            }
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        objective.close();
    }
}
