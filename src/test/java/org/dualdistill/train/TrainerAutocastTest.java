package org.dualdistill.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.internal.torch.TensorBridge;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Mixed precision through LibTorch's autocast, exercised on CPU (the same code path CUDA bf16 takes): a distillation
 * run under bf16 autocast trains (finite, falling loss) with float32 weights, its first epoch differs from the float32
 * run by bf16 rounding only, and autocast is off again after every step.
 */
class TrainerAutocastTest {
    @BeforeAll
    static void data() throws Exception {
        TrainerTest.generate();
    }

    private static List<Trainer.EpochStats> run(boolean autocast) throws Exception {
        try (TrainerTest.Rig rig = new TrainerTest.Rig(4, 3);
             Trainer t = rig.trainer().progress(100, null)
                     .autocast(autocast ? torch.DeviceType.CPU : null, torch.ScalarType.BFloat16).build()) {
            List<Trainer.EpochStats> h = t.fit(3);
            assertTrue(!torch.is_autocast_enabled(torch.DeviceType.CPU), "autocast must be off between steps");
            try (PointerScope s = new PointerScope()) {
                var p = rig.student.module().parameters().get(0);
                assertEquals(torch.ScalarType.Float.value, TensorBridge.dtype(p).value, "weights stay float32");
            }
            return h;
        }
    }

    @Test
    void bf16AutocastTrainsAndStaysCloseToFloat32() throws Exception {
        List<Trainer.EpochStats> fp32 = run(false);
        List<Trainer.EpochStats> bf16 = run(true);
        for (Trainer.EpochStats e : bf16) {
            assertTrue(Double.isFinite(e.meanLoss()), "bf16: " + bf16);
        }
        // the first epoch starts from identical weights, so its mean differs by bf16 rounding; later epochs follow
        // their own (diverging) trajectories, so only their trend is compared
        double a = fp32.get(0).meanLoss();
        double b = bf16.get(0).meanLoss();
        assertEquals(a, b, 0.05 * Math.abs(a), "epoch 0: bf16 " + b + " vs fp32 " + a);
        assertNotEquals(fp32.get(0).meanLoss(), bf16.get(0).meanLoss(), "autocast changed nothing: was it applied?");
        assertTrue(bf16.get(2).meanLoss() < bf16.get(0).meanLoss(), "bf16 loss must fall: " + bf16);
    }
}
