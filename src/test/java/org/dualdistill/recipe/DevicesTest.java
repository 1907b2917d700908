package org.dualdistill.recipe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.model.ModelZoo;
import org.dualdistill.model.VideoModel;
import org.dualdistill.train.TrainConfig;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** run.device resolution and refusal; the CUDA paths are gpu-tagged and skip without a device. */
class DevicesTest {
    @Test
    void cpuAndAutoResolveAndBadSpecsAreRefused() throws RecipeException {
        assertEquals("cpu", Devices.resolve("cpu"));
        assertEquals("cpu", Devices.resolve("CPU"));
        assertEquals(Devices.cudaUsable() ? "cuda:0" : "cpu", Devices.resolve("auto"));
        var e = assertThrows(RecipeException.class, () -> Devices.resolve("tpu"));
        assertTrue(e.getMessage().contains("tpu"), e.getMessage());
        assertNull(Devices.autocastDtype("cpu", "auto"), "fp32 on the CPU by default");
        assertEquals(torch.ScalarType.BFloat16, Devices.autocastDtype("cuda:0", "auto"), "bf16 on CUDA by default");
        assertEquals(torch.ScalarType.Half, Devices.autocastDtype("cpu", "fp16"));
    }

    @Test
    void cudaWithoutADeviceFailsInOneLineSayingWhich() {
        assumeTrue(!Devices.cudaUsable(), "a CUDA device is visible");
        for (String spec : List.of("cuda", "cuda:1")) {
            var e = assertThrows(RecipeException.class, () -> Devices.resolve(spec));
            String m = e.getMessage();
            assertTrue(m.contains(torch.hasCUDA() ? "torch.cuda_is_available()" : "torch.hasCUDA() is false"), m);
            assertEquals(1, m.lines().count(), m);
        }
    }

    @Test
    void videoClassifierRefusesCudaWithoutADevice() {
        assumeTrue(!Devices.cudaUsable(), "a CUDA device is visible");
        var e = assertThrows(IllegalArgumentException.class,
                () -> org.dualdistill.inference.VideoClassifier.builder(java.nio.file.Path.of("export")).optDevice("cuda:0"));
        assertTrue(e.getMessage().startsWith("device cuda:0: "), e.getMessage());
        org.dualdistill.inference.VideoClassifier.builder(java.nio.file.Path.of("export")).optDevice("cpu"); // accepted
    }

    @Test
    @Tag("gpu")
    void modelsAndPlansLandOnTheGpu() throws RecipeException {
        assumeTrue(Devices.cudaUsable(), "no CUDA device");
        assertEquals("cuda:0", Devices.resolve("cuda"));
        TrainConfig cfg = TrainConfig.embeddedDemo().withOverrides(List.of("run.device=cuda", "model.numClasses=3"));
        RunPlan plan = Recipe.planSaved(cfg);
        try (Device d = Devices.device(plan.device()); VideoModel m = Recipe.build(plan, plan.model(), d);
             PointerScope scope = new PointerScope()) {
            assertTrue(m.module().parameters().get(0).is_cuda());
            var x = torch.zeros(2, 3, 4, 32, 32).to(d, torch.ScalarType.Float);
            assertNotNull(m.forward(x).logits());
            assertEquals(64, ModelZoo.featureChannels(m, plan.model().view()));
        }
    }
}
