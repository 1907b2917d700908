package org.dualdistill.rkd;

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
 * Golden values made independently of the Java code: src/test/resources/golden/rkd_golden.json was written by
 * {@code /usr/bin/python3 native/dev/rkd_ref.py golden src/test/resources/golden/rkd_golden.json} (Debian's
 * python3-torch, float64 autograd through the naive B x B x D differences). Small odd shapes, B = 2 and 3, other
 * weights, an active eps floor, identical, zero and coincident rows. Both Java backends must reproduce L, L_D, L_A
 * and dL/de_s.
 */
class RkdGoldenTest {
    static final double TOL = 1e-5;

    @ParameterizedTest
    @EnumSource(value = KernelBackend.class, names = {"FUSED_CPU", "TORCH"})
    void matchesIndependentReference(KernelBackend backend) throws IOException {
        JsonNode root;
        try (InputStream in = getClass().getResourceAsStream("/golden/rkd_golden.json")) {
            root = new ObjectMapper().readTree(in);
        }
        int n = 0;
        for (JsonNode c : root.get("cases")) {
            RkdLoss loss = RkdLoss.builder().backend(backend).distanceWeight(c.get("distance_weight").asDouble())
                    .angleWeight(c.get("angle_weight").asDouble()).eps(c.get("eps").asDouble()).build();
            int b = c.get("B").asInt();
            String at = "case " + n + " (B=" + b + " Ds=" + c.get("Ds").asInt() + " Dt=" + c.get("Dt").asInt() + " "
                    + c.get("note").asText() + ") on " + backend;
            try (PointerScope scope = new PointerScope()) {
                Tensor s = TestTensors.floats(floats(c.get("student")), b, c.get("Ds").asInt()).requires_grad_(true);
                Tensor t = TestTensors.floats(floats(c.get("teacher")), b, c.get("Dt").asInt());
                try (RkdResult r = loss.compute(s, t)) {
                    assertEquals(backend, r.backend());
                    r.loss().backward();
                    close(at + " loss", c.get("loss").asDouble(), r.lossValue());
                    close(at + " loss tensor", c.get("loss").asDouble(), r.loss().item_double());
                    close(at + " distance", c.get("distance").asDouble(), r.distanceValue());
                    close(at + " angle", c.get("angle").asDouble(), r.angleValue());
                    float[] expected = floats(c.get("grad"));
                    float[] actual = TestTensors.toFloats(s.grad());
                    assertEquals(expected.length, actual.length, at + " grad length");
                    double scale = Math.max(TestTensors.maxAbs(expected), 1e-6);
                    double d = TestTensors.maxAbsDiff(expected, actual);
                    assertTrue(d <= TOL * scale, at + " grad: max |diff| " + d + " (scale " + scale + ")");
                }
            }
            n++;
        }
        assertEquals(11, n, "golden case count");
    }

    static float[] floats(JsonNode a) {
        float[] out = new float[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) a.get(i).asDouble();
        }
        return out;
    }

    static void close(String what, double expected, double actual) {
        assertTrue(Math.abs(expected - actual) <= TOL * Math.max(1, Math.abs(expected)),
                what + ": expected " + expected + ", got " + actual);
    }
}
