package org.dualdistill.cli;

import java.util.Locale;
import java.util.concurrent.Callable;

import org.dualdistill.model.ModelPreset;
import org.dualdistill.model.ModelZoo;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Lists the model registry ({@link ModelZoo}): name, parameters, GMACs and canonical view of every preset. */
@Command(name = "info", mixinStandardHelpOptions = true,
        description = "List the model registry: name, parameters, GMACs and canonical view of every preset.")
final class InfoCommand implements Callable<Integer> {
    @Option(names = "--classes", description = "head classes (default ${DEFAULT-VALUE})")
    long classes = 400;

    @Override
    public Integer call() {
        if (classes < 1) {
            System.err.println("info: --classes must be >= 1");
            return 2;
        }
        System.out.printf(Locale.ROOT, "%-14s %14s %9s  %s%n", "model", "parameters", "GMACs",
                "view (T x stride, crop, train short side, test short side)");
        for (ModelPreset p : ModelZoo.all()) {
            ModelZoo.Stats s = ModelZoo.stats(p, classes, p.view());
            System.out.printf(Locale.ROOT, "%-14s %,14d %9.4f  %s%n", p.name(), s.params(), s.gmacs(), p.view().summary());
        }
        System.out.printf(Locale.ROOT, "%d classes; GMACs: conv + linear multiply-accumulates of one clip at the train crop%n",
                classes);
        return 0;
    }
}
