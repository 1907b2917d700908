package org.dualdistill.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.StringTensorDict;
import org.dualdistill.internal.torch.TensorBridge;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Interrupt-and-resume is exact on CPU: a run stopped mid-epoch (after step 3 of 4) and resumed in fresh objects from
 * its mid-epoch checkpoint ends with weights (student and SDB) bit-identical to an uninterrupted run, and so does a
 * resume from an epoch-end checkpoint.
 */
class TrainerResumeTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void data() throws Exception {
        TrainerTest.generate();
    }

    private static Map<String, float[]> weights(Module... modules) {
        Map<String, float[]> out = new LinkedHashMap<>();
        try (PointerScope s = new PointerScope()) {
            int m = 0;
            for (Module mod : modules) {
                for (StringTensorDict d : new StringTensorDict[]{mod.named_parameters(true), mod.named_buffers(true)}) {
                    for (long i = 0; i < d.size(); i++) {
                        var it = d.get(i);
                        if (it.value().is_floating_point()) {
                            out.put(m + "/" + it.key().getString(), TensorBridge.toFloats(it.value()));
                        }
                    }
                }
                m++;
            }
        }
        return out;
    }

    private static Map<String, float[]> weights(TrainerTest.Rig rig) {
        Module[] mods = new Module[1 + rig.objective.trainableModules().size()];
        mods[0] = rig.student.module();
        for (int i = 1; i < mods.length; i++) {
            mods[i] = rig.objective.trainableModules().get(i - 1);
        }
        return weights(mods);
    }

    private static void assertBitIdentical(Map<String, float[]> expected, Map<String, float[]> actual) {
        assertEquals(expected.keySet(), actual.keySet());
        for (var e : expected.entrySet()) {
            assertArrayEquals(e.getValue(), actual.get(e.getKey()), "weights differ: " + e.getKey());
        }
    }

    @Test
    void resumeMidEpochAndAtEpochEndIsBitIdentical() throws Exception {
        Map<String, float[]> uninterrupted;
        int perEpoch;
        try (TrainerTest.Rig rig = new TrainerTest.Rig(7, 2);
             Trainer t = rig.trainer().progress(100, null).checkpoints(dir.resolve("ckpt"), 1).checkpointEverySteps(3).build()) {
            perEpoch = rig.loader.batchesPerEpoch();
            assertTrue(perEpoch >= 4, "need a batch after the step-3 checkpoint, have " + perEpoch);
            t.fit(2);
            uninterrupted = weights(rig);
        }
        Path mid = dir.resolve("ckpt").resolve("step-00000003");
        assertTrue(Files.isDirectory(mid), "mid-epoch checkpoint missing");

        // the "crash": fresh objects (differently seeded student init, which the checkpoint must overwrite)
        for (Path from : new Path[]{mid, dir.resolve("ckpt").resolve("epoch-0001")}) {
            try (TrainerTest.Rig rig = new TrainerTest.Rig(7, 2); Trainer t = rig.trainer().progress(100, null).build()) {
                Checkpoint.State st = t.resume(from);
                if (from.equals(mid)) {
                    assertEquals(0, st.epoch());
                    assertEquals(3L, st.seeds().get(Trainer.BATCH_IN_EPOCH));
                }
                t.fit(2);
                assertEquals(2L * perEpoch, t.step(), from.toString());
                assertBitIdentical(uninterrupted, weights(rig));
            }
        }
    }
}
