package org.dualdistill.model.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.dualdistill.TestTensors;
import org.dualdistill.model.x3d.X3d;
import org.junit.jupiter.api.Test;

/** torch.save checkpoints through LibTorch's unpickler, and the clear refusal of what it cannot read. */
class PytorchCheckpointTest {

    @Test
    void pthUnderModelStateLoadsLikeTheSafetensorsFile() throws Exception {
        try (X3d a = SafeTensorsTest.tiny(); X3d b = SafeTensorsTest.tiny(); PointerScope scope = new PointerScope();
             NoGradGuard g = new NoGradGuard()) {
            PytorchCheckpoint.loadInto(a.module(), SafeTensorsTest.fixture("x3d_tiny.pth"), SafeTensors.Mode.STRICT, null);
            SafeTensors.loadInto(b.module(), SafeTensorsTest.fixture("x3d_tiny.safetensors"), SafeTensors.Mode.STRICT, null);
            a.module().eval();
            b.module().eval();
            Tensor x = TestTensors.randn(3, 1.0, 2 * 3 * 4, 32 * 32).view(2, 3, 4, 32, 32);
            assertArrayEquals(TestTensors.toFloats(b.forward(x).logits()), TestTensors.toFloats(a.forward(x).logits()));
        }
    }

    @Test
    void orderedDictCheckpointsExplainTheConversion() throws Exception {
        try (X3d a = SafeTensorsTest.tiny()) {
            Path f = SafeTensorsTest.fixture("x3d_tiny_ordereddict.pth");
            IOException e = assertThrows(IOException.class, () -> PytorchCheckpoint.loadInto(a.module(), f, SafeTensors.Mode.STRICT, null));
            assertTrue(e.getMessage().contains("x3d_tiny_ordereddict.pth") && e.getMessage().contains("OrderedDict")
                    && e.getMessage().contains("save_file"), e.getMessage());
        }
    }

    @Test
    void nonCheckpointsAreRejectedByName(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        try (X3d a = SafeTensorsTest.tiny()) {
            Path bad = dir.resolve("notes.pth");
            java.nio.file.Files.writeString(bad, "hello");
            IOException e = assertThrows(IOException.class, () -> PytorchCheckpoint.loadInto(a.module(), bad, SafeTensors.Mode.STRICT, null));
            assertTrue(e.getMessage().contains("notes.pth"), e.getMessage());
            assertThrows(IOException.class, () -> PytorchCheckpoint.loadInto(a.module(), dir.resolve("none.pth"), SafeTensors.Mode.STRICT, null));
        }
    }
}
