package org.dualdistill.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import org.dualdistill.model.x3d.X3d;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The {@code --init FILE --from ZOO} mixin of train-teacher: parsed by picocli, applied to a fresh model. */
class PretrainedInitOptionsTest {
    @CommandLine.Command(name = "t")
    static final class Host {
        @CommandLine.Mixin
        PretrainedInitOptions pretrained = new PretrainedInitOptions();
    }

    @Test
    void initLoadsTheBodyAndReportsTheReinitializedHead() throws Exception {
        Host h = new Host();
        new CommandLine(h).parseArgs("--init", WeightsCommandTest.fixture("checkpoints/x3d_small_pyslowfast.pyth").toString(),
                "--from", "pyslowfast");
        PrintStream old = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (X3d m = WeightsCommandTest.small(3)) {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            h.pretrained.apply(m);
        } finally {
            System.setOut(old);
        }
        String s = out.toString(StandardCharsets.UTF_8);
        assertTrue(s.contains("re-initialized 2") && s.contains("blocks.5.proj.weight, blocks.5.proj.bias")
                && s.contains("missing 0, unexpected 0"), s);

        Host none = new Host();
        new CommandLine(none).parseArgs();
        try (X3d m = WeightsCommandTest.small(3)) {
            none.pretrained.apply(m); // no --init: nothing happens
            Host wrong = new Host();
            new CommandLine(wrong).parseArgs("--init", WeightsCommandTest.fixture("checkpoints/x3d_small_pyslowfast.pyth").toString(),
                    "--from", "pytorchvideo");
            IOException e = assertThrows(IOException.class, () -> wrong.pretrained.apply(m));
            assertTrue(e.getMessage().startsWith("--init ") && e.getMessage().contains("x3d_small_pyslowfast.pyth")
                    && e.getMessage().contains("s1.pathway0_stem"), e.getMessage());
            Host bad = new Host();
            new CommandLine(bad).parseArgs("--init", "x.pth", "--from", "nowhere");
            assertEquals("--init unknown zoo 'nowhere' (pyslowfast, pytorchvideo, torchvision or dualdistill)",
                    assertThrows(IOException.class, () -> bad.pretrained.apply(m)).getMessage());
        }
    }
}
