package org.dualdistill.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.model.io.SafeTensors;
import org.dualdistill.model.io.Weights;
import org.dualdistill.model.io.Zoo;
import org.dualdistill.recipe.TeacherFile;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.dualdistill.testing.CliRun;

/**
 * The paper's first step end to end through the CLI: {@code train-teacher --arch x3d_demo --init K400.pyth --from
 * pyslowfast} on a small generated dataset, where the file is a 400-class Kinetics-style checkpoint written by real
 * PyTorch ({@code native/dev/make_checkpoint_fixtures.py}: the x3d_demo preset under PySlowFast's names, float16, in
 * {epoch, model_state: OrderedDict, optimizer_state, cfg}). The run trains at a learning rate of 1e-30 with no weight
 * decay, so that the written teacher's parameters must be exactly the checkpoint's (float16 widened to float32) unless
 * loading went wrong; the head is re-initialized at the dataset's class count.
 */
class TrainTeacherInitCommandTest {
    private static final String[] FROZEN = {"--epochs", "1", "--batch", "4", "--seed", "3",
            "--set", "run.logEvery=100", "--set", "data.flipProbability=0", "--set", "optimizer.lr=1e-30",
            "--set", "optimizer.weightDecay=0", "--set", "schedule.warmupEpochs=0", "--set", "schedule.minLr=0"};

    @TempDir
    static Path dir;
    static Path data;
    static Path k400;

    @BeforeAll
    static void generate() throws Exception {
        data = dir.resolve("data");
        var g = CliRun.run("generate", "--out", data.toString(), "--classes", "3", "--videos-per-class", "3",
                "--size", "32", "--frames", "8", "10", "--seed", "9");
        assertEquals(0, g.code(), g.err());
        k400 = WeightsCommandTest.fixture("checkpoints/x3d_demo_k400_pyslowfast.pyth");
    }

    private static CliRun.Result trainTeacher(String arch, String from, Path out) {
        return CliRun.run(PipelineCommandsTest.with(new String[] {"train-teacher", "--arch", arch,
                "--init", k400.toString(), "--from", from, "--data", data.toString(), "--out", out.toString()}, FROZEN));
    }

    private static boolean isHead(String name) {
        return name.startsWith("blocks.5.proj.");
    }

    private static boolean isBuffer(String name) {
        return name.endsWith(".running_mean") || name.endsWith(".running_var") || name.endsWith(".num_batches_tracked");
    }

    @Test
    void initFromAK400PySlowFastFileKeepsTheBodyAndRebuildsTheHead() throws Exception {
        Path out = dir.resolve("teacher");
        var r = trainTeacher("x3d_demo", "pyslowfast", out);
        assertEquals(0, r.code(), r.out() + r.err());
        String init = r.out().lines().filter(l -> l.startsWith("init ")).findFirst().orElse("");
        // every tensor of the file but the two of the 400-class projection is loaded
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> ck = Weights.readAll(k400, WeightsCommand.keyMap("x3d_demo", Zoo.PYSLOWFAST));
            assertEquals(181, ck.size());
            assertArrayEquals(new long[] {400, 64}, ck.get("blocks.5.proj.weight").sizes().vec().get());
            long loaded = ck.keySet().stream().filter(n -> !isHead(n)).count();
            assertEquals(179, loaded);
            // the 400-class head is reported as mis-shaped (tolerated) and re-initialized; nothing else is off
            assertTrue(init.contains(k400.toString() + ": loaded " + loaded + ", missing 0, unexpected 0, shape-mismatched 2, re-initialized 2"),
                    r.out());
            assertTrue(r.out().contains("shape-mismatched: blocks.5.proj.weight: file [400, 64] vs model [3, 64], blocks.5.proj.bias: file [400] vs model [3]"),
                    r.out());
            assertTrue(r.out().contains("re-initialized: blocks.5.proj.weight, blocks.5.proj.bias"), r.out());

            Path file = out.resolve(TeacherFile.FILE);
            assertTrue(Files.isRegularFile(file), r.out());
            assertEquals(3, TeacherFile.read(file).numClasses());
            Map<String, Tensor> teacher = SafeTensors.readAll(file);
            assertArrayEquals(new long[] {3, 64}, teacher.get("blocks.5.proj.weight").sizes().vec().get());
            assertArrayEquals(new long[] {3}, teacher.get("blocks.5.proj.bias").sizes().vec().get());
            int compared = 0;
            for (var e : ck.entrySet()) {
                String name = e.getKey();
                assertTrue(teacher.containsKey(name), name + " is not in the teacher file");
                if (isHead(name) || isBuffer(name)) {
                    continue; // BN statistics move in the training forward passes whatever the learning rate
                }
                Tensor want = e.getValue().to(torch.ScalarType.Float);
                Tensor got = teacher.get(name);
                assertArrayEquals(want.sizes().vec().get(), got.sizes().vec().get(), name);
                assertTrue(torch.equal(want, got), name + ": the teacher's tensor is not the checkpoint's");
                compared++;
            }
            assertTrue(compared > 100, "compared " + compared);
            // the BN statistics started from the file's: one epoch of momentum 0.1 cannot move them all the way
            // to a fresh init's (mean 0, var 1)
            Tensor var0 = teacher.get("blocks.0.norm.running_var");
            assertFalse(torch.equal(var0, torch.ones_like(var0)), "running_var looks freshly initialized");
        }
    }

    @Test
    void wrongZooOrArchitectureFailsWithOneLineNamingFileAndKeys() {
        var wrongZoo = trainTeacher("x3d_demo", "pytorchvideo", dir.resolve("wrong-zoo"));
        assertCleanError(wrongZoo, "s1.pathway0_stem");
        var wrongArch = trainTeacher("x3d_demo_wide", "pyslowfast", dir.resolve("wrong-arch"));
        assertCleanError(wrongArch, "blocks.0.conv.conv_t.weight");
        assertFalse(Files.exists(dir.resolve("wrong-arch").resolve(TeacherFile.FILE)));
    }

    private static void assertCleanError(CliRun.Result r, String key) {
        assertEquals(2, r.code(), r.out() + r.err());
        String err = r.err().strip();
        assertTrue(err.startsWith("train-teacher: ") && err.contains(k400.toString()) && err.contains(key), err);
        assertEquals(1, err.lines().count(), err);
        assertFalse(err.contains("Exception") || err.contains("\tat "), err);
    }
}
