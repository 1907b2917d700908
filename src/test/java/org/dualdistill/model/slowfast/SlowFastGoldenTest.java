package org.dualdistill.model.slowfast;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.TestTensors;
import org.dualdistill.internal.torch.TensorBridge;
import org.dualdistill.model.ModelOutput;
import org.dualdistill.model.io.SafeTensors;
import org.junit.jupiter.api.Test;

/**
 * The SlowFast forward against an independent PyTorch implementation of pytorchvideo's {@code create_slowfast}
 * ({@code native/dev/slowfast_ref.py}, written from reading pytorchvideo, not from this code; its logits also agree
 * with pytorchvideo's own builder to 1.5e-8 when that package is importable). The script draws random weights and BN
 * statistics for a shrunk model (R50 block structure 3/4/6/3, width 8, beta 1/8, alpha 4, fusion (7,1,1) ratio 2,
 * built for 8x32, 5 classes) into {@code fixtures/slowfast_tiny.safetensors} under pytorchvideo's names, and its
 * input [2, 3, 8, 32, 64] (a 1x2 res5 map, so the head pool slides over two positions), float64 eval outputs, the
 * loss cross_entropy(logits, labels) + mean(features^2) with the gradients of the stems, fusions, each stage's first
 * conv_a and the head, and hook-counted MACs into {@code fixtures/slowfast_tiny_io.safetensors}.
 * Regenerate with {@code /usr/bin/python3 native/dev/slowfast_ref.py golden src/test/resources/fixtures}.
 */
class SlowFastGoldenTest {
    /** float32 against the float64 reference (outputs up to ~3): observed differences are up to ~1e-6 */
    private static final double TOL = 1e-5;

    static SlowFast tiny() {
        return SlowFast.builder().width(8).betaInv(8).alpha(4).numClasses(5).frames(8).crop(32).build();
    }

    static void assertClose(Tensor want, Tensor got, String what) {
        assertArrayEquals(TensorBridge.shape(want), TensorBridge.shape(got), what + " shape");
        float[] w = TestTensors.toFloats(want.contiguous());
        float[] g = TestTensors.toFloats(got.contiguous());
        double d = TestTensors.maxAbsDiff(w, g);
        assertTrue(d <= TOL, what + ": max |java - reference| = " + d + " > " + TOL + " (max |reference| "
                + TestTensors.maxAbs(w) + ")");
    }

    @Test
    void forwardMatchesIndependentReference() throws Exception {
        try (SlowFast m = tiny(); PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            SafeTensors.LoadReport r = SafeTensors.loadInto(m.module(), SlowFastTest.resource("fixtures/slowfast_tiny.safetensors"),
                    SafeTensors.Mode.STRICT, null);
            assertTrue(r.missing().isEmpty() && r.unexpected().isEmpty(), r.toString());
            m.module().train(false);
            Map<String, Tensor> io = SafeTensors.readAll(SlowFastTest.resource("fixtures/slowfast_tiny_io.safetensors"));
            SlowFast.Taps taps = m.forwardTaps(io.get("input"));
            assertClose(io.get("slow_res5"), taps.slowRes5(), "slow res5");
            assertClose(io.get("fast_res5"), taps.fastRes5(), "fast res5");
            assertClose(io.get("features"), taps.output().features(), "features (slow + time-pooled fast res5)");
            assertClose(io.get("embedding"), taps.output().embedding(), "embedding");
            assertClose(io.get("logits"), taps.output().logits(), "logits");
        }
    }

    @Test
    void gradientsMatchIndependentReference() throws Exception {
        try (SlowFast m = tiny(); PointerScope scope = new PointerScope()) {
            SafeTensors.loadInto(m.module(), SlowFastTest.resource("fixtures/slowfast_tiny.safetensors"), SafeTensors.Mode.STRICT, null);
            m.module().train(false); // running statistics and no dropout, as the reference
            Map<String, Tensor> io = SafeTensors.readAll(SlowFastTest.resource("fixtures/slowfast_tiny_io.safetensors"));
            ModelOutput out = m.forward(io.get("input"));
            Tensor loss = torch.cross_entropy_loss(out.logits(), io.get("labels"))
                    .add(out.features().pow(new Scalar(2.0)).mean());
            assertEquals(io.get("loss").item_double(), loss.item_double(), TOL, "loss");
            loss.backward();
            StringTensorDict params = m.module().named_parameters();
            int checked = 0;
            for (long i = 0; i < params.size(); i++) {
                String name = params.get(i).key().getString();
                Tensor grad = params.get(i).value().grad();
                assertTrue(grad.defined(), "no gradient reached " + name);
                Tensor want = io.get("grad." + name);
                if (want != null) {
                    assertClose(want, grad, "grad of " + name);
                    checked++;
                }
            }
            assertEquals(io.keySet().stream().filter(k -> k.startsWith("grad.")).count(), checked,
                    "every reference gradient has a parameter");
            assertTrue(checked >= 20, "checked " + checked);
        }
    }

    @Test
    void gmacsMatchTheHookCountOfTheReference() throws Exception {
        try (SlowFast m = tiny(); PointerScope scope = new PointerScope()) {
            Map<String, Tensor> io = SafeTensors.readAll(SlowFastTest.resource("fixtures/slowfast_tiny_io.safetensors"));
            long macs = io.get("macs_per_clip").item_long();
            assertEquals(macs / 1e9, m.config().gmacs(8, 32, 64), 1e-12, "conv + linear MACs of one [3, 8, 32, 64] clip");
        }
    }
}
