package org.dualdistill.testing;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import org.dualdistill.cli.Main;

/** Runs the CLI in process, as a user would from a shell, and captures what it prints. Not thread-safe (swaps System.out/err). */
public final class CliRun {
    private CliRun() {
    }

    /** Output of one CLI run: exit code, stdout, stderr. */
    public record Result(int code, String out, String err) {
    }

    /**
     * @param args the command line after {@code dualdistill}
     * @return its exit code and everything it printed
     */
    public static Result run(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            code = Main.run(args);
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }
}
