package org.dualdistill.export;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.TestTensors;
import org.dualdistill.distill.DistillationObjective;
import org.dualdistill.model.io.SafeTensors;
import org.dualdistill.model.x3d.X3d;
import org.dualdistill.train.Checkpoint;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StudentExportTest {
    static final List<String> CLASSES = List.of("move_left", "move_right", "grow", "shrink");

    @TempDir
    Path dir;

    /** A tiny X3D (width 0.5, depth 0.5, 64-d head, 4 classes, 4x32x32). */
    static X3d tinyStudent() {
        return X3d.builder().widthFactor(0.5).depthFactor(0.5).headDimOut(64).numClasses(4).clipLength(4).crop(32).build();
    }

    /** Moves a fresh student's weights and BN statistics away from their initial values, as training would. */
    static void pretendTrained(X3d s) {
        try (PointerScope scope = new PointerScope()) {
            s.module().train(true);
            s.forward(torch.randn(2, 3, 4, 32, 32)); // BN running statistics move
            try (NoGradGuard g = new NoGradGuard()) {
                TensorVector ps = s.module().parameters();
                for (long i = 0; i < ps.size(); i++) {
                    ps.get(i).add_(torch.randn_like(ps.get(i)).mul(new Scalar(0.05)));
                }
            }
            s.module().eval();
        }
    }

    static float[] logits(X3d m, Tensor clip) {
        try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            m.module().eval();
            return TestTensors.toFloats(m.forward(clip).logits());
        }
    }

    static ModelCard card(X3d s) {
        return ModelCard.builder(s.config(), CLASSES).optInput(4, 2, 32, 36).addMetric("top1", 0.75)
                .optCreated(Instant.parse("2026-11-27T12:00:00Z")).build();
    }

    @Test
    void roundTripGivesTheSameCardAndBitIdenticalLogits() throws Exception {
        torch.manual_seed(3);
        Path out = dir.resolve("export");
        try (X3d trained = tinyStudent(); PointerScope scope = new PointerScope()) {
            pretendTrained(trained);
            Tensor clip = torch.randn(2, 3, 4, 32, 32);
            float[] before = logits(trained, clip);
            ModelCard written = StudentExport.write(out, trained, card(trained));
            assertNotNull(written.weightsSha256());
            assertEquals(Set.of(StudentExport.WEIGHTS, StudentExport.CARD), listing(out));
            try (ExportedStudent loaded = StudentExport.load(out)) {
                assertEquals(written, loaded.card());
                ModelCard c = loaded.card();
                assertEquals(CLASSES, c.classNames());
                assertEquals(new ModelCard.Input(4, 2, 32, 36), c.input());
                assertArrayEquals(new float[] {0.45f, 0.45f, 0.45f}, c.mean());
                assertArrayEquals(new float[] {0.225f, 0.225f, 0.225f}, c.std());
                assertEquals(Map.of("top1", 0.75), c.metrics());
                assertEquals(ModelCard.FORMAT_VERSION, c.formatVersion());
                assertTrue(ModelCard.sameArchitecture(trained.config(), loaded.model().config()));
                assertFalse(loaded.model().module().is_training(), "loaded in eval mode");
                assertArrayEquals(before, logits(loaded.model(), clip), "exported-then-loaded logits must be bit-identical");
            }
            // writing again over an existing export replaces both files
            pretendTrained(trained);
            ModelCard again = StudentExport.write(out, trained, card(trained));
            assertFalse(again.weightsSha256().equals(written.weightsSha256()));
            try (ExportedStudent loaded = StudentExport.load(out)) {
                assertArrayEquals(logits(trained, clip), logits(loaded.model(), clip));
            }
        }
        assertEquals(Set.of("export"), listing(dir), "no temporary folder is left behind");
    }

    @Test
    void exportHoldsOnlyTheStudentNotTheDistillationModules() throws Exception {
        torch.manual_seed(4);
        Path ckpt = dir.resolve("ckpt");
        Set<String> distillKeys = new HashSet<>();
        Set<String> studentKeys;
        try (X3d trained = tinyStudent();
             DistillationObjective objective = DistillationObjective.builder().studentChannels(channels(trained))
                     .vitChannels(16).cnnChannels(24).hintWeight(1).build()) {
            pretendTrained(trained);
            studentKeys = stateKeys(trained.module());
            // the training state: student + SDB + hint regressor + frozen projections
            Checkpoint.save(ckpt, trained.module(), objective, null, new Checkpoint.State(1, 1, 1, Map.of(), Map.of()), null);
            for (org.bytedeco.pytorch.Module m : objective.trainableModules()) {
                distillKeys.addAll(stateKeys(m));
            }
            assertFalse(distillKeys.isEmpty());
            for (SafeTensors.Entry e : SafeTensors.header(ckpt.resolve("sdb.safetensors"))) {
                distillKeys.add(e.name());
            }
            // a fresh student restored from that state, then exported
            try (X3d restored = tinyStudent(); DistillationObjective o2 = DistillationObjective.builder()
                    .studentChannels(channels(restored)).vitChannels(16).cnnChannels(24).hintWeight(1).build()) {
                Checkpoint.load(ckpt, restored.module(), o2, null);
                StudentExport.write(dir.resolve("export"), restored, card(restored));
            }
        }
        Set<String> exported = new TreeSet<>();
        for (SafeTensors.Entry e : SafeTensors.header(dir.resolve("export").resolve(StudentExport.WEIGHTS))) {
            exported.add(e.name());
        }
        assertEquals(studentKeys, exported, "exactly the student's parameters and buffers");
        for (String k : exported) {
            assertTrue(k.startsWith("blocks."), k);
            assertFalse(distillKeys.contains(k), "distillation tensor in the export: " + k);
        }
    }

    @Test
    void corruptedWeightsFailTheChecksum() throws Exception {
        Path out = writeTiny();
        Path w = out.resolve(StudentExport.WEIGHTS);
        byte[] b = Files.readAllBytes(w);
        b[b.length - 3] ^= 0x5a;
        Files.write(w, b);
        ExportException e = assertThrows(ExportException.class, () -> StudentExport.load(out));
        assertTrue(e.getMessage().contains(w.toString()) && e.getMessage().contains("SHA-256 mismatch"), e.getMessage());
        assertEquals(w, e.file());
    }

    @Test
    void weightsThatDoNotFitTheArchitectureAreNamed() throws Exception {
        Path out = writeTiny();
        Path w = out.resolve(StudentExport.WEIGHTS);
        String dropped = "blocks.5.proj.weight";
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> all = new LinkedHashMap<>(SafeTensors.readAll(w));
            assertNotNull(all.remove(dropped));
            SafeTensors.save(all, w, Map.of());
        }
        rewriteCard(out, n -> ((ObjectNode) n.get("weights")).put("sha256", sha(w)));
        ExportException e = assertThrows(ExportException.class, () -> StudentExport.load(out));
        assertTrue(e.getMessage().contains(w.toString()) && e.getMessage().contains("missing") && e.getMessage().contains(dropped),
                e.getMessage());
    }

    @Test
    void badCardsAreNamedWithTheReason() throws Exception {
        Path out = writeTiny();
        Path card = out.resolve(StudentExport.CARD);
        String good = Files.readString(card);

        rewriteCard(out, n -> n.put("formatVersion", 99));
        ExportException v = assertThrows(ExportException.class, () -> StudentExport.load(out));
        assertTrue(v.getMessage().contains(card.toString()) && v.getMessage().contains("unsupported formatVersion 99"), v.getMessage());

        Files.writeString(card, good);
        rewriteCard(out, n -> ((ObjectNode) n.get("architecture")).remove("headDimOut"));
        ExportException f = assertThrows(ExportException.class, () -> StudentExport.load(out));
        assertTrue(f.getMessage().contains("headDimOut"), f.getMessage());

        Files.writeString(card, "{\"formatVersion\": 1, ");
        ExportException j = assertThrows(ExportException.class, () -> StudentExport.load(out));
        assertTrue(j.getMessage().contains(card.toString()) && j.getMessage().contains("not valid JSON"), j.getMessage());

        Files.delete(card);
        ExportException m = assertThrows(ExportException.class, () -> StudentExport.load(out));
        assertTrue(m.getMessage().contains(card.toString()) && m.getMessage().contains("not found"), m.getMessage());

        Files.writeString(card, good);
        Files.delete(out.resolve(StudentExport.WEIGHTS));
        ExportException w = assertThrows(ExportException.class, () -> StudentExport.load(out));
        assertTrue(w.getMessage().contains(StudentExport.WEIGHTS) && w.getMessage().contains("not found"), w.getMessage());
    }

    @Test
    void aCardForAnotherArchitectureIsRefused() {
        try (X3d s = tinyStudent(); X3d other = X3d.builder().widthFactor(0.5).depthFactor(0.5).headDimOut(32).numClasses(4)
                .clipLength(4).crop(32).build()) {
            assertThrows(IllegalArgumentException.class, () -> StudentExport.write(dir.resolve("x"), s, card(other)));
            assertThrows(IllegalArgumentException.class, () -> ModelCard.builder(s.config(), List.of("a", "b")).build());
        }
    }

    private Path writeTiny() throws Exception {
        torch.manual_seed(5);
        Path out = dir.resolve("export");
        try (X3d s = tinyStudent()) {
            StudentExport.write(out, s, card(s));
        }
        return out;
    }

    private static void rewriteCard(Path out, java.util.function.Consumer<ObjectNode> edit) throws Exception {
        ObjectMapper json = new ObjectMapper();
        Path card = out.resolve(StudentExport.CARD);
        ObjectNode n = (ObjectNode) json.readTree(Files.readAllBytes(card));
        edit.accept(n);
        Files.write(card, json.writeValueAsBytes(n));
    }

    private static String sha(Path p) {
        try {
            return StudentExport.sha256(p);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    static long channels(X3d m) {
        try (PointerScope s = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            m.module().eval();
            return m.forward(torch.zeros(1, 3, 4, 32, 32)).features().size(1);
        }
    }

    static Set<String> stateKeys(org.bytedeco.pytorch.Module m) {
        Set<String> out = new TreeSet<>();
        try (PointerScope scope = new PointerScope()) {
            for (StringTensorDict d : new StringTensorDict[] {m.named_parameters(), m.named_buffers()}) {
                for (long i = 0; i < d.size(); i++) {
                    out.add(d.get(i).key().getString());
                }
            }
        }
        return out;
    }

    private static Set<String> listing(Path d) throws Exception {
        try (var s = Files.list(d)) {
            return new TreeSet<>(s.map(p -> p.getFileName().toString()).toList());
        }
    }
}
