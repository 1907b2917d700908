import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.cli.Main;
import org.dualdistill.export.ModelCard;
import org.dualdistill.export.StudentExport;
import org.dualdistill.model.io.SafeTensors;
import org.dualdistill.model.x3d.X3d;

/**
 * Dev check, not part of the tests: the Java half of native/dev/check_export_pytorchvideo.py. For each case it builds
 * an X3D student with random weights and random BatchNorm statistics and affine parameters, writes it as an export
 * folder (StudentExport), runs {@code dualdistill weights export-pytorch --model DIR --to pytorchvideo --out
 * CASE.safetensors} in-process, and saves a fixed input and the Java logits (eval mode) to CASE_io.safetensors, with
 * the create_x3d arguments in its metadata. Run from the worktree after {@code mvn package -DskipTests}:
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow \
 *     -cp target/classes:$(cat target/classpath.txt) native/dev/ExportPytorchCheck.java /tmp/export_check
 * </pre>
 */
public class ExportPytorchCheck {
    record Case(String name, double width, double depth, long head, long classes, int clip, int crop, long batch) {
    }

    public static void main(String[] args) throws Exception {
        Path out = Path.of(args.length > 0 ? args[0] : "/tmp/export_check");
        Files.createDirectories(out);
        List<Case> cases = List.of(
                new Case("x3d_demo", 0.5, 0.5, 64, 7, 4, 32, 2),    // the registry's x3d_demo student
                new Case("x3d_s_crop64", 2.0, 2.2, 2048, 51, 13, 64, 1)); // X3D-S (HMDB51 head) at a small crop
        for (Case c : cases) {
            torch.manual_seed(20261203L);
            try (PointerScope scope = new PointerScope();
                 X3d m = X3d.builder().widthFactor(c.width()).depthFactor(c.depth()).headDimOut(c.head())
                         .numClasses(c.classes()).dropout(0.0).clipLength(c.clip()).crop(c.crop()).build()) {
                try (NoGradGuard g = new NoGradGuard()) {
                    randomizeNorms(m);
                }
                m.module().eval();
                List<String> names = new ArrayList<>();
                for (long i = 0; i < c.classes(); i++) {
                    names.add("class" + i);
                }
                Path dir = out.resolve(c.name() + "_export");
                StudentExport.write(dir, m, ModelCard.builder(m.config(), names).build());
                Path f = out.resolve(c.name() + ".safetensors");
                int rc = Main.run("weights", "export-pytorch", "--model", dir.toString(), "--to", "pytorchvideo",
                        "--out", f.toString());
                if (rc != 0) {
                    throw new IllegalStateException("export-pytorch exited " + rc);
                }
                Tensor input;
                Tensor logits;
                try (NoGradGuard g = new NoGradGuard()) {
                    input = torch.rand(c.batch(), 3, c.clip(), c.crop(), c.crop()).mul_(new Scalar(2.0)).sub_(new Scalar(1.0));
                    logits = m.forward(input).logits().contiguous();
                }
                Map<String, Tensor> io = new LinkedHashMap<>();
                io.put("input", input);
                io.put("logits", logits);
                Map<String, String> meta = new LinkedHashMap<>();
                meta.put("width_factor", Double.toString(c.width()));
                meta.put("stem_dim_in", Long.toString(pytorchvideoStemDimIn(c.width())));
                meta.put("depth_factor", Double.toString(c.depth()));
                meta.put("head_dim_out", Long.toString(c.head()));
                meta.put("model_num_class", Long.toString(c.classes()));
                meta.put("input_clip_length", Integer.toString(c.clip()));
                meta.put("input_crop_size", Integer.toString(c.crop()));
                SafeTensors.save(io, out.resolve(c.name() + "_io.safetensors"), meta);
                System.out.println(c.name() + ": wrote " + f + " and " + c.name() + "_io.safetensors (logits "
                        + java.util.Arrays.toString(logits.sizes().vec().get()) + ")");
            }
        }
    }

    /**
     * create_x3d's stem_dim_in for our X3D at this width. Our stages are roundWidth(12, w) * 2^s wide (see X3d);
     * create_x3d's are round_width(stem_dim_in * 2^s, w). At width 2.0 (X3D-S/M/L) both are 24 * 2^s with the
     * default stem_dim_in 12; at the reduced widths 0.5 and 1.0 (x3d_demo, x3d_demo_wide) ours equal create_x3d's
     * with stem_dim_in 16, not 12.
     */
    static long pytorchvideoStemDimIn(double w) {
        long stemOut = Math.max(8, ((long) (12 * w + 4)) / 8 * 8);
        if (stemOut < 0.9 * 12 * w) {
            stemOut += 8;
        }
        double s = stemOut / w;
        if (s != Math.rint(s)) {
            throw new IllegalArgumentException("no create_x3d stem_dim_in for width " + w);
        }
        return (long) s;
    }

    /** Non-trivial BatchNorm state, so eval-mode logits depend on every buffer the export must carry. */
    private static void randomizeNorms(X3d m) {
        Map<String, Tensor> all = new LinkedHashMap<>();
        var ps = m.module().named_parameters();
        for (long i = 0; i < ps.size(); i++) {
            all.put(ps.get(i).key().getString(), ps.get(i).value());
        }
        var bs = m.module().named_buffers();
        for (long i = 0; i < bs.size(); i++) {
            all.put(bs.get(i).key().getString(), bs.get(i).value());
        }
        for (String n : all.keySet()) {
            if (!n.endsWith(".running_mean")) {
                continue;
            }
            String p = n.substring(0, n.length() - ".running_mean".length());
            all.get(p + ".running_mean").uniform_(-0.2, 0.2, new GeneratorOptional());
            all.get(p + ".running_var").uniform_(0.5, 1.5, new GeneratorOptional());
            all.get(p + ".weight").uniform_(0.5, 1.5, new GeneratorOptional());
            all.get(p + ".bias").uniform_(-0.2, 0.2, new GeneratorOptional());
        }
    }
}
