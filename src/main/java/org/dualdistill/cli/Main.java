package org.dualdistill.cli;

import java.util.concurrent.Callable;

import org.dualdistill.internal.torch.TorchRuntime;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code dualdistill} command line. With no subcommand it runs the main job on the embedded default: the
 * {@link DemoCommand} at its default settings (synthetic data, cached teachers, the seven-way distillation ablation,
 * a table and an HTML report).
 */
@Command(name = "dualdistill", mixinStandardHelpOptions = true, version = "dualdistill 0.1.0",
        description = "Adaptive dual-teacher knowledge distillation for lightweight video action recognition.",
        subcommands = {SelfCheckCommand.class, InfoCommand.class, GenerateCommand.class, TrainTeacherCommand.class,
                DistillCommand.class, EvaluateCommand.class, ExportCommand.class, PredictCommand.class, DemoCommand.class,
                AblationCommand.class, LaunchCommand.class, WeightsCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Callable<Integer> {

    /** Runs the default job: {@code demo} with its defaults. */
    @Override
    public Integer call() {
        return new CommandLine(new DemoCommand()).execute();
    }

    /**
     * Entry point.
     *
     * @param args command-line arguments
     */
    public static void main(String[] args) {
        System.exit(run(args));
    }

    /**
     * Runs the CLI without exiting the JVM (for tests and embedding).
     *
     * @param args command-line arguments
     * @return the exit code
     */
    public static int run(String... args) {
        TorchRuntime.init();
        CommandLine cli = new CommandLine(new Main());
        // last line of defence for "never a stack trace": a subcommand that lets an exception escape still ends with
        // one line naming the command and the reason, and exit code 2 like every other user-facing error
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println(cmd.getCommandName() + ": " + (e.getMessage() == null ? e.toString() : e.getMessage()));
            cmd.getErr().flush();
            return 2;
        });
        return cli.execute(args);
    }
}
