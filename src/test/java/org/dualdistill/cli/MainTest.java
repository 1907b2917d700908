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
        String out = run(0, "self-check", "--batch", "8", "--classes", "51", "--iterations", "3");
        assertTrue(out.contains("cpu kernels yes"), out);
        assertTrue(out.contains("TORCH") && out.contains("FUSED_CPU"), out);
        assertTrue(out.contains("self-check passed"), out);
    }

    @Test
    void infoListsTheRegistry() {
        String out = run(0, "info", "--classes", "51");
        assertTrue(out.matches("(?s).*\\bx3d_s\\s+3,079,173\\s+1\\.96\\d*\\s+13x6 crop 160, train short side 182-228, test 182\\b.*"), out);
        assertTrue(out.matches("(?s).*\\bmvitv2_s\\s+34,269,363\\s+\\d+\\.\\d+\\s+16x4 crop 224, train short side 256-320, test 224\\b.*"), out);
        for (String name : new String[] {"x3d_xs", "x3d_m", "x3d_l", "x3d_demo", "x3d_demo_wide", "mvit_demo"}) {
            assertTrue(out.contains("\n" + name + " "), name + " missing in:\n" + out);
        }
    }

    @Test
    void badArgumentsExitNonZero() {
        assertEquals(2, Main.run("selfcheck", "--teachers", "9"));
        assertTrue(Main.run("no-such-command") != 0);
    }
}
