package org.dualdistill.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.TestTensors;
import org.dualdistill.model.x3d.X3d;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointTest {
    private static final TrainConfig CFG = TrainConfig.embeddedDemo()
            .withOverrides(List.of("optimizer.lr=0.05", "optimizer.weightDecay=0.001"));

    private static X3d model() {
        return X3d.builder().widthFactor(0.5).depthFactor(1.0).headDimOut(64).numClasses(5).dropout(0.5).clipLength(2)
                .crop(32).build();
    }

    private static void stepWithRng(X3d m, TrainingOptimizer opt, CosineSchedule sched, long i) {
        // inputs are built from a private generator so that the default generator only feeds dropout
        try (PointerScope scope = new PointerScope()) {
            Tensor clip = torch.randn(new long[] {2, 3, 2, 32, 32},
                    new org.bytedeco.pytorch.GeneratorOptional(torch.createCPUGenerator(100 + i)));
            opt.zeroGrad();
            Tensor loss = m.forward(clip).logits().pow(new Scalar(2)).mean();
            loss.backward();
            GradientClipping.clip(opt, 1.0);
            sched.apply(opt);
            opt.step();
        }
    }

    private static Map<String, float[]> weights(X3d m) {
        Map<String, float[]> out = new LinkedHashMap<>();
        try (PointerScope scope = new PointerScope()) {
            StringTensorDict d = m.module().named_parameters(true);
            for (long i = 0; i < d.size(); i++) {
                out.put(d.get(i).key().getString(), TestTensors.toFloats(d.get(i).value()));
            }
            StringTensorDict b = m.module().named_buffers(true);
            for (long i = 0; i < b.size(); i++) {
                out.put(b.get(i).key().getString(), TestTensors.toFloats(b.get(i).value()));
            }
        }
        return out;
    }

    private static Path trainAndSave(Path dir, Map<String, float[]> after5) throws IOException {
        return trainAndSave(dir, after5, CFG);
    }

    private static Path trainAndSave(Path dir, Map<String, float[]> after5, TrainConfig cfg) throws IOException {
        torch.manual_seed(7);
        try (X3d m = model(); TrainingOptimizer opt = Optimizers.create(cfg.optimizer(), List.of(m.module()))) {
            CosineSchedule sched = new CosineSchedule(0.05, 0.005, 0.0, 2, 10);
            for (int i = 0; i < 3; i++) {
                stepWithRng(m, opt, sched, i);
            }
            Checkpoint.save(dir, m.module(), null, opt,
                    new Checkpoint.State(0, 3, sched.step(), Map.of("sampler", 42L), Map.of("loss", 0.5)),
                    cfg.toJson());
            for (int i = 3; i < 5; i++) {
                stepWithRng(m, opt, sched, i);
            }
            after5.putAll(weights(m));
        }
        return dir;
    }

    @Test
    void roundTripResumesBitExactly(@TempDir Path tmp) throws IOException {
        Map<String, float[]> original = new LinkedHashMap<>();
        Path dir = trainAndSave(tmp.resolve("ckpt"), original);
        torch.manual_seed(12345); // a different stream: the checkpoint must restore the saved one
        try (X3d m = model(); TrainingOptimizer opt = Optimizers.create(CFG.optimizer(), List.of(m.module()))) {
            CosineSchedule sched = new CosineSchedule(0.05, 0.005, 0.0, 2, 10);
            Checkpoint.State st = Checkpoint.load(dir, m.module(), null, opt);
            assertEquals(3, st.step());
            assertEquals(42L, st.seeds().get("sampler"));
            assertEquals(0.5, st.metrics().get("loss"));
            sched.restore(st.schedulerStep());
            for (int i = 3; i < 5; i++) {
                stepWithRng(m, opt, sched, i);
            }
            Map<String, float[]> restored = weights(m);
            assertEquals(original.keySet(), restored.keySet());
            for (String k : original.keySet()) {
                assertArrayEquals(original.get(k), restored.get(k), k + " differs after resuming");
            }
        }
        assertEquals(CFG, TrainConfig.parse(TrainConfig.embeddedDemo(), Checkpoint.configJson(dir), List.of()));
        // without restoring the optimizer state, the two runs diverge: the momentum buffers matter
        torch.manual_seed(12345);
        try (X3d m = model(); TrainingOptimizer opt = Optimizers.create(CFG.optimizer(), List.of(m.module()));
             TrainingOptimizer unused = Optimizers.create(CFG.optimizer(), List.of(m.module()))) {
            CosineSchedule sched = new CosineSchedule(0.05, 0.005, 0.0, 2, 10);
            Checkpoint.load(dir, m.module(), null, unused);
            sched.restore(3);
            for (int i = 3; i < 5; i++) {
                stepWithRng(m, opt, sched, i);
            }
            Map<String, float[]> fresh = weights(m);
            boolean anyDiff = false;
            for (String k : original.keySet()) {
                anyDiff |= !java.util.Arrays.equals(original.get(k), fresh.get(k));
            }
            assertTrue(anyDiff, "momentum buffers had no effect: the test cannot tell whether they were restored");
        }
    }

    @Test
    void adamWMomentsRoundTripBitExactly(@TempDir Path tmp) throws IOException {
        TrainConfig cfg = CFG.withOverrides(List.of("optimizer.name=adamw", "optimizer.lr=0.01",
                "optimizer.weightDecay=0.05"));
        Map<String, float[]> original = new LinkedHashMap<>();
        Path dir = trainAndSave(tmp.resolve("ckpt"), original, cfg);
        torch.manual_seed(12345);
        try (X3d m = model(); TrainingOptimizer opt = Optimizers.create(cfg.optimizer(), List.of(m.module()))) {
            CosineSchedule sched = new CosineSchedule(0.05, 0.005, 0.0, 2, 10);
            sched.restore(Checkpoint.load(dir, m.module(), null, opt).schedulerStep());
            for (int i = 3; i < 5; i++) {
                stepWithRng(m, opt, sched, i);
            }
            Map<String, float[]> restored = weights(m);
            for (String k : original.keySet()) {
                assertArrayEquals(original.get(k), restored.get(k), k + " differs after resuming");
            }
        }
    }

    @Test
    void corruptedByteFailsTheChecksumNamingTheFile(@TempDir Path tmp) throws IOException {
        Path dir = trainAndSave(tmp.resolve("ckpt"), new LinkedHashMap<>());
        Path f = dir.resolve("student.safetensors");
        byte[] bytes = Files.readAllBytes(f);
        bytes[bytes.length - 3] ^= 0x10;
        Files.write(f, bytes);
        try (X3d m = model(); TrainingOptimizer opt = Optimizers.create(CFG.optimizer(), List.of(m.module()))) {
            CheckpointException e = assertThrows(CheckpointException.class,
                    () -> Checkpoint.load(dir, m.module(), null, opt));
            assertEquals(f, e.file());
            assertTrue(e.getMessage().contains("student.safetensors") && e.getMessage().contains("checksum"),
                    e.getMessage());
        }
    }

    @Test
    void truncatedOrMissingFilesGiveClearErrors(@TempDir Path tmp) throws IOException {
        Path dir = trainAndSave(tmp.resolve("ckpt"), new LinkedHashMap<>());
        Path f = dir.resolve("optimizer.pt");
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
            ch.truncate(ch.size() / 2);
        }
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.verify(dir));
        assertTrue(e.getMessage().startsWith(f + ": truncated: expected "), e.getMessage());
        Files.delete(f);
        e = assertThrows(CheckpointException.class, () -> Checkpoint.verify(dir));
        assertTrue(e.getMessage().contains("optimizer.pt: missing"), e.getMessage());
        Files.writeString(dir.resolve(Checkpoint.MANIFEST), "{\"format\": 1, \"fil");
        e = assertThrows(CheckpointException.class, () -> Checkpoint.verify(dir));
        assertTrue(e.getMessage().contains("manifest.json: corrupt manifest"), e.getMessage());
        e = assertThrows(CheckpointException.class, () -> Checkpoint.verify(tmp.resolve("nothing")));
        assertTrue(e.getMessage().contains("manifest.json: missing"), e.getMessage());
    }

    @Test
    void savingOverAnExistingCheckpointReplacesItAndLeavesNoTemporaries(@TempDir Path tmp) throws IOException {
        Path dir = tmp.resolve("ckpt");
        trainAndSave(dir, new LinkedHashMap<>());
        trainAndSave(dir, new LinkedHashMap<>());
        Checkpoint.verify(dir);
        try (var s = Files.list(tmp)) {
            assertEquals(List.of(dir), s.toList());
        }
        assertFalse(Files.exists(dir.resolve("sdb.safetensors")));
    }

    private static Map<String, float[]> moduleWeights(org.bytedeco.pytorch.Module m) {
        Map<String, float[]> out = new LinkedHashMap<>();
        try (PointerScope scope = new PointerScope()) {
            StringTensorDict d = m.named_parameters(true);
            for (long i = 0; i < d.size(); i++) {
                out.put(d.get(i).key().getString(), TestTensors.toFloats(d.get(i).value()));
            }
        }
        return out;
    }

    private static org.dualdistill.distill.DistillationObjective objective(long seed) {
        return org.dualdistill.distill.DistillationObjective.builder().sddWeight(1).hintWeight(0.5).rkdWeight(0)
                .studentChannels(8).vitChannels(12).cnnChannels(6).seed(seed).build();
    }

    @Test
    void objectiveModulesAndProjectionsRoundTrip(@TempDir Path tmp) throws IOException {
        Path dir = tmp.resolve("ckpt");
        org.bytedeco.pytorch.LinearImpl student = new org.bytedeco.pytorch.LinearImpl(4, 3);
        try (var obj = objective(3)) {
            torch.manual_seed(1);
            org.bytedeco.pytorch.LinearImpl other = new org.bytedeco.pytorch.LinearImpl(4, 3);
            Checkpoint.save(dir, student, obj, null, new Checkpoint.State(1, 10, 10, null, null), null);
            Map<String, float[]> sdb = moduleWeights(obj.branch());
            assertTrue(Files.exists(dir.resolve("sdb.safetensors")) && Files.exists(dir.resolve("hint.safetensors")));
            assertTrue(Files.exists(dir.resolve("alignment/vit.proj")));
            torch.manual_seed(99);
            try (var fresh = objective(3)) {
                Checkpoint.load(dir, other, fresh, null);
                Map<String, float[]> back = moduleWeights(fresh.branch());
                for (String k : sdb.keySet()) {
                    assertArrayEquals(sdb.get(k), back.get(k), k);
                }
                assertArrayEquals(moduleWeights(student).get("weight"), moduleWeights(other).get("weight"));
            }
            try (var reseeded = objective(4)) {
                CheckpointException e = assertThrows(CheckpointException.class,
                        () -> Checkpoint.load(dir, other, reseeded, null));
                assertTrue(e.getMessage().contains("vit.proj") && e.getMessage().contains("differs"), e.getMessage());
            }
            assertEquals(null, Checkpoint.configJson(dir));
            other.close();
        } finally {
            student.close();
        }
    }
}
