package org.dualdistill.internal.torch;

import java.util.Locale;

import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.LongArrayRef;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

/**
 * Checks once per process that LibTorch's oneDNN (MKL-DNN) convolution backward agrees with its native kernels, and
 * turns oneDNN off when it does not.
 *
 * <p>Why: on an AMD EPYC VM with AVX-512 (2026-12-04), LibTorch 2.10's oneDNN path returned a NaN input gradient for
 * a dense 5x7x7 Conv3d (3 -> 8 channels, stride (1, 2, 2)) and an input gradient off by 100% for a depthwise 3x3x3
 * Conv3d on a channels-last input, while the forward and the weight gradients were right; with
 * {@code setUserEnabledMkldnn(false)} both matched a float64 reference to 1e-7. The same build is right on the AVX2
 * CI machine. Silent wrong gradients are worse than slower ones, so: both probe convolutions (a few milliseconds) run
 * with oneDNN on and off; when their gradients differ by more than 1e-4 relative, or are not finite, oneDNN stays
 * off for the process and one warning says so.
 *
 * <p>System property {@code dualdistill.onednn}: {@code auto} (default, the check), {@code on} (keep oneDNN, no
 * check), {@code off} (always off).
 */
final class OneDnnCheck {
    static final String PROPERTY = "dualdistill.onednn";
    private static final double TOL = 1e-4;

    private OneDnnCheck() {
    }

    /** Runs the check (or applies the property); returns a one-line description of what it decided. */
    static String apply() {
        String mode = System.getProperty(PROPERTY, "auto").trim().toLowerCase(Locale.ROOT);
        switch (mode) {
            case "on":
                return "oneDNN kept (" + PROPERTY + "=on)";
            case "off":
                torch.globalContext().setUserEnabledMkldnn(false);
                return "oneDNN off (" + PROPERTY + "=off)";
            case "auto":
                break;
            default:
                throw new IllegalArgumentException(PROPERTY + ": expected auto, on or off, got '" + mode + "'");
        }
        if (!torch.hasMKLDNN() || !torch.globalContext().userEnabledMkldnn()) {
            return "oneDNN not in use";
        }
        String bad = disagreement();
        if (bad == null) {
            return "oneDNN convolution backward checked: agrees";
        }
        torch.globalContext().setUserEnabledMkldnn(false);
        String msg = "LibTorch's oneDNN convolution backward disagrees with its native kernels on this CPU (" + bad
                + "); oneDNN is turned off for this process (-D" + PROPERTY + "=on keeps it)";
        System.getLogger("org.dualdistill").log(System.Logger.Level.WARNING, msg);
        return msg;
    }

    /** @return null when both probes agree with oneDNN on and off, else which one differs and by how much */
    static String disagreement() {
        try (PointerScope scope = new PointerScope()) {
            // deterministic inputs without the global generator (callers' seeded streams stay untouched)
            Tensor dx = wave(0.37, 1, 3, 8, 16, 16);
            Tensor dw = wave(0.91, 8, 3, 5, 7, 7);
            Tensor dg = wave(0.53, 1, 8, 8, 8, 8);
            Tensor px = wave(0.29, 2, 6, 5, 9, 11).contiguous(torch.MemoryFormat.ChannelsLast3d);
            Tensor pw = wave(0.71, 6, 1, 3, 3, 3);
            Tensor pg = wave(0.43, 2, 6, 5, 5, 6);
            String a = compare("dense 5x7x7 conv3d", dx, dw, dg, new long[] {1, 2, 2}, new long[] {2, 3, 3}, 1);
            return a != null ? a : compare("channels-last depthwise 3x3x3 conv3d", px, pw, pg, new long[] {1, 2, 2},
                    new long[] {1, 1, 1}, 6);
        }
    }

    /** sin(f * i) over the elements' flat index i, in the given shape (float32). */
    private static Tensor wave(double f, long... shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return torch.arange(new org.bytedeco.pytorch.Scalar(n)).to(torch.ScalarType.Float).mul(new org.bytedeco.pytorch.Scalar(f))
                .sin().reshape(shape);
    }

    private static String compare(String what, Tensor x, Tensor w, Tensor g, long[] stride, long[] pad, long groups) {
        Tensor[] on = grads(x, w, g, stride, pad, groups);
        torch.globalContext().setUserEnabledMkldnn(false);
        Tensor[] off;
        try {
            off = grads(x, w, g, stride, pad, groups);
        } finally {
            torch.globalContext().setUserEnabledMkldnn(true);
        }
        String[] names = {"output", "input gradient", "weight gradient"};
        for (int i = 0; i < 3; i++) {
            double scale = off[i].abs().max().item_double();
            double diff = on[i].sub(off[i]).abs().max().item_double();
            if (!(diff <= TOL * Math.max(scale, 1e-30))) {
                return String.format(Locale.ROOT, "%s: %s max |diff| %s of max %.3g", what, names[i], diff, scale);
            }
        }
        return null;
    }

    /** @return the output, input gradient and weight gradient of conv3d(x, w) backpropagating g (dilation 1) */
    static Tensor[] grads(Tensor x0, Tensor w0, Tensor g, long[] stride, long[] pad, long groups) {
        Tensor x = x0.detach().requires_grad_(true);
        Tensor w = w0.detach().requires_grad_(true);
        Tensor y = torch.conv3d(x, w, new TensorOptional(), ref(stride), ref(pad), ref(1, 1, 1), groups);
        y.backward(g, new BoolOptional(), false, new TensorArrayRefOptional());
        return new Tensor[] {y.detach(), x.grad(), w.grad()};
    }

    private static LongArrayRef ref(long... v) {
        return new LongArrayRef(new LongPointer(v), v.length);
    }
}
