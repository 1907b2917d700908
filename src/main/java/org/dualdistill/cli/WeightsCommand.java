package org.dualdistill.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import org.bytedeco.javacpp.PointerScope;
import org.dualdistill.recipe.Recipe;
import org.dualdistill.recipe.RecipeException;
import org.bytedeco.pytorch.Tensor;
import org.dualdistill.model.io.KeyMap;
import org.dualdistill.model.io.SafeTensors;
import org.dualdistill.model.io.TorchFile;
import org.dualdistill.model.io.Weights;
import org.dualdistill.model.io.Zoo;
import org.dualdistill.model.mvit.MViTKeys;
import org.dualdistill.model.x3d.X3dKeys;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code dualdistill weights}: inspect, convert and export weight files (torch.save zip or legacy, and safetensors),
 * read without Python and without running anything from the file.
 */
@Command(name = "weights", mixinStandardHelpOptions = true,
        description = "Inspect, convert and export weight files (torch.save .pth/.pyth/.pt and .safetensors).",
        subcommands = {WeightsCommand.Inspect.class, WeightsCommand.Convert.class, WeightsCommand.ExportPytorch.class})
final class WeightsCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        return Cli.fail("weights", "name a subcommand: inspect, convert or export-pytorch (see --help)");
    }

    /**
     * The key map of an architecture from a zoo (file names to ours).
     *
     * @param arch a registry name ({@code dualdistill info}) or a family ({@code x3d}, {@code mvit}, {@code slowfast})
     */
    static KeyMap keyMap(String arch, Zoo zoo) {
        String a = arch.toLowerCase(Locale.ROOT).replace('-', '_');
        String family = org.dualdistill.model.ModelZoo.contains(a) ? org.dualdistill.model.ModelZoo.get(a).family() : a;
        return switch (family) {
            case "x3d" -> X3dKeys.from(zoo);
            case "mvit" -> MViTKeys.from(zoo);
            case "slowfast" -> org.dualdistill.model.slowfast.SlowFastKeys.from(zoo);
            default -> throw new IllegalArgumentException("unknown --arch '" + arch + "' (a registry name: "
                    + String.join(", ", org.dualdistill.model.ModelZoo.names()) + ")");
        };
    }

    @Command(name = "inspect", mixinStandardHelpOptions = true,
            description = "List a weight file's tensors: name, dtype, shape and a checksum (SHA-256 of the values, 16 hex).")
    static final class Inspect implements Callable<Integer> {
        @Parameters(paramLabel = "FILE", description = "a .pth/.pyth/.pt (torch.save) or .safetensors file")
        Path file;

        @Override
        public Integer call() {
            try (Weights.Source src = Weights.open(file); PointerScope scope = new PointerScope()) {
                System.out.println(file + ": " + src.kind());
                TorchFile t = src.torchFile();
                if (t != null) {
                    System.out.println("top-level keys: " + t.topLevelKeys()
                            + (t.stateKey() == null ? "" : "; state dict under '" + t.stateKey() + "'")
                            + (t.scalar("epoch") == null ? "" : "; epoch " + t.scalar("epoch")));
                }
                long params = 0;
                System.out.printf(Locale.ROOT, "%-60s %-5s %-22s %s%n", "name", "dtype", "shape", "checksum");
                for (Weights.Info i : src.tensors().values()) {
                    try (PointerScope inner = new PointerScope()) {
                        Tensor v = src.tensor(i.name());
                        long n = 1;
                        for (long d : i.shape()) {
                            n *= d;
                        }
                        params += n;
                        System.out.printf(Locale.ROOT, "%-60s %-5s %-22s %s%n", i.name(), i.dtype().safetensorsName(),
                                Arrays.toString(i.shape()), Weights.checksum(v));
                    }
                }
                System.out.printf(Locale.ROOT, "%d tensors, %,d elements%n", src.tensors().size(), params);
                return 0;
            } catch (IOException | RuntimeException e) {
                return Cli.fail("weights inspect", e.getMessage());
            }
        }
    }

    @Command(name = "convert", mixinStandardHelpOptions = true,
            description = "Write a zoo checkpoint's state dict under dualdistill's names as .safetensors.")
    static final class Convert implements Callable<Integer> {
        @Parameters(paramLabel = "FILE", description = "the checkpoint (torch.save or safetensors)")
        Path file;
        @Option(names = "--arch", required = true, description = "a registry name (dualdistill info: x3d_s, mvitv2_s, slowfast_r50, ...)")
        String arch;
        @Option(names = "--from", paramLabel = "ZOO", description = "pyslowfast, pytorchvideo, torchvision or dualdistill (default)")
        String from = "dualdistill";
        @Option(names = "--out", required = true, paramLabel = "F.safetensors", description = "output file")
        Path out;

        @Override
        public Integer call() {
            try (PointerScope scope = new PointerScope()) {
                KeyMap keys = keyMap(arch, Zoo.parse(from));
                List<String> unknown = new ArrayList<>();
                try (Weights.Source src = Weights.open(file)) {
                    for (String n : src.tensors().keySet()) {
                        if (keys.toModel(n) == null) {
                            unknown.add(n);
                        }
                    }
                }
                if (!unknown.isEmpty()) {
                    return Cli.fail("weights convert", file + ": " + unknown.size() + " tensor(s) have no "
                            + arch + " counterpart under --from " + from + ": " + unknown);
                }
                Map<String, Tensor> tensors = Weights.readAll(file, keys);
                Map<String, String> meta = new LinkedHashMap<>();
                meta.put("format", "pt");
                meta.put("source", file.getFileName().toString());
                meta.put("from", from);
                SafeTensors.save(tensors, out, meta);
                System.out.println(out + ": " + tensors.size() + " tensors under dualdistill's " + arch + " names");
                return 0;
            } catch (IOException | RuntimeException e) {
                return Cli.fail("weights convert", e.getMessage());
            }
        }
    }

    @Command(name = "export-pytorch", mixinStandardHelpOptions = true,
            description = "Write a trained student under a PyTorch zoo's names as .safetensors (pytorchvideo: "
                    + "create_x3d(...).load_state_dict(safetensors.torch.load_file(F)) gives the same logits).")
    static final class ExportPytorch implements Callable<Integer> {
        @Option(names = "--model", required = true, paramLabel = "DIR", description = "a checkpoint or export folder")
        Path model;
        @Option(names = "--to", paramLabel = "ZOO", description = "pytorchvideo (default) or pyslowfast")
        String to = "pytorchvideo";
        @Option(names = "--out", required = true, paramLabel = "F.safetensors", description = "output file")
        Path out;

        @Override
        public Integer call() {
            Zoo zoo;
            try {
                zoo = Zoo.parse(to);
            } catch (IllegalArgumentException e) {
                return Cli.fail("weights export-pytorch", e.getMessage());
            }
            if (zoo != Zoo.PYTORCHVIDEO && zoo != Zoo.PYSLOWFAST) {
                return Cli.fail("weights export-pytorch", "--to must be pytorchvideo or pyslowfast (X3D students)");
            }
            try (Recipe.Loaded s = Recipe.load(model, null); PointerScope scope = new PointerScope()) {
                Map<String, Tensor> all = new LinkedHashMap<>();
                var ps = s.model().module().named_parameters();
                for (long i = 0; i < ps.size(); i++) {
                    all.put(ps.get(i).key().getString(), ps.get(i).value());
                }
                var bs = s.model().module().named_buffers();
                for (long i = 0; i < bs.size(); i++) {
                    all.put(bs.get(i).key().getString(), bs.get(i).value());
                }
                Map<String, Tensor> renamed = new LinkedHashMap<>();
                for (Map.Entry<String, Tensor> e : all.entrySet()) {
                    // pytorchvideo's create_x3d uses our names (stem conv_t/conv_xy, blocks.5.pool.{pre_conv,
                    // pre_norm,post_conv}, blocks.5.proj); a multi-head student has no pytorchvideo counterpart
                    if (e.getKey().matches("blocks\\.5\\.proj\\.\\d+\\..*")) {
                        return Cli.fail("weights export-pytorch", model + ": a multi-head student has no "
                                + zoo.cliName() + " counterpart");
                    }
                    String n = zoo == Zoo.PYTORCHVIDEO ? e.getKey() : X3dKeys.toPySlowFast(e.getKey());
                    if (n == null) {
                        return Cli.fail("weights export-pytorch", model + ": tensor " + e.getKey() + " has no "
                                + zoo.cliName() + " name");
                    }
                    renamed.put(n, e.getValue());
                }
                SafeTensors.save(renamed, out, Map.of("format", "pt", "names", zoo.cliName()));
                System.out.println(out + ": " + renamed.size() + " tensors under " + zoo.cliName() + " names");
                return 0;
            } catch (RecipeException e) {
                return Cli.fail("weights export-pytorch", e.getMessage());
            } catch (IOException | RuntimeException e) {
                return Cli.fail("weights export-pytorch", e.getMessage());
            }
        }
    }
}
