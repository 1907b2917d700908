package org.dualdistill.datw;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.TestTensors;
import org.dualdistill.kernels.KernelBackend;
import org.dualdistill.kernels.Kernels;
import org.dualdistill.sdd.SddLoss;
import org.dualdistill.sdd.SddResult;
import org.dualdistill.rkd.RkdLoss;
import org.dualdistill.rkd.RkdResult;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The CUDA kernels on finite inputs of large magnitude (issue 16 item 4): FUSED_CUDA equals FUSED_CPU (itself checked
 * against float64 references by DatwLargeLogitsTest, SddLargeFeaturesTest, RkdLargeEmbeddingsTest), and a loss beyond
 * float32 is an overflow. Needs the CUDA kernel library, a visible device and a CUDA build of LibTorch; skips
 * otherwise.
 */
@Tag("gpu")
class LargeMagnitudeCudaTest {

    @BeforeEach
    void needCuda() {
        assumeTrue(Kernels.available().cuda(), () -> "CUDA kernels unavailable: " + Kernels.available().cudaReason());
        assumeTrue(torch.cuda_is_available(), "LibTorch has no CUDA (CPU build of the presets)");
    }

    @Test
    void datwCudaMatchesCpuAtLargeMagnitudes() {
        int b = DatwLargeLogitsTest.B;
        int c = DatwLargeLogitsTest.C;
        for (double scale : new double[] {1e10, 1e20, 1e30, 1e37}) {
            float[] s = DatwLargeLogitsTest.logits(1, scale);
            float[] t1 = DatwLargeLogitsTest.logits(2, scale);
            float[] t2 = DatwLargeLogitsTest.logits(3, 1.0);
            long[] y = {0, 3, 6};
            double[] out = new double[6];
            for (int k = 0; k < 2; k++) {
                boolean cuda = k == 1;
                try (PointerScope scope = new PointerScope()) {
                    Tensor st = TestTensors.floats(s, b, c);
                    Tensor a1 = TestTensors.floats(t1, b, c);
                    Tensor a2 = TestTensors.floats(t2, b, c);
                    Tensor yl = TestTensors.longs(y, b);
                    if (cuda) {
                        st = st.cuda();
                        a1 = a1.cuda();
                        a2 = a2.cuda();
                        yl = yl.cuda();
                    }
                    try (DatwResult r = DatwLoss.builder().backend(cuda ? KernelBackend.FUSED_CUDA : KernelBackend.FUSED_CPU)
                            .labelSmoothing(0.1).build().compute(st, List.of(a1, a2), yl)) {
                        out[3 * k] = r.lossValue();
                        out[3 * k + 1] = r.kdValue();
                        out[3 * k + 2] = r.ceValue();
                    }
                }
            }
            for (int i = 0; i < 3; i++) {
                assertTrue(Double.isFinite(out[3 + i]), scale + ": " + out[3 + i]);
                assertEquals(out[i], out[3 + i], 2e-5 * Math.abs(out[i]) + 1e-5, scale + " part " + i);
            }
        }
        float[] s = new float[3 * 7];
        float[] t = new float[3 * 7];
        for (int i = 0; i < s.length; i++) {
            s[i] = i % 7 == 0 ? 3e38f : -3e38f;
            t[i] = -s[i];
        }
        try (PointerScope scope = new PointerScope()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DatwLoss.builder()
                    .backend(KernelBackend.FUSED_CUDA).build().compute(TestTensors.floats(s, 3, 7).cuda(),
                            List.of(TestTensors.floats(t, 3, 7).cuda()), TestTensors.longs(new long[] {1, 1, 1}, 3).cuda())
                    .close());
            assertTrue(e.getMessage().contains("overflow"), e.getMessage());
        }
    }

    @Test
    void sddAndRkdCudaMatchCpuAtLargeMagnitudes() {
        for (double scale : new double[] {1e20, 1e30, 3e37}) {
            float[] a = new float[2 * 40 * 37];
            float[] bb = new float[a.length];
            float[] rh = new float[a.length];
            java.util.SplittableRandom r = new java.util.SplittableRandom(5);
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) (scale * (r.nextDouble() - 0.5));
                bb[i] = (float) (scale * (r.nextDouble() - 0.5));
                rh[i] = (float) (r.nextDouble() - 0.5);
            }
            double[] sdd = new double[2];
            double[] rkd = new double[2];
            for (int k = 0; k < 2; k++) {
                boolean cuda = k == 1;
                KernelBackend be = cuda ? KernelBackend.FUSED_CUDA : KernelBackend.FUSED_CPU;
                try (PointerScope scope = new PointerScope()) {
                    Tensor ta = TestTensors.floats(a, 2, 40, 37);
                    Tensor tb = TestTensors.floats(bb, 2, 40, 37);
                    Tensor tr = TestTensors.floats(rh, 2, 40, 37);
                    Tensor es = TestTensors.floats(a, 40, 74);
                    Tensor et = TestTensors.floats(bb, 40, 74);
                    if (cuda) {
                        ta = ta.cuda();
                        tb = tb.cuda();
                        tr = tr.cuda();
                        es = es.cuda();
                        et = et.cuda();
                    }
                    try (SddResult sr = SddLoss.builder().backend(be).build().compute(tr, ta, tb);
                         RkdResult rr = RkdLoss.builder().backend(be).build().compute(es, et)) {
                        sdd[k] = sr.lossValue();
                        rkd[k] = rr.lossValue();
                    }
                }
            }
            assertEquals(sdd[0], sdd[1], 1e-5 * sdd[0], scale + " sdd");
            assertEquals(rkd[0], rkd[1], 1e-5 * rkd[0], scale + " rkd");
        }
    }
}
