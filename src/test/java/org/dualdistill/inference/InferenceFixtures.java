package org.dualdistill.inference;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

import org.bytedeco.pytorch.global.torch;
import org.dualdistill.export.ModelCard;
import org.dualdistill.export.StudentExport;
import org.dualdistill.model.x3d.X3d;
import org.dualdistill.video.EncoderOptions;
import org.dualdistill.video.VideoCodec;
import org.dualdistill.video.VideoEncoder;

/**
 * What the inference tests share, made once per JVM: an exported tiny X3D (width 0.5, depth 0.5, 64-d head, 4
 * classes, 4 frames x 32 px, stride 2, short side 32; random weights from seed 7) and small mpeg4 videos of random
 * blocks written at test time (no binary media in the repository).
 */
final class InferenceFixtures {
    static final List<String> CLASSES = List.of("left", "right", "grow", "shrink");
    private static Path export;
    private static Path videos;

    private InferenceFixtures() {
    }

    /** @return the export folder of the tiny student */
    static synchronized Path export() throws IOException {
        if (export == null) {
            Path d = Files.createTempDirectory("dualdistill-inference").resolve("student");
            torch.manual_seed(7);
            try (X3d s = X3d.builder().widthFactor(0.5).depthFactor(0.5).headDimOut(64).numClasses(4).clipLength(4).crop(32).build()) {
                StudentExport.write(d, s, ModelCard.builder(s.config(), CLASSES).optInput(4, 2, 32, 32).addMetric("top1", 0.25).build());
            }
            export = d;
        }
        return export;
    }

    /**
     * @param i which video (content depends only on i)
     * @return a 48x32, 16-frame mpeg4 video of drifting random blocks
     */
    static synchronized Path video(int i) throws IOException {
        if (videos == null) {
            videos = Files.createTempDirectory("dualdistill-inference-videos");
        }
        Path f = videos.resolve("v" + i + ".avi");
        if (!Files.exists(f)) {
            int w = 48;
            int h = 32;
            SplittableRandom rnd = new SplittableRandom(1000 + i);
            int[] base = new int[(w / 8) * (h / 8) * 3];
            for (int k = 0; k < base.length; k++) {
                base[k] = rnd.nextInt(256);
            }
            int dx = rnd.nextInt(1, 3);
            try (VideoEncoder enc = VideoEncoder.open(f, EncoderOptions.builder(VideoCodec.MPEG4, w, h).optFrameRate(25).optGopSize(8).build())) {
                for (int t = 0; t < 16; t++) {
                    byte[] rgb = new byte[w * h * 3];
                    for (int y = 0; y < h; y++) {
                        for (int x = 0; x < w; x++) {
                            int bx = ((x + t * dx) / 8) % (w / 8);
                            int b = ((y / 8) * (w / 8) + bx) * 3;
                            for (int c = 0; c < 3; c++) {
                                rgb[(y * w + x) * 3 + c] = (byte) base[b + c];
                            }
                        }
                    }
                    enc.writeFrame(rgb);
                }
            }
        }
        return f;
    }

    /**
     * @param i which clip
     * @return a [3, 4, 32, 32] clip of values in [0, 1] (content depends only on i)
     */
    static ClipInput clip(int i) {
        SplittableRandom rnd = new SplittableRandom(i);
        float[] d = new float[3 * 4 * 32 * 32];
        for (int k = 0; k < d.length; k++) {
            d[k] = (float) rnd.nextDouble();
        }
        return new ClipInput("clip-" + i, d, 4, 32, 32);
    }
}
