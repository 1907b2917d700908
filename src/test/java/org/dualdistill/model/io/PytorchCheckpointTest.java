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

/** torch.save checkpoints through our restricted reader (plain dicts and OrderedDicts), and the refusal of non-checkpoints. */
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
    void orderedDictCheckpointsLoadLikeTheSafetensorsFile() throws Exception {
        try (X3d a = SafeTensorsTest.tiny(); X3d b = SafeTensorsTest.tiny(); PointerScope scope = new PointerScope();
             NoGradGuard g = new NoGradGuard()) {
            PytorchCheckpoint.loadInto(a.module(), SafeTensorsTest.fixture("x3d_tiny_ordereddict.pth"), SafeTensors.Mode.STRICT, null);
            SafeTensors.loadInto(b.module(), SafeTensorsTest.fixture("x3d_tiny.safetensors"), SafeTensors.Mode.STRICT, null);
            a.module().eval();
            b.module().eval();
            Tensor x = TestTensors.randn(4, 1.0, 2 * 3 * 4, 32 * 32).view(2, 3, 4, 32, 32);
            assertArrayEquals(TestTensors.toFloats(b.forward(x).logits()), TestTensors.toFloats(a.forward(x).logits()));
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
