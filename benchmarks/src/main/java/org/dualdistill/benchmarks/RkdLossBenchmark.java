package org.dualdistill.benchmarks;

import java.util.concurrent.TimeUnit;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.internal.torch.TorchRuntime;
import org.dualdistill.kernels.KernelBackend;
import org.dualdistill.rkd.RkdLoss;
import org.dualdistill.rkd.RkdResult;
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
 * What this measures: one training step's worth of the RKD loss (distance + angle, Park et al. 2019) on the CPU,
 * forward AND backward, as a training loop sees it: RkdLoss.compute(studentEmbeddings, teacherEmbeddings) on float32
 * embeddings [B, Ds] and [B, Dt], then result.loss().backward() into a leaf student tensor, then closing the result.
 * The two backends are compared on equal terms:
 *
 *   FUSED_CPU  one native call (Panama) computes L and dL/de_s from the B x B squared-distance matrices
 *              (O(B^2 D + B^3)); autograd only routes dL/de_s to the student;
 *   TORCH      the naive composite: B x B x D differences, B x B x B cosines by a batched matrix product
 *              (O(B^3 D)), differentiated by autograd (the eager baseline).
 *
 * Traps avoided (the same as DatwLossBenchmark's; see there for the long form):
 *
 *   1. Unbounded native growth: every JavaCPP temporary is freed by the PointerScope around each call.
 *
 *   2. Accumulating gradients: the method drops the student's gradient first (set_to_none), so both backends hand
 *      autograd a fresh buffer instead of adding into a growing one.
 *
 *   3. Unequal thread counts: LibTorch's intra-op pool and the kernel's OpenMP team both come from @Param threads
 *      (default 2). On a machine where other processes keep a core busy, 2-thread numbers of either side can jump
 *      (OpenMP spin-waiting); compare with -p threads=1 there.
 *
 *   4. Dead code: the method returns the loss value (a scalar read both backends pay alike).
 *
 * Inputs are built once per trial from a fixed seed, retained past their creating scope and closed in @TearDown.
 * The first call of each trial checks that the requested backend is the one that ran (no silent fallback to TORCH)
 * and that the loss is finite. setUp calls TorchRuntime.init() before any LibTorch class loads (the JavaCPP cache
 * trap described in DatwLossBenchmark).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"})
@State(Scope.Benchmark)
public class RkdLossBenchmark {

    /** Which implementation computes the loss; AUTO is left out so a missing kernel cannot hide as TORCH. */
    @Param({"FUSED_CPU", "TORCH"})
    public KernelBackend backend;

    /** "BxDsxDt": batch, student and teacher embedding widths (768 = the MViTv2-S token width). */
    @Param({"64x768x768"})
    public String shape;

    /** LibTorch intra-op threads and fused-kernel OpenMP threads, the same for both backends. */
    @Param({"2"})
    public int threads;

    private RkdLoss loss;
    private Tensor student;
    private Tensor teacher;

    @Setup(Level.Trial)
    public void setUp() {
        TorchRuntime.init();
        String[] dims = shape.split("x");
        if (dims.length != 3) {
            throw new IllegalArgumentException("shape: expected BxDsxDt such as 64x768x768, got " + shape);
        }
        long b = Long.parseLong(dims[0]);
        long ds = Long.parseLong(dims[1]);
        long dt = Long.parseLong(dims[2]);
        torch.set_num_threads(threads);
        loss = RkdLoss.builder().backend(backend).numThreads(threads).build();
        try (PointerScope scope = new PointerScope()) {
            torch.manual_seed(20261127L);
            student = torch.randn(b, ds);
            student.requires_grad_(true);
            student.retainReference();
            teacher = torch.randn(b, dt).retainReference();
        }
        try (PointerScope scope = new PointerScope(); RkdResult r = loss.compute(student, teacher)) {
            if (r.backend() != backend) {
                throw new IllegalStateException("asked for backend " + backend + " but " + r.backend() + " ran");
            }
            r.loss().backward();
            if (!Double.isFinite(r.lossValue())) {
                throw new IllegalStateException("loss is not finite: " + r.lossValue());
            }
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        try (PointerScope scope = new PointerScope()) {
            if (teacher != null) {
                teacher.close();
            }
            if (student != null) {
                student.close();
            }
        }
        teacher = null;
        student = null;
    }

    @Benchmark
    public double forwardBackward() {
        try (PointerScope scope = new PointerScope()) {
            // set_to_none: the previous iteration's gradient must not be accumulated into (trap 2)
            student.mutable_grad().reset();
            try (RkdResult r = loss.compute(student, teacher)) {
                r.loss().backward();
                return r.lossValue();
            }
        }
    }
}
