package org.dualdistill.datw;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.dualdistill.TestTensors;
import org.dualdistill.kernels.KernelBackend;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Golden values made independently of the Java code: src/test/resources/golden/datw_golden.json was written by
 * native/dev/datw_ref.py (Debian's python3-torch, float64 autograd from the textbook formulas). Both Java
 * backends must reproduce loss, breakdown, gradient, weights, confidence and discrepancy.
 */
class DatwGoldenTest {
    static final double TOL = 1e-5;

    @ParameterizedTest
    @EnumSource(value = KernelBackend.class, names = {"FUSED_CPU", "TORCH"})
    void matchesIndependentReference(KernelBackend backend) throws IOException {
        JsonNode root;
        try (InputStream in = getClass().getResourceAsStream("/golden/datw_golden.json")) {
            root = new ObjectMapper().readTree(in);
        }
        int n = 0;
        for (JsonNode c : root.get("cases")) {
            JsonNode m = c.get("mode");
            DatwLoss.Builder b = DatwLoss.builder().backend(backend)
                    .weighting(Weighting.valueOf(m.get("weighting").asText().toUpperCase()))
                    .labelSmoothing(c.get("label_smoothing").asDouble());
            if (m.has("score")) {
                b.scoreMode(ScoreMode.valueOf(m.get("score").asText().toUpperCase()));
            }
            if (m.has("norm")) {
                b.normalization(Normalization.valueOf(m.get("norm").asText().toUpperCase()));
            }
            int bs = c.get("B").asInt();
            int cl = c.get("C").asInt();
            String at = "case " + n + " " + m + " on " + backend;
            try (PointerScope scope = new PointerScope()) {
                Tensor s = TestTensors.floats(floats(c.get("student")), bs, cl).requires_grad_(true);
                List<Tensor> ts = new ArrayList<>();
                for (JsonNode t : c.get("teachers")) {
                    ts.add(TestTensors.floats(floats(t), bs, cl));
                }
                long[] y = new long[bs];
                for (int i = 0; i < bs; i++) {
                    y[i] = c.get("labels").get(i).asLong();
                }
                try (DatwResult r = b.build().compute(s, ts, TestTensors.longs(y, bs))) {
                    assertEquals(backend, r.backend());
                    r.loss().backward();
                    close(at + " loss", c.get("loss").asDouble(), r.lossValue());
                    close(at + " kd", c.get("kd").asDouble(), r.kdValue());
                    close(at + " ce", c.get("ce").asDouble(), r.ceValue());
                    closeAll(at + " grad", floats(c.get("grad")), TestTensors.toFloats(s.grad()));
                    closeAll(at + " weights", floats(c.get("weights")), TestTensors.toFloats(r.weights()));
                    closeAll(at + " confidence", floats(c.get("confidence")), TestTensors.toFloats(r.confidence()));
                    closeAll(at + " discrepancy", floats(c.get("discrepancy")), TestTensors.toFloats(r.discrepancy()));
                }
            }
            n++;
        }
        assertEquals(9, n, "golden case count");
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

    static void closeAll(String what, float[] expected, float[] actual) {
        assertEquals(expected.length, actual.length, what + " length");
        double scale = Math.max(TestTensors.maxAbs(expected), 1e-3);
        double d = TestTensors.maxAbsDiff(expected, actual);
        assertTrue(d <= TOL * Math.max(1, scale), what + ": max |diff| " + d);
    }
}
