package org.dualdistill.model.mvit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
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
 * The MViT forward and backward against an independent PyTorch implementation of PySlowFast's MViTv2
 * ({@code native/dev/mvit_ref.py}, written from the paper and PySlowFast's documented behaviour, not from this code).
 * The script draws random weights (larger than the init, so rel-pos tables, norm affines and pooling convolutions
 * all matter), stores them under PySlowFast's names in {@code fixtures/mvit_tiny.safetensors}, and stores the input,
 * its float64 outputs, every block's tokens and every parameter's gradient in {@code fixtures/mvit_tiny_io.safetensors}.
 * Regenerate with {@code /usr/bin/python3 native/dev/mvit_ref.py golden src/test/resources/fixtures}.
 *
 * <p>Model: depth 2, width 16 -> 32 and heads 1 -> 2 at block 1 (q stride (1,2,2), kv strides (1,8,8) then (1,4,4)),
 * 8x32x32 clips (a 4x8x8 token grid, 4x4x4 at the end), 4 classes.
 */
class MViTGoldenTest {
    /** float32 against the float64 reference: observed differences are up to ~4e-6 (features), ~1e-6 elsewhere */
    private static final double TOL = 1e-5;

    static Path fixture(String name) throws Exception {
        return Path.of(MViTGoldenTest.class.getResource("/fixtures/" + name).toURI());
    }

    static MViT tiny() {
        return new MViT(MViTConfig.builder().depth(2).embedDim(16).numHeads(1).stageStarts(1).numFrames(8).cropSize(32)
                .numClasses(4).dropPathRate(0).build());
    }

    static MViT loaded() throws Exception {
        MViT m = tiny();
        try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            SafeTensors.LoadReport r = SafeTensors.loadInto(m.module(), fixture("mvit_tiny.safetensors"),
                    SafeTensors.Mode.STRICT, null);
            assertTrue(r.missing().isEmpty() && r.unexpected().isEmpty(), r.toString());
        }
        m.module().train(false);
        return m;
    }

    static void assertClose(Tensor want, Tensor got, double tol, String what) {
        assertArrayEquals(TensorBridge.shape(want), TensorBridge.shape(got), what + " shape");
        float[] w = TestTensors.toFloats(want.contiguous());
        float[] g = TestTensors.toFloats(got.contiguous());
        double d = TestTensors.maxAbsDiff(w, g);
        assertTrue(d <= tol, what + ": max |java - reference| = " + d + " > " + tol + " (max |reference| "
                + TestTensors.maxAbs(w) + ")");
    }

    @Test
    void forwardMatchesIndependentReference() throws Exception {
        try (MViT m = loaded(); PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            Map<String, Tensor> io = SafeTensors.readAll(fixture("mvit_tiny_io.safetensors"));
            ModelOutput out = m.forward(io.get("input"));
            assertClose(io.get("logits"), out.logits(), TOL, "logits");
            assertClose(io.get("embedding"), out.embedding(), TOL, "embedding (normalized cls token)");
            assertClose(io.get("features"), out.features(), TOL, "features (normalized last-stage tokens)");
        }
    }

    @Test
    void gradientsMatchIndependentReference() throws Exception {
        try (MViT m = loaded(); PointerScope scope = new PointerScope()) {
            Map<String, Tensor> io = SafeTensors.readAll(fixture("mvit_tiny_io.safetensors"));
            ModelOutput out = m.forward(io.get("input"));
            Tensor loss = torch.cross_entropy_loss(out.logits(), io.get("labels"))
                    .add(out.features().pow(new Scalar(2.0)).mean());
            assertEquals(io.get("loss").item_double(), loss.item_double(), TOL, "loss");
            loss.backward();
            StringTensorDict params = m.module().named_parameters();
            int checked = 0;
            for (long i = 0; i < params.size(); i++) {
                String name = params.get(i).key().getString();
                Tensor want = io.get("grad." + name);
                assertTrue(want != null, "no reference gradient for " + name);
                Tensor grad = params.get(i).value().grad();
                assertTrue(grad.defined(), "no gradient reached " + name);
                assertClose(want, grad, TOL, "grad of " + name);
                checked++;
            }
            assertEquals(io.keySet().stream().filter(k -> k.startsWith("grad.")).count(), checked,
                    "every reference gradient has a parameter");
        }
    }
}
