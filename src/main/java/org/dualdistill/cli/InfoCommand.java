package org.dualdistill.cli;

import java.util.Locale;
import java.util.concurrent.Callable;

import org.dualdistill.model.mvit.MViTConfig;
import org.dualdistill.model.x3d.X3d;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Prints parameters, GMACs and input geometry of the model presets. */
@Command(name = "info", mixinStandardHelpOptions = true,
        description = "Print parameters, GMACs and input geometry of the model presets.")
final class InfoCommand implements Callable<Integer> {
    @Option(names = "--classes", description = "head classes (default ${DEFAULT-VALUE})")
    long classes = 400;

    @Override
    public Integer call() {
        if (classes < 1) {
            System.err.println("info: --classes must be >= 1");
            return 2;
        }
        System.out.printf(Locale.ROOT, "%-10s %14s %10s %18s%n", "model", "parameters", "GMACs", "input (T x H x W)");
        for (X3d.Preset p : X3d.Preset.values()) {
            try (X3d m = X3d.preset(p, classes)) {
                System.out.printf(Locale.ROOT, "%-10s %,14d %10.2f %18s%n", "x3d_" + p.name().toLowerCase(Locale.ROOT),
                        m.parameterCount(), m.gmacs(), p.clipLength() + " x " + p.crop() + " x " + p.crop());
            }
        }
        MViTConfig mvit = MViTConfig.mvitV2S(classes);
        System.out.printf(Locale.ROOT, "%-10s %,14d %10.2f %18s%n", "mvitv2_s", mvit.parameterCount(), mvit.gmacs(),
                mvit.numFrames() + " x " + mvit.cropSize() + " x " + mvit.cropSize());
        return 0;
    }
}
