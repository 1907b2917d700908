package org.dualdistill.benchmarks;

import java.util.concurrent.TimeUnit;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.internal.torch.TorchRuntime;
import org.dualdistill.model.ModelOutput;
import org.dualdistill.model.x3d.X3d;
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
 * X3D-S on the CPU through LibTorch from Java: inference (eval, no grad) and one training step's forward +
 * backward (train mode, BN in training, gradients of all 3.8M parameters), at the preset geometry 13x160x160.
 *
 * What it measures: milliseconds per call at batch 1 and 8 (clips/s = batch * 1000 / score). Inputs are made once
 * per trial; each call runs inside its own PointerScope so activations are freed every iteration (without it
 * native memory grows without bound and the numbers drift). The backward variant also zeroes the gradients, as a
 * training loop would. depthwiseConvs times forward + backward of X3D-S's 26 depthwise 3x3x3 convolutions alone, at
 * the shapes they see in the step, backpropagating a fixed random upstream gradient (so no loss arithmetic is
 * counted; the input and weight gradients are both computed) (the known slow path of stock kernels, pytorch#37406), so its share of trainStep
 * can be read off -- see benchmarks/RESULTS.md.
 * depthwise = torch | fast selects X3d's depthwise route (DepthwiseMode.TORCH | FAST; any other mode by name), in the model and in
 * depthwiseConvs (26 conv_b layers; the stem's conv_xy is not included). FAST is the hand-written kernel
 * (dd_dwconv3d_cpu, forward and backward through graph hooks) in training and in eval.
 * Trap avoided: returning the logits' sum forces the whole graph to be computed.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"})
@State(Scope.Benchmark)
public class X3dBenchmark {

    /** Clips per call. */
    @Param({"1", "8"})
    public int batch;

    /** LibTorch intra-op threads. */
    @Param({"2"})
    public int threads;

    /** Depthwise route: torch = LibTorch's conv3d (today's path, what PyTorch 2.10 eager runs), fast = X3d's own;
     * any other DepthwiseMode by name (torch_channels_last, decomposed) runs that measured candidate. */
    @Param({"torch", "fast"})
    public String depthwise;

    private X3d model;
    private Tensor clip;
    private java.util.List<org.bytedeco.pytorch.Conv3dImpl> depthwiseLayers;
    private java.util.List<Tensor> depthwiseInputs;
    private java.util.List<Long> strides;
    private java.util.List<Tensor> depthwiseGrads;
    private org.dualdistill.model.x3d.DepthwiseMode route;

    @Setup(Level.Trial)
    public void setUp() {
        TorchRuntime.init();
        TorchRuntime.setThreads(threads);
        route = org.dualdistill.model.x3d.DepthwiseMode.valueOf(depthwise.toUpperCase(java.util.Locale.ROOT));
        model = X3d.builder().preset(X3d.Preset.S).numClasses(400).depthwise(route).build();
        try (PointerScope scope = new PointerScope()) {
            torch.manual_seed(1);
            clip = torch.randn(batch, 3, 13, 160, 160).mul(new Scalar(0.5)).retainReference();
        }
        // X3D-S conv_b: (inner channels, first block input H = W, stride, blocks) per stage at 13x160x160
        long[][] stages = {{54, 80, 2, 3}, {108, 40, 2, 5}, {216, 20, 2, 11}, {432, 10, 2, 7}};
        depthwiseLayers = new java.util.ArrayList<>();
        depthwiseInputs = new java.util.ArrayList<>();
        strides = new java.util.ArrayList<>();
        depthwiseGrads = new java.util.ArrayList<>();
        for (long[] st : stages) {
            for (int i = 0; i < st[3]; i++) {
                long stride = i == 0 ? st[2] : 1;
                long size = i == 0 ? st[1] : (st[1] + 1) / 2;
                strides.add(stride);
                depthwiseLayers.add(org.dualdistill.model.Layers.conv3d(st[0], st[0], new long[] {3, 3, 3},
                        new long[] {1, stride, stride}, new long[] {1, 1, 1}, st[0], false));
                try (PointerScope scope = new PointerScope()) {
                    depthwiseInputs.add(torch.randn(batch, st[0], 13, size, size).requires_grad_(true).retainReference());
                    long out = (size - 1) / stride + 1;
                    depthwiseGrads.add(torch.randn(batch, st[0], 13, out, out).retainReference());
                }
            }
        }
    }

    @Benchmark
    public double inference() {
        model.module().eval();
        try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            ModelOutput out = model.forward(clip);
            return out.logits().sum().item_double();
        }
    }

    @Benchmark
    public double trainStep() {
        model.module().train(true);
        try (PointerScope scope = new PointerScope()) {
            model.module().zero_grad(true);
            ModelOutput out = model.forward(clip);
            Tensor loss = out.logits().mul(out.logits()).mean();
            loss.backward();
            return loss.item_double();
        }
    }

    @Benchmark
    public double depthwiseConvs() {
        double acc = 0;
        try (PointerScope scope = new PointerScope()) {
            for (int i = 0; i < depthwiseLayers.size(); i++) {
                Tensor x = depthwiseInputs.get(i);
                x.mutable_grad().reset(); // as zero_grad(set_to_none): autograd stores the new gradient, no accumulation
                org.bytedeco.pytorch.Conv3dImpl conv = depthwiseLayers.get(i);
                Tensor y = route == org.dualdistill.model.x3d.DepthwiseMode.TORCH ? conv.forward(x)
                        : org.dualdistill.model.x3d.DepthwiseConv3d.forward(x, conv.weight(), strides.get(i), 1, 1, route);
                y.backward(depthwiseGrads.get(i), new org.bytedeco.pytorch.BoolOptional(), false,
                        new org.bytedeco.pytorch.TensorArrayRefOptional());
                acc += conv.weight().grad().defined() ? 1 : 0;
            }
            for (org.bytedeco.pytorch.Conv3dImpl conv : depthwiseLayers) {
                conv.weight().mutable_grad().reset();
            }
        }
        return acc;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        clip.close();
        model.close();
    }
}
