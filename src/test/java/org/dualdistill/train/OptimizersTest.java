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

    /**
     * Four AdamW steps on a Linear(3 -> 1) whose gradients are chosen (loss = sum(w * g_w) + b * g_b), against
     * Adam's update computed here in doubles (PyTorch's AdamW: decoupled decay on group 0, bias-corrected moments).
     * beta1 != beta2 and gradients of changing sign and size, so swapped betas (the LibTorch tuple's reversed
     * layout) fail it.
     */
    @Test
    void adamWFollowsTheFormulaWithTheConfiguredBetas() {
        double lr = 0.01;
        double wd = 0.1;
        double b1 = 0.8;
        double b2 = 0.95;
        double eps = 1e-8;
        TrainConfig.Optimizer oc = TrainConfig.embeddedDemo().withOverrides(List.of("optimizer.name=adamw",
                "optimizer.lr=" + lr, "optimizer.weightDecay=" + wd, "optimizer.beta1=" + b1, "optimizer.beta2=" + b2,
                "optimizer.eps=" + eps)).optimizer();
        double[][] gw = {{1.0, -0.5, 0.25}, {-2.0, 0.1, 0.3}, {0.5, 0.5, -1.0}, {3.0, -0.2, 0.05}};
        double[] gb = {0.7, -1.5, 0.2, 0.9};
        LinearImpl lin = new LinearImpl(3, 1);
        try (PointerScope scope = new PointerScope()) {
            double[] w = doubles(lin.weight());
            double b = lin.bias().item_double();
            double[] mw = new double[3];
            double[] vw = new double[3];
            double mb = 0;
            double vb = 0;
            try (TrainingOptimizer opt = Optimizers.create(oc, List.of(lin))) {
                double[] betas = Optimizers.betas(opt.handle().param_groups().get(0).options());
                assertEquals(b1, betas[0], 0.0, "beta1 as configured");
                assertEquals(b2, betas[1], 0.0, "beta2 as configured");
                for (int t = 1; t <= gw.length; t++) {
                    opt.zeroGrad();
                    Tensor loss = lin.weight().mul(TestTensors.floats(floats(gw[t - 1]), 1, 3)).sum()
                            .add(lin.bias().mul(new Scalar(gb[t - 1])).sum());
                    loss.backward();
                    opt.step();
                    double c1 = 1 - Math.pow(b1, t);
                    double c2 = 1 - Math.pow(b2, t);
                    for (int i = 0; i < 3; i++) {
                        double g = gw[t - 1][i];
                        w[i] *= 1 - lr * wd;
                        mw[i] = b1 * mw[i] + (1 - b1) * g;
                        vw[i] = b2 * vw[i] + (1 - b2) * g * g;
                        w[i] -= lr / c1 * mw[i] / (Math.sqrt(vw[i]) / Math.sqrt(c2) + eps);
                    }
                    mb = b1 * mb + (1 - b1) * gb[t - 1];
                    vb = b2 * vb + (1 - b2) * gb[t - 1] * gb[t - 1];
                    b -= lr / c1 * mb / (Math.sqrt(vb) / Math.sqrt(c2) + eps); // group 1: no decay
                    double[] got = doubles(lin.weight());
                    for (int i = 0; i < 3; i++) {
                        assertEquals(w[i], got[i], 1e-6, "step " + t + " weight " + i);
                    }
                    assertEquals(b, lin.bias().item_double(), 1e-6, "step " + t + " bias");
                }
            }
        } finally {
            lin.close();
        }
    }

    private static double[] doubles(Tensor t) {
        float[] f = TestTensors.toFloats(t);
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    private static float[] floats(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            f[i] = (float) d[i];
        }
        return f;
    }
}
