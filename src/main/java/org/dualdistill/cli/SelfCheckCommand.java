package org.dualdistill.cli;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.concurrent.Callable;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.datw.DatwLoss;
import org.dualdistill.internal.FloatArrays;
import org.dualdistill.internal.torch.TensorBridge;
import org.dualdistill.datw.DatwResult;
import org.dualdistill.kernels.KernelBackend;
import org.dualdistill.kernels.Kernels;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Loads the native library, reports what is available, and computes a DATW loss and its gradient on random
 * logits with every available backend, printing their agreement with the LibTorch composite and their timing.
 * Exits 1 if a fused backend disagrees with TORCH by more than the tolerance.
 */
@Command(name = "self-check", aliases = "selfcheck", mixinStandardHelpOptions = true,
        description = "Check the native kernels against LibTorch and time them (the default job for now).")
final class SelfCheckCommand implements Callable<Integer> {
    @Option(names = "--batch", description = "batch size B (default ${DEFAULT-VALUE})")
    long batch = 64;
    @Option(names = "--classes", description = "classes C (default ${DEFAULT-VALUE})")
    long classes = 400;
    @Option(names = "--teachers", description = "teachers K (default ${DEFAULT-VALUE})")
    int teachers = 2;
    @Option(names = "--iterations", description = "timed forward+backward calls per backend (default ${DEFAULT-VALUE})")
    int iterations = 200;
    @Option(names = "--tolerance", description = "max relative disagreement with TORCH (default ${DEFAULT-VALUE})")
    double tolerance = 1e-5;

    @Override
    public Integer call() {
        if (batch < 1 || classes < 2 || teachers < 1 || teachers > 8 || iterations < 1) {
            System.err.println("self-check: need --batch >= 1, --classes >= 2, 1 <= --teachers <= 8, --iterations >= 1");
            return 2;
        }
        Kernels.Availability a = Kernels.available();
        System.out.println("dualdistill self-check");
        System.out.printf(Locale.ROOT, "  java        %s (%s)%n", Runtime.version(), System.getProperty("java.home"));
        System.out.printf(Locale.ROOT, "  libtorch    %s via JavaCPP presets, %d intra-op threads%n", presetsVersion(), torch.get_num_threads());
        System.out.printf(Locale.ROOT, "  onednn      %s%n", org.dualdistill.internal.torch.TorchRuntime.oneDnnStatus());
        System.out.printf(Locale.ROOT, "  malloc      %s%n", org.dualdistill.internal.torch.TorchRuntime.mallocStatus());
        var openBlas = org.dualdistill.internal.torch.TorchRuntime.openBlasThreads();
        System.out.printf(Locale.ROOT, "  openblas    %s%n", openBlas.isEmpty() ? "none loaded" : "threads per loaded build " + openBlas);
        System.out.printf(Locale.ROOT, "  cpu kernels %s%s%n", a.cpu() ? "yes" : "no", a.cpu()
                ? " (abi " + a.abiVersion() + ", " + a.libraryPath() + ")" : ": " + a.cpuReason());
        System.out.printf(Locale.ROOT, "  cuda        %s%s%n", a.cuda() ? "yes" : "no", a.cuda()
                ? " (" + a.cudaDevices() + " devices)" : ": " + a.cudaReason());

        List<KernelBackend> backends = new ArrayList<>(List.of(KernelBackend.TORCH));
        if (a.cpu()) {
            backends.add(KernelBackend.FUSED_CPU);
        }
        System.out.printf(Locale.ROOT, "DATW + KD + CE, forward and backward, B=%d C=%d K=%d, float32, CPU:%n", batch, classes, teachers);
        System.out.printf(Locale.ROOT, "  %-10s %14s %12s %12s %12s %12s%n", "backend", "loss", "|dloss|", "|dgrad|", "|dweights|", "us/call");
        boolean ok = true;
        Run ref = null;
        for (KernelBackend be : backends) {
            Run r = measure(be);
            String dl = "-";
            String dg = "-";
            String dw = "-";
            if (ref != null) {
                double l = Math.abs(r.loss - ref.loss) / Math.max(1, Math.abs(ref.loss));
                double g = FloatArrays.maxAbsDiff(r.grad, ref.grad) / Math.max(1e-3, FloatArrays.maxAbs(ref.grad));
                double w = FloatArrays.maxAbsDiff(r.weights, ref.weights);
                ok &= l <= tolerance && g <= tolerance && w <= tolerance;
                dl = String.format(Locale.ROOT, "%.1e", l);
                dg = String.format(Locale.ROOT, "%.1e", g);
                dw = String.format(Locale.ROOT, "%.1e", w);
            }
            System.out.printf(Locale.ROOT, "  %-10s %14.6f %12s %12s %12s %12.1f%s%n", be, r.loss, dl, dg, dw, r.micros,
                    ref == null ? "" : String.format(Locale.ROOT, "  (%.1fx TORCH)", ref.micros / r.micros));
            if (ref == null) {
                ref = r;
            }
        }
        if (!a.cpu()) {
            System.out.println("  fused CPU kernels unavailable: only the LibTorch composite ran");
        }
        System.out.println(ok ? "self-check passed" : "self-check FAILED: a fused backend disagrees with TORCH beyond " + tolerance);
        return ok ? 0 : 1;
    }

    private record Run(double loss, float[] grad, float[] weights, double micros) {
    }

    private Run measure(KernelBackend be) {
        DatwLoss loss = DatwLoss.builder().backend(be).build();
        try (PointerScope outer = new PointerScope()) {
            torch.manual_seed(42);
            Tensor s0 = torch.randn(batch, classes).mul(new Scalar(3.0));
            List<Tensor> ts = new ArrayList<>();
            for (int k = 0; k < teachers; k++) {
                ts.add(torch.randn(batch, classes).mul(new Scalar(3.0 * (k + 1))));
            }
            Tensor y = torch.randint(classes, new long[] {batch});
            double value;
            float[] grad;
            float[] weights;
            try (PointerScope scope = new PointerScope()) {
                Tensor s = s0.detach().clone().requires_grad_(true);
                try (DatwResult r = loss.compute(s, ts, y)) {
                    r.loss().backward();
                    value = r.lossValue();
                    grad = TensorBridge.toFloats(s.grad());
                    weights = TensorBridge.toFloats(r.weights());
                }
            }
            int warm = Math.max(100, iterations); // let the JIT and the allocator settle: JMH gives the measured ratios
            long[] times = new long[iterations];
            for (int i = -warm; i < iterations; i++) {
                try (PointerScope scope = new PointerScope()) {
                    long t0 = System.nanoTime();
                    Tensor s = s0.detach().requires_grad_(true);
                    try (DatwResult r = loss.compute(s, ts, y)) {
                        r.loss().backward();
                    }
                    if (i >= 0) {
                        times[i] = System.nanoTime() - t0;
                    }
                }
            }
            Arrays.sort(times);
            return new Run(value, grad, weights, times[iterations / 2] / 1e3);
        }
    }

    private static String presetsVersion() {
        try (InputStream in = torch.class.getResourceAsStream("/META-INF/maven/org.bytedeco/pytorch/pom.properties")) {
            if (in == null) {
                return "unknown";
            }
            Properties p = new Properties();
            p.load(in);
            return p.getProperty("version", "unknown");
        } catch (IOException e) {
            return "unknown";
        }
    }
}
