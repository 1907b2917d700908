package org.dualdistill.distributed;

import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.data.DataLoader;
import org.dualdistill.data.Hmdb51Dataset;
import org.dualdistill.internal.torch.TorchRuntime;
import org.dualdistill.train.CosineSchedule;
import org.dualdistill.train.GradientSync;
import org.dualdistill.train.Optimizers;
import org.dualdistill.train.TrainConfig;
import org.dualdistill.train.Trainer;
import org.dualdistill.train.TrainingOptimizer;
import org.dualdistill.video.ClipSampler;
import org.dualdistill.video.MultiViewSampler;
import org.dualdistill.video.VideoTransform;
import org.dualdistill.video.ViewSpec;

/**
 * One rank of the tests' data-parallel job, run in its own JVM (or in the test JVM for the single-process
 * reference): trains {@link TinyVideoNet} with the real {@link Trainer}, {@link DataLoader} sharding and
 * {@link DataParallel}, then writes its final weights to {@code <out>/weights-rank<R>.bin}. Distributed when
 * {@code WORLD_SIZE} is set (torchrun variables). Rank 0 alone writes checkpoints under {@code <out>/ckpt}.
 *
 * <p>Arguments: {@code data out epochs batchPerRank seed [resumeDir|-] [stepSleepMs]}. Exit codes: 0 done, 3 failed
 * (the message is printed to stderr).
 */
public final class RankMain {
    static final TrainConfig CFG = TrainConfig.embeddedDemo().withOverrides(List.of("optimizer.lr=0.05"));

    private RankMain() {
    }

    /** @param args see the class comment */
    public static void main(String[] args) {
        TorchRuntime.init();
        int code;
        try {
            code = run(args, System.getenv());
        } catch (Throwable t) {
            System.err.println("rank-main: FAILED: " + t);
            code = 3;
        }
        System.err.flush();
        System.out.flush();
        Runtime.getRuntime().halt(code); // no lingering Gloo threads or shutdown hooks may delay the exit code
    }

    static int run(String[] a, Map<String, String> env) throws IOException {
        Path data = Path.of(a[0]);
        Path out = Path.of(a[1]);
        int epochs = Integer.parseInt(a[2]);
        int batch = Integer.parseInt(a[3]);
        long seed = Long.parseLong(a[4]);
        Path resume = a.length > 5 && !a[5].equals("-") ? Path.of(a[5]) : null;
        long sleepMs = a.length > 6 ? Long.parseLong(a[6]) : 0;
        TorchRuntime.setThreads(1);
        Optional<DistributedConfig> cfg = DistributedConfig.fromEnvironment(env);
        try (DistributedContext ctx = cfg.map(DistributedContext::init).orElse(null)) {
            return train(ctx, data, out, epochs, batch, seed, resume, sleepMs);
        }
    }

    static int train(DistributedContext ctx, Path data, Path out, int epochs, int batch, long seed, Path resume, long sleepMs)
            throws IOException {
        int rank = ctx == null ? 0 : ctx.rank();
        int world = ctx == null ? 1 : ctx.worldSize();
        Hmdb51Dataset ds = Hmdb51Dataset.builder(data).build();
        MultiViewSampler views = MultiViewSampler.builder(ClipSampler.random(4, 1), VideoTransform.train(24, 32))
                .addView(ViewSpec.of("student", 4, 24)).build();
        // rank 0 (and the single-process reference) use the seed; other ranks deliberately start from different
        // weights, which the broadcast from rank 0 must overwrite
        torch.manual_seed(seed + 17L * rank);
        Files.createDirectories(out);
        try (TinyVideoNet net = new TinyVideoNet(ds.numClasses());
             DataLoader loader = DataLoader.builder(ds, views).optBatchSize(batch).optWorkers(1).optSeed(seed)
                     .optShard(rank, world).build();
             TrainingOptimizer opt = Optimizers.create(CFG.optimizer(), List.of(net.module()));
             DataParallel dp = ctx == null ? null : ctx.dataParallel(List.<Module>of(net.module()), false)) {
            if (ctx != null) {
                ctx.broadcastModules(List.of(net.module()));
            }
            CosineSchedule schedule = CosineSchedule.of(CFG.optimizer(), new TrainConfig.Schedule(epochs, 0, 0, 0),
                    loader.batchesPerEpoch());
            return fit(ctx, net, loader, opt, schedule, dp, out, epochs, resume, sleepMs);
        }
    }

    private static int fit(DistributedContext ctx, TinyVideoNet net, DataLoader loader, TrainingOptimizer opt,
                           CosineSchedule schedule, DataParallel dp, Path out, int epochs, Path resume, long sleepMs)
            throws IOException {
        int rank = ctx == null ? 0 : ctx.rank();
        boolean main = rank == 0;
        GradientSync sync = dp == null ? null : new GradientSync() {
            @Override
            public void beforeForward() {
                if (sleepMs > 0) {
                    try {
                        Thread.sleep(sleepMs);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                dp.beforeForward();
            }

            @Override
            public void beforeBackward(Tensor loss) {
                dp.beforeBackward(loss);
            }

            @Override
            public void afterBackward() {
                dp.afterBackward();
            }
        };
        try (Trainer t = Trainer.builder(net, opt, schedule, loader).optGradientSync(sync).progress(1, main ? System.err : null)
                .checkpoints(main ? out.resolve("ckpt") : null, 1).configJson(CFG.toJson()).build()) {
            if (resume != null) {
                t.resume(resume);
                System.err.println("rank " + rank + " resumed at epoch " + t.epoch());
            }
            List<Trainer.EpochStats> h;
            try {
                h = t.fit(epochs);
            } catch (RuntimeException e) {
                throw ctx == null ? e : ctx.failed("training step " + (t.step() + 1), e);
            }
            for (Trainer.EpochStats e : h) {
                System.err.println("rank " + rank + " epoch " + e.epoch() + " done steps=" + e.steps());
            }
            try (DataOutputStream o = new DataOutputStream(Files.newOutputStream(out.resolve("weights-rank" + rank + ".bin")))) {
                float[] w = net.weights();
                o.writeInt(w.length);
                for (float f : w) {
                    o.writeFloat(f);
                }
            }
            System.err.println("rank " + rank + " finished at step " + t.step());
            return 0;
        }
    }

    /** @return a copy of the environment with the torchrun variables of one rank */
    static Map<String, String> env(int rank, int world, int port, int timeoutS) {
        Map<String, String> e = new HashMap<>();
        e.put("WORLD_SIZE", Integer.toString(world));
        e.put("RANK", Integer.toString(rank));
        e.put("LOCAL_RANK", Integer.toString(rank));
        e.put("MASTER_ADDR", "127.0.0.1");
        e.put("MASTER_PORT", Integer.toString(port));
        e.put("DUALDISTILL_DIST_TIMEOUT", Integer.toString(timeoutS));
        e.put("OMP_NUM_THREADS", "1");
        return e;
    }
}
