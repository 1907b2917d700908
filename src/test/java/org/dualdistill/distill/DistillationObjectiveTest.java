package org.dualdistill.distill;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.SGD;
import org.bytedeco.pytorch.SGDOptions;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.TestTensors;
import org.dualdistill.kernels.KernelBackend;
import org.dualdistill.sdd.FeatureAlignment;
import org.junit.jupiter.api.Test;

/**
 * The full objective L = a_ce L_ce + a_kd L_kd + b L_sdd + g L_rkd + d L_hint: the total is the weighted sum of
 * the logged terms, terms switch off, teachers and projections never receive gradients, fused and LibTorch
 * backends agree, and the frozen projections cannot collapse under training.
 */
class DistillationObjectiveTest {
    static final long B = 4;
    static final long C = 10;

    /** A small student whose feature map, logits and embedding all depend on leaf parameters. */
    static final class Student {
        final Tensor map;   // [B, 16, 4, 3, 3] leaf
        final Tensor w;     // [16, C] leaf

        Student(long seed) {
            map = TestTensors.randn(seed, 1.0, B * 16, 4 * 3 * 3).view(B, 16, 4, 3, 3).detach().requires_grad_(true).retainReference();
            w = TestTensors.randn(seed + 1, 0.3, 16, C).detach().requires_grad_(true).retainReference();
        }

        StudentOutputs outputs() {
            Tensor emb = map.mean(new long[] {2, 3, 4}, false, new org.bytedeco.pytorch.ScalarTypeOptional());
            return new StudentOutputs(torch.matmul(emb, w), map, emb);
        }
    }

    static List<TeacherOutputs> teachers(long seed) {
        Tensor vitLogits = TestTensors.randn(seed, 3.0, B, C).requires_grad_(true);
        Tensor vitMap = TestTensors.randn(seed + 1, 1.0, B * 32, 2 * 5 * 5).view(B, 32, 2, 5, 5).requires_grad_(true);
        Tensor vitEmb = TestTensors.randn(seed + 2, 1.0, B, 24).requires_grad_(true);
        Tensor cnnLogits = TestTensors.randn(seed + 3, 2.0, B, C).requires_grad_(true);
        Tensor cnnMap = TestTensors.randn(seed + 4, 1.0, B * 16, 4 * 4 * 4).view(B, 16, 4, 4, 4).requires_grad_(true);
        return List.of(new TeacherOutputs(vitLogits, vitMap, vitEmb), new TeacherOutputs(cnnLogits, cnnMap, null));
    }

    static Tensor labels() {
        return TestTensors.longs(new long[] {1, 3, 5, 7}, B);
    }

    static DistillationObjective.Builder base() {
        return DistillationObjective.builder().studentChannels(16).vitChannels(32).cnnChannels(16).seed(3);
    }

    @Test
    void totalIsTheWeightedSumOfTheLoggedTerms() {
        try (DistillationObjective obj = base().alphaCe(0.7).alphaKd(1.3).sddWeight(2).rkdWeight(0.5).hintWeight(0.25).build();
             PointerScope scope = new PointerScope()) {
            Student s = new Student(1);
            try (ObjectiveResult r = obj.compute(s.outputs(), teachers(10), labels())) {
                ObjectiveBreakdown b = r.breakdown();
                double expected = 0.7 * b.ce() + 1.3 * b.kd() + 2 * b.sdd() + 0.5 * b.rkd() + 0.25 * b.hint();
                assertEquals(expected, b.total(), 1e-5 * Math.max(1, Math.abs(expected)));
                assertTrue(b.ce() > 0 && b.kd() > 0 && b.sdd() > 0 && b.rkd() > 0 && b.hint() > 0, b.toString());
                assertEquals(25 * b.rkdDistance() + 50 * b.rkdAngle(), b.rkd(), 1e-5 * Math.max(1, b.rkd()));
                assertEquals(2, b.weightMean().length);
                assertEquals(1.0, b.weightMean()[0] + b.weightMean()[1], 1e-6);
                for (int k = 0; k < 2; k++) {
                    assertTrue(b.weightMin()[k] <= b.weightMean()[k] && b.weightMean()[k] <= b.weightMax()[k]);
                }
            }
        }
    }

    @Test
    void termsSwitchOffAndTheirModulesAreNotBuilt() {
        try (DistillationObjective obj = DistillationObjective.builder().sddWeight(0).rkdWeight(0).build();
             PointerScope scope = new PointerScope()) {
            assertNull(obj.branch());
            assertTrue(obj.trainableModules().isEmpty());
            Student s = new Student(2);
            List<TeacherOutputs> logitsOnly = List.of(new TeacherOutputs(TestTensors.randn(5, 3.0, B, C), null, null));
            try (ObjectiveResult r = obj.compute(new StudentOutputs(s.outputs().logits(), null, null), logitsOnly, labels())) {
                ObjectiveBreakdown b = r.breakdown();
                assertEquals(0.0, b.sdd());
                assertEquals(0.0, b.rkd());
                assertEquals(b.ce() + b.kd(), b.total(), 1e-5 * Math.max(1, b.total()));
            }
        }
    }

