package org.dualdistill.model.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.dualdistill.TestTensors;
import org.dualdistill.model.ModelOutput;
import org.dualdistill.model.x3d.X3d;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * safetensors against files written by an independent implementation: make_fixtures.py builds a reduced X3D in
 * Python from pytorchvideo's structure, saves its state_dict with a safetensors writer of its own and records the
 * outputs on a fixed input; the Java X3D loaded from that file must give the same outputs.
 */
class SafeTensorsTest {
    static Path fixture(String name) throws URISyntaxException {
        return Path.of(SafeTensorsTest.class.getResource("/fixtures/" + name).toURI());
    }

    static X3d tiny() {
        return X3d.builder().widthFactor(0.5).depthFactor(1.0).headDimOut(128).numClasses(5).clipLength(4).crop(32).build();
    }

    @Test
    void javaX3dLoadedFromAPythonFileGivesPythonsOutputs() throws Exception {
        try (X3d m = tiny(); PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            SafeTensors.LoadReport r = SafeTensors.loadInto(m.module(), fixture("x3d_tiny.safetensors"), SafeTensors.Mode.STRICT, null);
            assertTrue(r.missing().isEmpty() && r.unexpected().isEmpty(), r.toString());
            Map<String, Tensor> io = SafeTensors.readAll(fixture("x3d_tiny_io.safetensors"));
            m.module().eval();
            ModelOutput out = m.forward(io.get("input"));
            float[] want = TestTensors.toFloats(io.get("logits"));
            float[] got = TestTensors.toFloats(out.logits());
            assertTrue(TestTensors.maxAbsDiff(want, got) < 1e-4 * Math.max(1, TestTensors.maxAbs(want)),
                    "logits differ by " + TestTensors.maxAbsDiff(want, got));
            float[] we = TestTensors.toFloats(io.get("embedding"));
            assertTrue(TestTensors.maxAbsDiff(we, TestTensors.toFloats(out.embedding())) < 1e-4 * Math.max(1, TestTensors.maxAbs(we)));
        }
    }

    @Test
    void saveLoadRoundTripIsBitExact(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("m.safetensors");
        try (X3d a = tiny(); X3d b = tiny(); PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            SafeTensors.save(a.module(), f, Map.of("arch", "x3d-tiny"));
            SafeTensors.loadInto(b.module(), f, SafeTensors.Mode.STRICT, null);
            a.module().eval();
            b.module().eval();
            Tensor x = TestTensors.randn(5, 1.0, 2 * 3 * 4, 32 * 32).view(2, 3, 4, 32, 32);
            assertArrayEquals(TestTensors.toFloats(a.forward(x).logits()), TestTensors.toFloats(b.forward(x).logits()));
            List<SafeTensors.Entry> h = SafeTensors.header(f);
            assertEquals(SafeTensors.header(fixture("x3d_tiny.safetensors")).size(), h.size(), "parameters and buffers");
        } catch (URISyntaxException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void strictAndNonStrictReportNamesAndShapes(@TempDir Path dir) throws Exception {
        try (X3d wide = X3d.builder().widthFactor(1.0).depthFactor(1.0).headDimOut(128).numClasses(5).build();
             X3d fewer = X3d.builder().widthFactor(0.5).depthFactor(1.0).headDimOut(128).numClasses(7).build();
             PointerScope scope = new PointerScope()) {
            WeightLoadException shapes = assertThrows(WeightLoadException.class,
                    () -> SafeTensors.loadInto(wide.module(), fixture("x3d_tiny.safetensors"), SafeTensors.Mode.NON_STRICT, null));
            assertTrue(shapes.getMessage().contains("wrong shape") && shapes.getMessage().contains("x3d_tiny.safetensors"),
                    shapes.getMessage());
            // a different head: strict fails naming the head; non-strict loads the rest after the head is renamed away
            WeightLoadException strict = assertThrows(WeightLoadException.class,
                    () -> SafeTensors.loadInto(fewer.module(), fixture("x3d_tiny.safetensors"), SafeTensors.Mode.STRICT, null));
            assertTrue(strict.getMessage().contains("blocks.5.proj.weight"), strict.getMessage());
            SafeTensors.LoadReport r = SafeTensors.loadInto(fewer.module(), fixture("x3d_tiny.safetensors"),
                    SafeTensors.Mode.NON_STRICT, n -> n.startsWith("blocks.5.proj") ? null : n);
            assertEquals(List.of("blocks.5.proj.bias", "blocks.5.proj.weight"), r.missing());
            assertTrue(r.unexpected().isEmpty());
        }
    }

    @Test
    void corruptFilesGiveClearErrors(@TempDir Path dir) throws Exception {
        byte[] good = Files.readAllBytes(fixture("x3d_tiny.safetensors"));
        Path truncated = dir.resolve("truncated.safetensors");
        Files.write(truncated, java.util.Arrays.copyOf(good, good.length / 2));
        IOException e1 = assertThrows(IOException.class, () -> SafeTensors.header(truncated));
        assertTrue(e1.getMessage().contains("truncated.safetensors") && e1.getMessage().contains("outside"), e1.getMessage());
        Path garbage = dir.resolve("garbage.safetensors");
        Files.write(garbage, new byte[] {1, 2, 3});
        IOException e2 = assertThrows(IOException.class, () -> SafeTensors.header(garbage));
        assertTrue(e2.getMessage().contains("not a safetensors file"), e2.getMessage());
        Path badJson = dir.resolve("json.safetensors");
        Files.write(badJson, new byte[] {4, 0, 0, 0, 0, 0, 0, 0, '{', 'x', 'y', 'z'});
        IOException e3 = assertThrows(IOException.class, () -> SafeTensors.header(badJson));
        assertTrue(e3.getMessage().contains("not valid JSON"), e3.getMessage());
        IOException e4 = assertThrows(IOException.class, () -> SafeTensors.header(dir.resolve("missing.safetensors")));
        assertTrue(e4.getMessage().contains("missing.safetensors"), e4.getMessage());
    }
}
