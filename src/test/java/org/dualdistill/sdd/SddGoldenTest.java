package org.dualdistill.sdd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.dualdistill.TestTensors;
import org.dualdistill.kernels.KernelBackend;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Golden values made independently of the Java code: src/test/resources/golden/sdd_golden.json was written by
 * {@code native/dev/sdd_ref.py golden} (Debian's python3-torch 1.13: F.normalize, F.mse_loss and autograd in
 * float64). Both Java backends must reproduce the loss and dL/drHat; the cases cover ranks 3 to 5, D = 1, D > 32,
 * zero and below-eps positions, a large eps, and a == b.
 */
class SddGoldenTest {
    static final double TOL = 1e-5;

    @ParameterizedTest
    @EnumSource(value = KernelBackend.class, names = {"FUSED_CPU", "TORCH"})
    void matchesIndependentReference(KernelBackend backend) throws IOException {
        JsonNode root;
        try (InputStream in = getClass().getResourceAsStream("/golden/sdd_golden.json")) {
            root = new ObjectMapper().readTree(in);
        }
        int n = 0;
        for (JsonNode c : root.get("cases")) {
            long[] shape = new long[c.get("shape").size()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = c.get("shape").get(i).asLong();
            }
            SddLoss loss = SddLoss.builder().backend(backend).eps(c.get("eps").asDouble()).build();
            String at = "case " + n + " " + c.get("shape") + " on " + backend;
            try (PointerScope scope = new PointerScope()) {
                Tensor rh = TestTensors.floats(floats(c.get("r_hat")), shape).requires_grad_(true);
                Tensor a = TestTensors.floats(floats(c.get("a")), shape);
                Tensor b = TestTensors.floats(floats(c.get("b")), shape);
                try (SddResult r = loss.compute(rh, a, b)) {
                    assertEquals(backend, r.backend());
                    r.loss().backward();
                    double expected = c.get("loss").asDouble();
                    assertTrue(Math.abs(expected - r.lossValue()) <= TOL * Math.max(1, Math.abs(expected)),
                            at + " loss: expected " + expected + ", got " + r.lossValue());
                    float[] want = floats(c.get("grad"));
                    float[] got = TestTensors.toFloats(rh.grad());
                    assertEquals(want.length, got.length, at + " grad length");
                    double d = TestTensors.maxAbsDiff(want, got);
                    assertTrue(d <= TOL * TestTensors.maxAbs(want), at + " grad: max |diff| " + d);
                }
            }
            n++;
        }
        assertEquals(8, n, "golden case count");
    }

    static float[] floats(JsonNode a) {
        float[] out = new float[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) a.get(i).asDouble();
        }
        return out;
    }
}