    @Test
    void teachersAndProjectionsNeverReceiveGradients() {
        try (DistillationObjective obj = base().hintWeight(1).build(); PointerScope scope = new PointerScope()) {
            Student s = new Student(3);
            List<TeacherOutputs> ts = teachers(20);
            try (ObjectiveResult r = obj.compute(s.outputs(), ts, labels())) {
                r.loss().backward();
            }
            for (TeacherOutputs t : ts) {
                for (Tensor x : new Tensor[] {t.logits(), t.features(), t.embedding()}) {
                    if (x != null) {
                        assertFalse(x.grad().defined(), "a teacher tensor received a gradient");
                    }
                }
            }
            assertTrue(s.map.grad().defined() && TestTensors.maxAbs(TestTensors.toFloats(s.map.grad())) > 0);
            assertTrue(s.w.grad().defined());
            TensorVector ps = obj.branch().parameters();
            assertTrue(ps.size() > 0);
        }
    }

    @Test
    void fusedAndTorchBackendsGiveTheSameLossAndGradients() {
        float[][] grads = new float[2][];
        double[] totals = new double[2];
        KernelBackend[] bes = {KernelBackend.FUSED_CPU, KernelBackend.TORCH};
        for (int i = 0; i < 2; i++) {
            torch.manual_seed(77); // the same SDB initialization for both objectives
            try (DistillationObjective obj = base().backend(bes[i]).build(); PointerScope scope = new PointerScope()) {
                Student s = new Student(4);
                try (ObjectiveResult r = obj.compute(s.outputs(), teachers(30), labels())) {
                    r.loss().backward();
                    totals[i] = r.breakdown().total();
                }
                grads[i] = TestTensors.toFloats(s.map.grad());
            }
        }
        assertEquals(totals[1], totals[0], 1e-5 * Math.max(1, Math.abs(totals[1])));
        assertTrue(TestTensors.maxAbsDiff(grads[1], grads[0]) <= 1e-5 * Math.max(1e-6, TestTensors.maxAbs(grads[1])),
                "student feature gradients differ by " + TestTensors.maxAbsDiff(grads[1], grads[0]));
    }

    @Test
    void frozenProjectionsAndTheSddTargetSurviveFiftyOptimizerSteps() {
        try (DistillationObjective obj = base().build(); PointerScope scope = new PointerScope()) {
            FeatureAlignment al = obj.alignment();
            float[] phiVit = al.vitProjection().matrix();
            float[] phiCnn = al.cnnProjection().matrix();
            List<TeacherOutputs> ts = teachers(40);
            long[] grid = {4, 3, 3};
            float[] targetBefore = TestTensors.toFloats(FeatureAlignment.residual(
                    al.align(ts.get(0).features(), ts.get(1).features(), grid).a(),
                    al.align(ts.get(0).features(), ts.get(1).features(), grid).b(), 1e-6));
            Student s = new Student(5);
            TensorVector params = new TensorVector();
            params.push_back(s.map);
            params.push_back(s.w);
            for (Module m : obj.trainableModules()) {
                TensorVector mp = m.parameters();
                for (long i = 0; i < mp.size(); i++) {
                    params.push_back(mp.get(i));
                }
            }
            SGD sgd = new SGD(params, new SGDOptions(0.5));
            double first = 0;
            double last = 0;
            for (int step = 0; step < 50; step++) {
                try (PointerScope inner = new PointerScope()) {
                    sgd.zero_grad();
                    try (ObjectiveResult r = obj.compute(s.outputs(), ts, labels())) {
                        r.loss().backward();
                        double sdd = r.breakdown().sdd();
                        if (step == 0) {
                            first = sdd;
                        }
                        last = sdd;
                    }
                    sgd.step();
                }
            }
            assertArrayEquals(phiVit, al.vitProjection().matrix(), "phi_ViT changed");
            assertArrayEquals(phiCnn, al.cnnProjection().matrix(), "phi_CNN changed");
            float[] targetAfter = TestTensors.toFloats(FeatureAlignment.residual(
                    al.align(ts.get(0).features(), ts.get(1).features(), grid).a(),
                    al.align(ts.get(0).features(), ts.get(1).features(), grid).b(), 1e-6));
            assertArrayEquals(targetBefore, targetAfter, "SDD target changed");
            assertTrue(last < first, "the SDB should learn the residual: L_sdd " + first + " -> " + last);
        }
    }

    @Test
    void missingInputsOfASwitchedOnTermAreNamed() {
        try (DistillationObjective obj = base().build(); PointerScope scope = new PointerScope()) {
            Student s = new Student(6);
            List<TeacherOutputs> ts = teachers(50);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> obj.compute(new StudentOutputs(s.outputs().logits(), null, s.outputs().embedding()), ts, labels()));
            assertTrue(e.getMessage().contains("student features (SDD)"), e.getMessage());
            IllegalArgumentException one = assertThrows(IllegalArgumentException.class,
                    () -> obj.compute(s.outputs(), List.of(ts.get(0)), labels()));
            assertTrue(one.getMessage().contains("cnnTeacher"), one.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> DistillationObjective.builder().sddWeight(-1));
        assertThrows(IllegalArgumentException.class, () -> DistillationObjective.builder().sddWeight(1).build());
    }
}
