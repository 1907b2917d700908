package org.dualdistill.distributed;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.internal.torch.TensorBridge;
import org.dualdistill.train.EvalResult;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Collectives of {@link DistributedContext}, with two ranks as two threads of this JVM (Gloo keeps one context per
 * process group, so two groups in one process talk over loopback like two processes), rendezvous through a
 * {@code FileStore}. The multi-JVM path is {@link DistributedTrainingTest}.
 */
class DistributedContextTest {
    @TempDir
    Path dir;

    private DistributedConfig fileConfig(int rank, Path store) {
        return new DistributedConfig(rank, 2, rank, "127.0.0.1", 29500, "file://" + store, DistributedConfig.Backend.GLOO,
                Duration.ofSeconds(20), null);
    }

    private record Seen(double[] sums, double max, float[] broadcast, EvalResult eval) {
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void twoRanksOverAFileStoreReduceBroadcastAndCombineEvaluations() throws Exception {
        Path store = dir.resolve("store");
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            List<Future<Seen>> fs = new ArrayList<>();
            for (int r = 0; r < 2; r++) {
                int rank = r;
                fs.add(pool.submit(() -> {
                    try (DistributedContext ctx = DistributedContext.init(fileConfig(rank, store));
                         PointerScope scope = new PointerScope()) {
                        double[] sums = ctx.allReduceSum(rank + 1, 10, -rank);
                        double max = ctx.allReduceMax(rank * 5.0);
                        Tensor t = torch.full(new long[] {2, 3}, new Scalar((double) (rank + 7)));
                        Tensor ids = torch.arange(new Scalar(4)).to(torch.ScalarType.Long).add(new Scalar((long) rank));
                        ctx.broadcast(List.of(t, ids));
                        float[] b = TensorBridge.toFloats(t);
                        assertEquals(6L, ids.sum().item_long(), "int64 tensors travel in their own buffer");
                        // rank 0 scored 3 samples (2 right), rank 1 scored 2 (1 right), 2 classes
                        long[][] conf = rank == 0 ? new long[][] {{2, 1}, {0, 0}} : new long[][] {{0, 0}, {1, 1}};
                        EvalResult local = new EvalResult(rank == 0 ? 3 : 2, rank == 0 ? 3 : 2, rank == 0 ? 2 / 3.0 : 0.5,
                                1.0, new double[2], new long[] {rank == 0 ? 3 : 0, rank == 0 ? 0 : 2}, conf, true);
                        EvalResult all = ctx.reduce(local);
                        ctx.barrier();
                        return new Seen(sums, max, b, all);
                    }
                }));
            }
            for (Future<Seen> f : fs) {
                Seen s = f.get(50, TimeUnit.SECONDS);
                assertArrayEquals(new double[] {3, 20, -1}, s.sums());
                assertEquals(5.0, s.max());
                for (float v : s.broadcast()) {
                    assertEquals(7f, v, "rank 0's values everywhere");
                }
                assertEquals(5, s.eval().samples());
                assertEquals(3 / 5.0, s.eval().top1(), 1e-12);
                assertEquals(1.0, s.eval().top5(), 1e-12);
                assertArrayEquals(new long[] {3, 2}, s.eval().classCounts());
                assertArrayEquals(new double[] {2 / 3.0, 0.5}, s.eval().perClassAccuracy(), 1e-12);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void aMissingPeerFailsTheRendezvousWithinTheTimeout() throws Exception {
        DistributedConfig c = new DistributedConfig(0, 2, 0, "127.0.0.1", Launcher.freePort(), "env://",
                DistributedConfig.Backend.GLOO, Duration.ofSeconds(3), null);
        long t0 = System.nanoTime();
        DistributedException e = assertThrows(DistributedException.class, () -> DistributedContext.init(c).close());
        double secs = (System.nanoTime() - t0) / 1e9;
        assertTrue(secs < 30, "took " + secs + " s");
        assertTrue(e.getMessage().contains("rank 0 of 2") && e.getMessage().contains("rendezvous"), e.getMessage());
    }

    @Test
    void aClosedContextRefusesWork() {
        DistributedConfig c = new DistributedConfig(0, 1, 0, "127.0.0.1", 29500, "file://" + dir.resolve("one"),
                DistributedConfig.Backend.GLOO, Duration.ofSeconds(10), null);
        DistributedContext ctx = DistributedContext.init(c);
        assertArrayEquals(new double[] {4}, ctx.allReduceSum(4));
        ctx.close();
        ctx.close(); // idempotent
        assertThrows(IllegalStateException.class, ctx::barrier);
    }
}
