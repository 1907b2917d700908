package org.dualdistill.benchmarks;

import java.util.concurrent.TimeUnit;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.internal.torch.TorchRuntime;
import org.dualdistill.kernels.KernelBackend;
import org.dualdistill.sdd.SddLoss;
import org.dualdistill.sdd.SddResult;
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
 * What this measures: one training step's worth of the SDD loss on the CPU, forward AND backward, as a training
 * loop sees it: SddLoss.compute(rHat, a, b) on float32 features [B, D, T, H, W] (rHat a leaf that requires grad, a
 * and b constant teacher projections), then result.loss().backward() into rHat, then reading the value and closing
 * the result. The two backends are compared on equal terms:
 *
 *   FUSED_CPU  one native call (Panama) computes L and dL/drHat, reading rHat, a and b once each; autograd only
 *              routes dL/drHat to rHat through the dot-product surrogate;
 *   TORCH      normalize along channels, residual and mse_loss composed from LibTorch ops, differentiated by
 *              autograd (the eager baseline), including its default NaN/inf scan of the inputs.
 *
 * Default shape: X3D-S res5, [16, 192, 13, 5, 5] (a 16-clip batch; 1M elements per tensor, 4 MiB each, so the
 * working set sits in L3 on the project's VM rather than L1/L2).
 *
 * Traps avoided:
 *
 *   1. Unbounded native growth. Every JavaCPP temporary (Tensor handles, Scalars, options) is freed by the
 *      PointerScope around each call; without it native memory grows with every iteration and the numbers measure
 *      the allocator and the GC's reference processing, not the loss.
 *
 *   2. Accumulating gradients. backward() adds into rHat.grad(); kept across iterations, every call would pay an
 *      extra in-place add over 1M elements. The method drops the gradient first (set to none, as
 *      optimizer.zero_grad(set_to_none=True) does), inside the measured method rather than in a Level.Invocation
 *      setup, which JMH's Level javadoc warns against for calls this short.
 *
 *   3. Unequal thread counts. LibTorch's intra-op pool and the kernel's OpenMP team are both set from @Param
 *      threads (default 2, this project's CPU machines), so the comparison says something about the code and not
 *      about who grabbed more cores.
 *
 *   4. Dead-code elimination: the method returns the loss value.
 *
 * Inputs are built once per trial (@Setup(Level.Trial)) from a fixed seed, retained past their creating scope and
 * closed in @TearDown(Level.Trial). The first call of each trial checks that the requested backend is the one that
 * ran (no silent fallback to TORCH). setUp calls TorchRuntime.init() first (see DatwLossBenchmark: a fresh JavaCPP
 * cache next to a system LibTorch can otherwise crash the fork).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"})
@State(Scope.Benchmark)
public class SddLossBenchmark {

    /** Which implementation computes the loss; AUTO is left out so a missing kernel cannot hide as TORCH. */
    @Param({"FUSED_CPU", "TORCH"})
    public KernelBackend backend;

    /** "BxDxTxHxW"; the default is X3D-S res5 with a batch of 16. */
    @Param({"16x192x13x5x5"})
    public String shape;

    /** LibTorch intra-op threads and fused-kernel OpenMP threads, the same for both backends. */
    @Param({"2"})
    public int threads;

    private SddLoss loss;
    private Tensor rHat;
    private Tensor a;
    private Tensor b;

    @Setup(Level.Trial)
    public void setUp() {
        TorchRuntime.init();
        String[] parts = shape.split("x");
        if (parts.length < 3) {
            throw new IllegalArgumentException("shape: expected BxDxP... with at least 3 sizes, got " + shape);
        }
        long[] dims = new long[parts.length];
        for (int i = 0; i < dims.length; i++) {
            dims[i] = Long.parseLong(parts[i]);
        }
        torch.set_num_threads(threads);
        loss = SddLoss.builder().backend(backend).numThreads(threads).build();
        try (PointerScope scope = new PointerScope()) {
            torch.manual_seed(20261127L);
            rHat = torch.randn(dims).mul(new Scalar(0.5));
            rHat.requires_grad_(true);
            rHat.retainReference();
            a = torch.randn(dims).retainReference();
            b = torch.randn(dims).mul(new Scalar(3.0)).retainReference();
        }
        try (PointerScope scope = new PointerScope(); SddResult r = loss.compute(rHat, a, b)) {
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
            for (Tensor t : new Tensor[] {rHat, a, b}) {
                if (t != null) {
                    t.close();
                }
            }
        }
        rHat = null;
        a = null;
        b = null;
    }

    @Benchmark
    public double forwardBackward() {
        try (PointerScope scope = new PointerScope()) {
            // set_to_none: the previous iteration's gradient must not be accumulated into (trap 2)
            rHat.mutable_grad().reset();
            try (SddResult r = loss.compute(rHat, a, b)) {
                r.loss().backward();
                return r.lossValue();
            }
        }
    }
}
