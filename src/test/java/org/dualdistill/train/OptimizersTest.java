package org.dualdistill.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.TestTensors;
import org.dualdistill.model.x3d.X3d;
import org.junit.jupiter.api.Test;

class OptimizersTest {

    private static X3d smallX3d() {
        return X3d.builder().widthFactor(0.5).depthFactor(1.0).headDimOut(64).numClasses(5).build();
    }

    @Test
    void normParametersAndBiasesHaveNoWeightDecay() {
        TrainConfig c = TrainConfig.reference();
        try (X3d m = smallX3d()) {
            long matrices = 0;
            long vectors = 0;
            long bnWeights = 0;
            try (PointerScope scope = new PointerScope()) {
                StringTensorDict named = m.module().named_parameters(true);
                for (long i = 0; i < named.size(); i++) {
                    Tensor p = named.get(i).value();
                    String name = named.get(i).key().getString();
                    if (p.dim() > 1) {
                        matrices++;
                        assertTrue(!name.endsWith("bias"), name);
                    } else {
                        vectors++;
                    }
                }
            }
            assertTrue(vectors > 0 && matrices > 0);
            for (TrainConfig.Algorithm a : TrainConfig.Algorithm.values()) {
                TrainConfig.Optimizer oc = c.withOverrides(List.of("optimizer.name=" + a.name().toLowerCase()))
                        .optimizer();
                try (TrainingOptimizer opt = Optimizers.create(oc, List.of(m.module()))) {
                    assertEquals(2, opt.groupCount());
                    assertEquals(matrices, opt.groupSize(0), a + ": conv/linear weights decay");
                    assertEquals(vectors, opt.groupSize(1), a + ": norm weights and biases do not");
                    assertEquals(5e-5, opt.groupWeightDecay(0), 0.0);
                    assertEquals(0.0, opt.groupWeightDecay(1), 0.0);
                    opt.setLr(0.02);
                    assertEquals(0.02, opt.lr(0), 0.0);
                    assertEquals(0.02, opt.lr(1), 0.0);
                }
            }
        }
    }

    @Test
    void clippingBringsTheGlobalNormToTheBound() {
        LinearImpl a = new LinearImpl(6, 4);
        LinearImpl b = new LinearImpl(4, 3);
        List<Module> modules = List.of(a, b);
        try (PointerScope scope = new PointerScope()) {
            Tensor x = TestTensors.randn(3, 10.0, 5, 6);
            Tensor loss = b.forward(a.forward(x)).pow(new Scalar(2)).sum();
            loss.backward();
            double before = GradientClipping.globalNorm(modules);
            assertTrue(before > 1.0, "norm " + before);
            double bound = before / 4;
            double reported = GradientClipping.clip(modules, bound);
            assertEquals(before, reported, before * 1e-5);
            assertEquals(bound, GradientClipping.globalNorm(modules), bound * 1e-5);
            // under the bound: unchanged
            double now = GradientClipping.globalNorm(modules);
            GradientClipping.clip(modules, now * 10);
            assertEquals(now, GradientClipping.globalNorm(modules), 0.0);
            assertTrue(torch.isfinite(x).all().item_bool());
        } finally {
            a.close();
            b.close();
        }
    }
}
