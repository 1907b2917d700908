package org.dualdistill.benchmarks;

import java.util.List;
import java.util.concurrent.TimeUnit;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.datw.DatwLoss;
import org.dualdistill.datw.DatwResult;
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
 * What this measures: one training step's worth of the DATW + KD + CE loss on the CPU, forward AND backward,
 * as a training loop sees it: DatwLoss.compute(student, teachers, labels) on float32 logits [B, C] with K frozen
 * teachers, then result.loss().backward() into a leaf student tensor, then closing the result. The two
 * backends are compared on equal terms:
 *
 *   FUSED_CPU  one native call (Panama) computes L and dL/ds; autograd only routes dL/ds to the student;
 *   TORCH      the same math composed from LibTorch ops, differentiated by autograd (the eager baseline).
 *
 * benchmarks/python/datw_eager.py times the same math in eager PyTorch at the same shapes for a third column.
 *
 * Traps avoided:
 *
 *   1. Unbounded native growth. Every JavaCPP temporary (Tensor handles, Scalars, options) is freed by the
 *      PointerScope around each call. Without it, native memory grows with every iteration and the numbers
 *      measure the allocator and the GC's reference processing, not the loss (measured on this project's machine:
 *      1.2 ms vs 29 us per iteration for a small op loop).
 *
 *   2. Accumulating gradients. backward() adds into student.grad(); kept across iterations, every call would
 *      pay an extra in-place add over [B, C] and the gradient would grow without bound. The method drops the
 *      gradient first (grad = undefined, i.e. optimizer.zero_grad(set_to_none=True), PyTorch's default and
 *      what the Python baseline does with `s.grad = None`), so both backends hand autograd a fresh gradient
 *      buffer. That is one cheap native call inside the measured method; a Level.Invocation setup instead would
 *      add JMH's per-call timestamping to a call this short, which JMH's own Level javadoc warns against.
 *
 *   3. Unequal thread counts. LibTorch's intra-op pool and the fused kernel's OpenMP team are both set from
 *      @Param threads (default 2, this project's CPU machines; the Python baseline uses
 *      torch.set_num_threads(2) too). Otherwise LibTorch takes every core while the kernel takes
 *      OpenMP's default, and the comparison says more about the machine than about the code.
 *      Override with -p threads=1 (and keep the Python side in step).
 *
 *   4. Dead-code elimination is not a risk for native calls, but the method still returns the loss value so
 *      nothing downstream can be skipped; reading it is a scalar item() that both backends pay alike.
 *
 * Inputs are built once per trial (@Setup(Level.Trial)) from a fixed seed, retained past their creating scope
 * and closed in @TearDown(Level.Trial). The first call of each trial checks that the requested backend is the
 * one that ran (no silent fallback to TORCH).
 *
 * Setup trap (not a measurement one): benchmarks.jar gets its own JavaCPP cache directory; on the run that fills
 * it, a system LibTorch (Debian's python3-torch) can be mapped next to the presets' one and crash the fork.
 * setUp calls the library's TorchRuntime.init(), which extracts the whole LibTorch folder before any loads.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"})
@State(Scope.Benchmark)
public class DatwLossBenchmark {

    /** Which implementation computes the loss; AUTO is left out so a missing kernel cannot hide as TORCH. */
    @Param({"FUSED_CPU", "TORCH"})
    public KernelBackend backend;

    /** "BxCxK": batch, classes, teachers. 400 = Kinetics-400, 51 = HMDB-51; K = 2 is the paper's case. */
    @Param({"64x400x2", "64x51x2", "256x400x2"})
    public String shape;

    /** LibTorch intra-op threads and fused-kernel OpenMP threads, the same for both backends. */
    @Param({"2"})
    public int threads;

    private DatwLoss loss;
    private Tensor student;
    private List<Tensor> teachers;
    private Tensor labels;

    @Setup(Level.Trial)
    public void setUp() {
        TorchRuntime.init();
        String[] dims = shape.split("x");
        if (dims.length != 3) {
            throw new IllegalArgumentException("shape: expected BxCxK such as 64x400x2, got " + shape);
        }
        long b = Long.parseLong(dims[0]);
        long c = Long.parseLong(dims[1]);
        int k = Integer.parseInt(dims[2]);
        if (k < 1) {
            throw new IllegalArgumentException("shape: expected K >= 1 teachers, got " + shape);
        }
        torch.set_num_threads(threads);
        loss = DatwLoss.builder().backend(backend).numThreads(threads).build();
        try (PointerScope scope = new PointerScope()) {
            torch.manual_seed(20261127L);
            // Logit scales as in DatwLossTest: teachers sharper than the student, and unlike each other.
            student = torch.randn(b, c).mul(new Scalar(3.0));
            student.requires_grad_(true);
            Tensor[] ts = new Tensor[k];
            for (int i = 0; i < k; i++) {
                ts[i] = torch.randn(b, c).mul(new Scalar(3.0 * (i + 1))).retainReference();
            }
            labels = torch.randint(c, new long[] {b}).retainReference();
            student.retainReference();
            teachers = List.of(ts);
        }
        try (PointerScope scope = new PointerScope(); DatwResult r = loss.compute(student, teachers, labels)) {
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
            if (teachers != null) {
                for (Tensor t : teachers) {
                    t.close();
                }
            }
            if (labels != null) {
                labels.close();
            }
            if (student != null) {
                student.close();
            }
        }
        teachers = null;
        labels = null;
        student = null;
    }

    @Benchmark
    public double forwardBackward() {
        try (PointerScope scope = new PointerScope()) {
            // set_to_none: the previous iteration's gradient must not be accumulated into (trap 2)
            student.mutable_grad().reset();
            try (DatwResult r = loss.compute(student, teachers, labels)) {
                r.loss().backward();
                return r.lossValue();
            }
        }
    }
}
