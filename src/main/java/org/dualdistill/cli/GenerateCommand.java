package org.dualdistill.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.dualdistill.data.synthetic.SyntheticActionDataset;
import org.dualdistill.data.synthetic.SyntheticConfig;
import org.dualdistill.data.synthetic.SyntheticDataset;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Writes the synthetic action dataset in the HMDB51 layout (class folders of videos plus split files). */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Write the synthetic action dataset (HMDB51 layout: class folders, splits/*_test_split<k>.txt).")
final class GenerateCommand implements Callable<Integer> {
    @Option(names = "--out", required = true, paramLabel = "DIR", description = "output folder")
    Path out;
    @Option(names = "--classes", description = "classes, 2..10 (default ${DEFAULT-VALUE})")
    int classes = 8;
    @Option(names = "--videos-per-class", description = "videos per class (default ${DEFAULT-VALUE})")
    int videosPerClass = 24;
    @Option(names = "--size", description = "frame width = height in pixels (default ${DEFAULT-VALUE})")
    int size = 64;
    @Option(names = "--frames", arity = "2", paramLabel = "N", description = "shortest and longest video in frames (default 16 32)")
    int[] frames = {16, 32};
    @Option(names = "--seed", description = "master seed (default ${DEFAULT-VALUE})")
    long seed = 0;
    @Option(names = "--format", description = "avi (MPEG-4, as HMDB51), mjpeg (MJPEG in AVI) or mp4 (H.264) (default ${DEFAULT-VALUE})")
    String format = "avi";
    @Option(names = "--threads", description = "videos encoded in parallel (default ${DEFAULT-VALUE})")
    int threads = 1;

    @Override
    public Integer call() {
        SyntheticConfig.Format f = switch (format.toLowerCase(Locale.ROOT)) {
            case "avi", "mpeg4" -> SyntheticConfig.Format.MPEG4_AVI;
            case "mp4", "h264" -> SyntheticConfig.Format.H264_MP4;
            case "mjpeg" -> SyntheticConfig.Format.MJPEG_AVI;
            default -> null;
        };
        if (f == null) {
            System.err.println("generate: --format must be avi, mp4 or mjpeg, got \"" + format + "\"");
            return 2;
        }
        SyntheticConfig cfg;
        try {
            cfg = SyntheticConfig.builder().optNumClasses(classes).optVideosPerClass(videosPerClass).optSize(size, size)
                    .optFrames(frames[0], frames[1]).optSeed(seed).optFormat(f).optThreads(threads).build();
        } catch (IllegalArgumentException e) {
            System.err.println("generate: " + e.getMessage());
            return 2;
        }
        long t0 = System.nanoTime();
        SyntheticDataset ds;
        try (Progress bar = Progress.of("generate", (long) cfg.classes().size() * cfg.videosPerClass(), "video")) {
            ds = SyntheticActionDataset.generate(out, cfg, v -> bar.step(v.file().getFileName().toString()));
        } catch (IOException | RuntimeException e) {
            System.err.println("generate: cannot write " + out + ": " + e.getMessage());
            return 1;
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        System.out.printf(Locale.ROOT, "wrote %d videos (%d classes x %d, %dx%d, %d-%d frames, %s) to %s in %.2f s%n",
                ds.videos().size(), classes, videosPerClass, size, size, frames[0], frames[1], f, out.toAbsolutePath(), secs);
        return 0;
    }
}
