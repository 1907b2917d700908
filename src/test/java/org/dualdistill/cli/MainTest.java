package org.dualdistill.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

/** The CLI through its entry point, as a user runs it. */
class MainTest {

    static String run(int expectedExit, String... args) {
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            assertEquals(expectedExit, Main.run(args));
        } finally {
            System.setOut(old);
        }
        return buf.toString(StandardCharsets.UTF_8);
    }

    @Test
    void selfCheckPassesAndReportsEveryBackend() {
        String out = run(0, "selfcheck", "--batch", "8", "--classes", "51", "--iterations", "3");
        assertTrue(out.contains("cpu kernels yes"), out);
        assertTrue(out.contains("TORCH") && out.contains("FUSED_CPU"), out);
        assertTrue(out.contains("self-check passed"), out);
    }

    @Test
    void infoListsTheX3dPresets() {
        String out = run(0, "info", "--classes", "51");
        assertTrue(out.contains("x3d_s") && out.contains("3,079,173") && out.contains("13 x 160 x 160"), out);
        assertTrue(out.contains("mvitv2_s") && out.contains("34,269,363") && out.contains("16 x 224 x 224"), out);
    }

    @Test
    void badArgumentsExitNonZero() {
        assertEquals(2, Main.run("selfcheck", "--teachers", "9"));
        assertTrue(Main.run("no-such-command") != 0);
    }
}
