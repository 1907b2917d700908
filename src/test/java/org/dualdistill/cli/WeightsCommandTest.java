package org.dualdistill.cli;

import static org.dualdistill.testing.CliRun.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.bytedeco.javacpp.PointerScope;
import org.dualdistill.export.ModelCard;
import org.dualdistill.export.StudentExport;
import org.dualdistill.model.Pretrained;
import org.dualdistill.model.io.KeyMap;
import org.dualdistill.model.io.WeightReport;
import org.dualdistill.model.io.Weights;
import org.dualdistill.model.io.Zoo;
import org.dualdistill.model.x3d.X3d;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.dualdistill.testing.CliRun;
import org.dualdistill.testing.CliRun.Result;

/** {@code dualdistill weights inspect | convert | export-pytorch} on PyTorch-made fixtures. */
class WeightsCommandTest {

    static Path fixture(String name) throws Exception {
        return Path.of(WeightsCommandTest.class.getResource("/fixtures/" + name).toURI());
    }

    static X3d small(long classes) {
        return X3d.builder().widthFactor(0.5).depthFactor(0.4).headDimOut(32).numClasses(classes).clipLength(4).crop(32).build();
    }

    @Test
    void inspectListsNameDtypeShapeAndChecksum() throws Exception {
        Result r = run("weights", "inspect", fixture("checkpoints/basic_legacy.pt").toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("torch.save legacy") && r.out().contains("state dict under 'model_state'")
                && r.out().contains("epoch 7"), r.out());
        assertTrue(r.out().lines().anyMatch(l -> l.matches("bf16\\s+BF16\\s+\\[4]\\s+[0-9a-f]{16}")), r.out());
        assertTrue(r.out().contains("17 tensors"), r.out());
        // the same tensors in the zip file have the same checksums
        Result z = run("weights", "inspect", fixture("checkpoints/basic_zip.pt").toString());
        assertEquals(r.out().lines().skip(2).toList(), z.out().lines().skip(2).toList());
        Result bad = run("weights", "inspect", fixture("checkpoints/evil_system.pt").toString());
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("posix.system"), bad.err());
    }

    @Test
    void convertWritesOurNames(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("x3d.safetensors");
        Result r = run("weights", "convert", fixture("checkpoints/x3d_small_pyslowfast.pyth").toString(), "--arch", "x3d_s",
                "--from", "pyslowfast", "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        try (X3d a = small(5); X3d b = small(5); PointerScope s = new PointerScope()) {
            WeightReport ra = Weights.load(a.module(), out, KeyMap.IDENTITY, Weights.Mode.STRICT, Set.of());
            assertTrue(ra.clean());
            Pretrained.load(b, fixture("checkpoints/x3d_small_pyslowfast.pyth"), Zoo.PYSLOWFAST, Weights.Mode.STRICT);
            assertEquals(sums(b), sums(a));
        }
        Path tv = dir.resolve("mvit.safetensors");
        assertEquals(0, run("weights", "convert", fixture("checkpoints/mvit_tiny_torchvision.pth").toString(), "--arch", "mvit",
                "--from", "torchvision", "--out", tv.toString()).code());
        try (Weights.Source a = Weights.open(tv); Weights.Source b = Weights.open(fixture("mvit_tiny.safetensors"))) {
            assertEquals(b.tensors().keySet(), a.tensors().keySet());
            assertEquals(List.of(1L, 1L, 16L), java.util.Arrays.stream(a.tensors().get("cls_token").shape()).boxed().toList());
        }
        Result wrong = run("weights", "convert", fixture("checkpoints/x3d_small_pyslowfast.pyth").toString(), "--arch", "mvit",
                "--from", "torchvision", "--out", dir.resolve("no.safetensors").toString());
        assertEquals(2, wrong.code());
        assertTrue(wrong.err().contains("no mvit counterpart") && wrong.err().contains("s1.pathway0_stem"), wrong.err());
    }

    @Test
    void exportPytorchWritesTheStudentUnderPytorchvideoNames(@TempDir Path dir) throws Exception {
        Path export = dir.resolve("export");
        try (X3d m = small(3)) {
            StudentExport.write(export, m, ModelCard.builder(m.config(), List.of("a", "b", "c")).build());
            Path out = dir.resolve("ptv.safetensors");
            Result r = run("weights", "export-pytorch", "--model", export.toString(), "--to", "pytorchvideo", "--out", out.toString());
            assertEquals(0, r.code(), r.err());
            Path psf = dir.resolve("psf.safetensors");
            assertEquals(0, run("weights", "export-pytorch", "--model", export.toString(), "--to", "pyslowfast", "--out",
                    psf.toString()).code());
            try (X3d a = small(3); X3d b = small(3); PointerScope s = new PointerScope()) {
                assertTrue(Weights.load(a.module(), out, KeyMap.IDENTITY, Weights.Mode.STRICT, Set.of()).clean());
                assertTrue(Pretrained.load(b, psf, Zoo.PYSLOWFAST, Weights.Mode.STRICT).clean());
                assertEquals(sums(m), sums(a));
                assertEquals(sums(m), sums(b));
            }
            try (Weights.Source s = Weights.open(out)) {
                assertTrue(s.tensors().containsKey("blocks.5.pool.pre_conv.weight") && s.tensors().containsKey("blocks.5.proj.bias")
                        && s.tensors().containsKey("blocks.0.conv.conv_t.weight"));
            }
        }
    }

    static Map<String, String> sums(X3d m) {
        Map<String, String> out = new LinkedHashMap<>();
        try (PointerScope s = new PointerScope()) {
            var ps = m.module().named_parameters();
            for (long i = 0; i < ps.size(); i++) {
                out.put(ps.get(i).key().getString(), Weights.checksum(ps.get(i).value()));
            }
            var bs = m.module().named_buffers();
            for (long i = 0; i < bs.size(); i++) {
                out.put(bs.get(i).key().getString(), Weights.checksum(bs.get(i).value()));
            }
        }
        return out;
    }
}
