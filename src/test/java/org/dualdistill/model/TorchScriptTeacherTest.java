package org.dualdistill.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.dualdistill.TestTensors;
import org.dualdistill.internal.torch.TensorBridge;
import org.dualdistill.model.io.SafeTensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A module scripted by Debian's python3-torch (make_fixtures.py) runs as a frozen teacher with its own outputs. */
class TorchScriptTeacherTest {
    static Path fixture(String n) throws Exception {
        return Path.of(TorchScriptTeacherTest.class.getResource("/fixtures/" + n).toURI());
    }

    @Test
    void scriptedTeacherGivesPythonsOutputs() throws Exception {
        JsonNode ref = new ObjectMapper().readTree(Files.readString(fixture("teacher_tiny.json")));
        try (TorchScriptTeacher t = TorchScriptTeacher.load(fixture("teacher_tiny.pt")); PointerScope scope = new PointerScope()) {
            Map<String, Tensor> io = SafeTensors.readAll(fixture("x3d_tiny_io.safetensors"));
            Tensor x = io.get("input").requires_grad_(true);
            ModelOutput out = t.forward(x);
            float[] logits = TestTensors.toFloats(out.logits());
            for (int i = 0; i < logits.length; i++) {
                assertEquals(ref.get("logits").get(i).asDouble(), logits[i], 1e-5);
            }
            assertEquals(ref.get("embedding").size(), TestTensors.toFloats(out.embedding()).length);
            long[] fs = new long[ref.get("features_shape").size()];
            for (int i = 0; i < fs.length; i++) {
                fs[i] = ref.get("features_shape").get(i).asLong();
            }
            assertArrayEquals(fs, TensorBridge.shape(out.features()));
            assertFalse(out.logits().requires_grad(), "a teacher's outputs carry no graph");
        }
    }

    @Test
    void missingOrBadFilesAreNamed(@TempDir Path dir) throws IOException {
        IOException missing = assertThrows(IOException.class, () -> TorchScriptTeacher.load(dir.resolve("none.pt")));
        assertTrue(missing.getMessage().contains("none.pt"));
        Path bad = dir.resolve("bad.pt");
        Files.writeString(bad, "not a zip");
        IOException e = assertThrows(IOException.class, () -> TorchScriptTeacher.load(bad));
        assertTrue(e.getMessage().contains("bad.pt") && e.getMessage().contains("TorchScript"), e.getMessage());
    }

    @Test
    void wrongInputIsAnIllegalArgument() throws Exception {
        try (TorchScriptTeacher t = TorchScriptTeacher.load(fixture("teacher_tiny.pt")); PointerScope scope = new PointerScope()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> t.forward(TestTensors.randn(1, 1, 4, 4)));
            assertTrue(e.getMessage().contains("forward failed"), e.getMessage());
        }
    }
}
