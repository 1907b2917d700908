package org.dualdistill.data.synthetic;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.dualdistill.video.VideoCodec;
import org.dualdistill.video.VideoSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SyntheticActionDatasetTest {
    @TempDir
    Path dir;

    private static SyntheticConfig tiny(long seed) {
        return SyntheticConfig.builder().optVideosPerClass(4).optSize(32, 32).optFrames(8, 12).optSeed(seed).build();
    }

    @Test
    void writesHmdb51Layout() throws Exception {
        Path root = dir.resolve("ds");
        SyntheticDataset ds = SyntheticActionDataset.generate(root, tiny(1));
        assertEquals(8, ds.classes().size());
        assertEquals(32, ds.videos().size());
        assertEquals(List.of("move_left", "move_right", "rotate_cw", "rotate_ccw", "grow", "shrink", "approach", "separate"),
                Files.readAllLines(root.resolve("classes.txt")));
        Pattern line = Pattern.compile("^(\\S+\\.avi) ([012]) $");
        for (ActionClass c : ds.classes()) {
            try (Stream<Path> files = Files.list(root.resolve(c.folderName()))) {
                assertEquals(4, files.filter(p -> p.toString().endsWith(".avi")).count(), c.folderName());
            }
            for (int k = 1; k <= 3; k++) {
                List<String> lines = Files.readAllLines(root.resolve("splits").resolve(c.folderName() + "_test_split" + k + ".txt"),
                        StandardCharsets.UTF_8);
                assertEquals(4, lines.size());
                int train = 0;
                int test = 0;
                for (String l : lines) {
                    var m = line.matcher(l);
                    assertTrue(m.matches(), "HMDB51 split line: '" + l + "'");
                    assertTrue(Files.exists(root.resolve(c.folderName()).resolve(m.group(1))), m.group(1));
                    int tag = Integer.parseInt(m.group(2));
                    train += tag == 1 ? 1 : 0;
                    test += tag == 2 ? 1 : 0;
                    String name = m.group(1);
                    SyntheticVideo v = ds.videos().stream().filter(x -> x.name().equals(name)).findFirst().orElseThrow();
                    assertEquals(tag, v.tag(k));
                }
                assertEquals(3, train, c + " split " + k); // round(0.7 * 4)
                assertEquals(1, test);
            }
        }
        assertEquals(8 * 3, ds.videos(1, 1).size());
        for (SyntheticVideo v : ds.videos()) {
            try (VideoSource s = VideoSource.open(v.file())) {
                assertEquals(v.frames(), s.frameCount(), v.name());
                assertTrue(v.frames() >= 8 && v.frames() <= 12);
                assertEquals("mpeg4", s.info().codec());
                assertEquals(32, s.info().width());
                assertEquals(32, s.info().height());
                assertEquals(15, s.info().frameRate().num());
            }
        }
    }

    @Test
    void sameSeedSameBytesAnyThreads() throws Exception {
        SyntheticDataset a = SyntheticActionDataset.generate(dir.resolve("a"), tiny(7));
        SyntheticConfig twoThreads = SyntheticConfig.builder().optVideosPerClass(4).optSize(32, 32).optFrames(8, 12).optSeed(7).optThreads(2)
                .build();
        SyntheticDataset b = SyntheticActionDataset.generate(dir.resolve("b"), twoThreads);
        SyntheticDataset c = SyntheticActionDataset.generate(dir.resolve("c"), tiny(8));
        int differ = 0;
        for (int i = 0; i < a.videos().size(); i++) {
            byte[] fa = Files.readAllBytes(a.videos().get(i).file());
            assertArrayEquals(fa, Files.readAllBytes(b.videos().get(i).file()), a.videos().get(i).name());
            if (!Arrays.equals(fa, Files.readAllBytes(c.videos().get(i).file()))) {
                differ++;
            }
        }
        assertEquals(a.videos().size(), differ, "another seed changes every video");
        for (String f : List.of("splits/grow_test_split2.txt", "classes.txt")) {
            assertArrayEquals(Files.readAllBytes(dir.resolve("a").resolve(f)), Files.readAllBytes(dir.resolve("b").resolve(f)));
        }
    }

    /** The core property: a class is its partner played backwards, so frames alone cannot tell them apart. */
    @Test
    void pairsAreExactTimeReversals() {
        SyntheticConfig cfg = SyntheticConfig.builder().optSize(40, 32).build();
        for (ActionClass c : ActionClass.values()) {
            assertEquals(c, c.partner().partner());
            assertTrue(c.reversed() != c.partner().reversed());
            for (long seed = 0; seed < 3; seed++) {
                List<byte[]> fwd = SyntheticActionDataset.renderFrames(c, seed, 13, cfg);
                List<byte[]> bwd = SyntheticActionDataset.renderFrames(c.partner(), seed, 13, cfg);
                for (int t = 0; t < 13; t++) {
                    assertArrayEquals(fwd.get(t), bwd.get(12 - t), c + " frame " + t + " seed " + seed);
                }
                assertFalse(Arrays.equals(fwd.get(0), fwd.get(12)), "the video changes over time");
            }
        }
    }

    @Test
    void actorsMoveAsTheClassSays() {
        SyntheticConfig cfg = SyntheticConfig.builder().optSize(64, 64).build();
        for (long seed = 0; seed < 20; seed++) {
            int t = 16;
            assertTrue(increasing(Scene.sample(ActionClass.MOVE_RIGHT, seed, t, cfg).actors.get(0).cx()));
            assertTrue(increasing(reverse(Scene.sample(ActionClass.MOVE_LEFT, seed, t, cfg).actors.get(0).cx())));
            assertTrue(increasing(Scene.sample(ActionClass.MOVE_DOWN, seed, t, cfg).actors.get(0).cy()));
            assertTrue(increasing(reverse(Scene.sample(ActionClass.MOVE_UP, seed, t, cfg).actors.get(0).cy())));
            assertTrue(increasing(Scene.sample(ActionClass.ROTATE_CW, seed, t, cfg).actors.get(0).angle()), "clockwise = growing angle");
            assertTrue(increasing(reverse(Scene.sample(ActionClass.ROTATE_CCW, seed, t, cfg).actors.get(0).angle())));
            assertTrue(increasing(Scene.sample(ActionClass.GROW, seed, t, cfg).actors.get(0).scale()));
            assertTrue(increasing(reverse(Scene.sample(ActionClass.SHRINK, seed, t, cfg).actors.get(0).scale())));
            Scene approach = Scene.sample(ActionClass.APPROACH, seed, t, cfg);
            assertEquals(2, approach.actors.size());
            assertTrue(distance(approach, 0) > distance(approach, t - 1));
            Scene separate = Scene.sample(ActionClass.SEPARATE, seed, t, cfg);
            assertTrue(distance(separate, 0) < distance(separate, t - 1));
        }
    }

    @Test
    void renderedObjectIsWhereItsTrackSays() {
        SyntheticConfig cfg = SyntheticConfig.builder().optSize(64, 64).optNoise(0).build();
        for (long seed = 0; seed < 5; seed++) {
            Scene s = Scene.sample(ActionClass.MOVE_RIGHT, seed, 12, cfg);
            Scene empty = s.withoutActors();
            double first = centroidX(s.render(0), empty.render(0), 64);
            double last = centroidX(s.render(11), empty.render(11), 64);
            assertEquals(s.actors.get(0).cx()[0], first, 2.5, "seed " + seed);
            assertEquals(s.actors.get(0).cx()[11], last, 2.5, "seed " + seed);
            assertTrue(last > first);
        }
    }

    /** The drawn triangle's apex points along the angle track: clockwise on screen for ROTATE_CW (y grows downwards). */
    @Test
    void renderedRotationIsClockwiseOnScreen() {
        SyntheticConfig cfg = SyntheticConfig.builder().optSize(96, 96).optNoise(0).optJitter(0).optDistractors(0).build();
        int checked = 0;
        for (long seed = 0; checked < 3 && seed < 200; seed++) {
            Scene s = Scene.sample(ActionClass.ROTATE_CW, seed, 12, cfg);
            Scene.Sprite sp = s.actors.get(0);
            if (sp.shape() != Scene.Shape.TRIANGLE) {
                continue;
            }
            checked++;
            Scene empty = s.withoutActors();
            double previous = Double.NaN;
            for (int t = 0; t < 12; t += 3) {
                double apex = apexDirection(s.render(t), empty.render(t), 96, sp.cx()[t], sp.cy()[t]);
                double want = Math.atan2(Math.sin(sp.angle()[t]), Math.cos(sp.angle()[t]));
                assertEquals(0, Math.abs(Math.atan2(Math.sin(apex - want), Math.cos(apex - want))), 0.2, "seed " + seed + " t " + t);
                if (!Double.isNaN(previous)) {
                    double step = Math.atan2(Math.sin(apex - previous), Math.cos(apex - previous));
                    assertTrue(step > 0, "the apex turns clockwise on screen (atan2 with y down grows)");
                }
                previous = apex;
            }
        }
        assertEquals(3, checked);
    }

    /** @return the screen angle (y down) from the centre to the object pixel farthest from it */
    private static double apexDirection(byte[] with, byte[] without, int w, double cx, double cy) {
        double best = -1;
        double dir = 0;
        for (int i = 0; i < with.length; i += 3) {
            int d = Math.abs((with[i] & 0xff) - (without[i] & 0xff)) + Math.abs((with[i + 1] & 0xff) - (without[i + 1] & 0xff))
                    + Math.abs((with[i + 2] & 0xff) - (without[i + 2] & 0xff));
            if (d < 150) {
                continue;
            }
            double dx = (i / 3) % w + 0.5 - cx;
            double dy = (i / 3) / w + 0.5 - cy;
            if (Math.hypot(dx, dy) > best) {
                best = Math.hypot(dx, dy);
                dir = Math.atan2(dy, dx);
            }
        }
        return dir;
    }

    @Test
    void h264Mp4Format() throws Exception {
        assumeTrue(VideoCodec.H264.canEncode(), "no openh264");
        SyntheticConfig cfg = SyntheticConfig.builder().optNumClasses(2).optVideosPerClass(2).optSize(48, 32).optFrames(6, 6)
                .optFormat(SyntheticConfig.Format.H264_MP4).optSplits(1).build();
        SyntheticDataset ds = SyntheticActionDataset.generate(dir.resolve("h264"), cfg);
        assertEquals(4, ds.videos().size());
        for (SyntheticVideo v : ds.videos()) {
            assertTrue(v.name().endsWith(".mp4"));
            try (VideoSource s = VideoSource.open(v.file())) {
                assertEquals("h264", s.info().codec());
                assertEquals(6, s.frameCount());
            }
        }
        assertTrue(Files.exists(ds.splitDir().resolve("move_right_test_split1.txt")));
        assertFalse(Files.exists(ds.splitDir().resolve("move_right_test_split2.txt")));
    }

    @Test
    void rejectsBadSettings() {
        assertThrows(IllegalArgumentException.class, () -> SyntheticConfig.builder().optNumClasses(11).build());
        assertThrows(IllegalArgumentException.class, () -> SyntheticConfig.builder().optFrames(10, 5).build());
        assertThrows(IllegalArgumentException.class, () -> SyntheticConfig.builder().optSize(8, 64).build());
        assertThrows(IllegalArgumentException.class, () -> SyntheticConfig.builder().optFractions(0.8, 0.3).build());
        assertThrows(IllegalArgumentException.class, () -> SyntheticConfig.builder().optVideosPerClass(1).build());
        assertThrows(IllegalArgumentException.class, () -> SyntheticActionDataset.renderFrames(ActionClass.GROW, 0, 0, tiny(0)));
    }

    private static double centroidX(byte[] with, byte[] without, int w) {
        double sum = 0;
        double mass = 0;
        for (int i = 0; i < with.length; i += 3) {
            int d = Math.abs((with[i] & 0xff) - (without[i] & 0xff)) + Math.abs((with[i + 1] & 0xff) - (without[i + 1] & 0xff))
                    + Math.abs((with[i + 2] & 0xff) - (without[i + 2] & 0xff));
            int x = (i / 3) % w;
            sum += d * (x + 0.5);
            mass += d;
        }
        return sum / mass;
    }

    private static double distance(Scene s, int t) {
        return Math.hypot(s.actors.get(0).cx()[t] - s.actors.get(1).cx()[t], s.actors.get(0).cy()[t] - s.actors.get(1).cy()[t]);
    }

    private static boolean increasing(double[] a) {
        for (int i = 1; i < a.length; i++) {
            if (a[i] < a[i - 1]) {
                return false;
            }
        }
        return a[a.length - 1] > a[0];
    }

    private static double[] reverse(double[] a) {
        double[] r = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            r[i] = a[a.length - 1 - i];
        }
        return r;
    }

    @Test
    void defaultDatasetIsSmallAndQuick() throws IOException {
        SyntheticConfig d = SyntheticConfig.defaults();
        assertEquals(8, d.numClasses());
        assertEquals(24, d.videosPerClass());
        long t0 = System.nanoTime();
        SyntheticDataset ds = SyntheticActionDataset.generate(dir.resolve("default"), d);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        long bytes = 0;
        for (SyntheticVideo v : ds.videos()) {
            bytes += Files.size(v.file());
        }
        System.out.printf("default synthetic dataset: %d videos, %d KiB, %d ms%n", ds.videos().size(), bytes / 1024, ms);
        assertEquals(192, ds.videos().size());
    }
}
