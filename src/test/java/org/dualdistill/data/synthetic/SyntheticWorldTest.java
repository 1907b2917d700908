package org.dualdistill.data.synthetic;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

import org.dualdistill.data.AnnotationException;
import org.dualdistill.data.Hmdb51Dataset;
import org.dualdistill.data.LabeledVideo;
import org.dualdistill.video.VideoSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SyntheticWorldTest {
    @TempDir
    Path dir;

    private static final List<WorldClass> LR = List.of(WorldClass.IN_PHASE, WorldClass.ANTI_PHASE, WorldClass.LEFT_LEADS,
            WorldClass.RIGHT_LEADS);

    /** A small world: 4 source classes x (3 + 1), the design's 8 target classes x (3 + 2 + 2). */
    private static WorldConfig tiny(long seed, int threads) {
        return WorldConfig.builder().optSeed(seed).optThreads(threads).optFrames(8, 10)
                .optSource(List.of(WorldClass.MOVE_UP, WorldClass.MOVE_FAST, WorldClass.TOP_LEADS, WorldClass.BOTTOM_LEADS), 3, 1)
                .optTarget(WorldConfig.TARGET_CLASSES, 3, 2, 2).build();
    }

    @Test
    void defaultsAreTheDesign() {
        WorldConfig d = WorldConfig.defaults();
        assertEquals(32, d.width());
        assertEquals(14, d.sourceClasses().size());
        assertEquals(160, d.videosPerClass(WorldDomain.SOURCE));
        assertEquals(8, d.targetClasses().size());
        assertEquals(List.of(40, 10, 30), List.of(d.targetTrain(), d.targetValidation(), d.targetTest()));
        assertEquals(4, d.targetClasses().stream().filter(c -> c.family() == ClassFamily.RELATION).count());
        assertTrue(d.sourceClasses().containsAll(d.targetClasses()), "the source holds every target concept");
        assertThrows(IllegalArgumentException.class, () -> WorldConfig.builder().optSize(16, 32).build());
        assertThrows(IllegalArgumentException.class,
                () -> WorldConfig.builder().optTarget(List.of(WorldClass.IN_PHASE, WorldClass.IN_PHASE), 1, 1, 1).build());
    }

    @Test
    void sameSeedSameBytesAnyThreadsOtherSeedOtherBytes() throws Exception {
        World a = SyntheticWorld.generate(dir.resolve("a"), tiny(5, 1));
        World b = SyntheticWorld.generate(dir.resolve("b"), tiny(5, 2));
        World c = SyntheticWorld.generate(dir.resolve("c"), tiny(6, 1));
        List<Path> files = relativeFiles(dir.resolve("a"));
        assertEquals(files, relativeFiles(dir.resolve("b")));
        assertEquals(1 + (2 + 4 + 4 * 4) + (2 + 8 + 8 * 7), files.size(), files.toString());
        for (Path f : files) {
            assertArrayEquals(Files.readAllBytes(dir.resolve("a").resolve(f)), Files.readAllBytes(dir.resolve("b").resolve(f)), f.toString());
        }
        List<WorldVideo> va = new ArrayList<>(a.source().videos());
        va.addAll(a.target().videos());
        List<WorldVideo> vc = new ArrayList<>(c.source().videos());
        vc.addAll(c.target().videos());
        assertEquals(va.size(), vc.size());
        for (int i = 0; i < va.size(); i++) {
            assertFalse(Arrays.equals(Files.readAllBytes(va.get(i).file()), Files.readAllBytes(vc.get(i).file())),
                    "another seed changes " + va.get(i).name());
        }
        assertFalse(Arrays.equals(Files.readAllBytes(dir.resolve("a/world.json")), Files.readAllBytes(dir.resolve("c/world.json"))));
    }

    @Test
    void splitsHaveTheirSizesAreDisjointAndHmdb51ReadsThem() throws Exception {
        World w = SyntheticWorld.generate(dir, tiny(1, 1));
        Path target = w.target().root();
        Hmdb51Dataset train = SyntheticWorld.train(target);
        Hmdb51Dataset val = SyntheticWorld.validation(target);
        Hmdb51Dataset test = SyntheticWorld.test(target);
        assertEquals(8 * 3, train.size());
        assertEquals(8 * 2, val.size());
        assertEquals(8 * 2, test.size());
        assertEquals(WorldConfig.TARGET_CLASSES.stream().map(WorldClass::folderName).toList(), train.classNames());
        Set<String> seen = new HashSet<>();
        for (Hmdb51Dataset d : List.of(train, val, test)) {
            int[] perClass = new int[8];
            for (int i = 0; i < d.size(); i++) {
                LabeledVideo v = d.get(i);
                assertTrue(seen.add(v.id()), "in two subsets: " + v.id());
                assertTrue(Files.isRegularFile(v.path()));
                perClass[v.label()]++;
                assertTrue(v.id().startsWith(WorldConfig.TARGET_CLASSES.get(v.label()).folderName() + "/"), v.id());
            }
            int expected = d == train ? 3 : 2;
            for (int n : perClass) {
                assertEquals(expected, n, d.name());
            }
        }
        assertEquals(8 * 7, seen.size(), "train, validation and test cover every target video");
        assertEquals(4 * 3, SyntheticWorld.train(w.source().root()).size());
        assertEquals(4 * 1, SyntheticWorld.test(w.source().root()).size());
        assertEquals(0, SyntheticWorld.validation(w.source().root()).size());
        assertEquals(WorldConfig.TARGET_CLASSES.stream().map(WorldClass::family).toList(), SyntheticWorld.families(target));
        assertEquals(List.of(ClassFamily.LOCAL, ClassFamily.LOCAL, ClassFamily.RELATION, ClassFamily.RELATION),
                SyntheticWorld.families(w.source().root()));
        for (WorldVideo v : w.target().videos().subList(0, 3)) {
            try (VideoSource s = VideoSource.open(v.file())) {
                assertEquals(v.frames(), s.frameCount());
                assertEquals("mpeg4", s.info().codec());
                assertEquals(32, s.info().width());
            }
        }
        String manifest = Files.readString(dir.resolve(SyntheticWorld.MANIFEST));
        assertTrue(manifest.contains(w.config().stamp()), manifest);
        Files.writeString(target.resolve(SyntheticWorld.FAMILIES_FILE), "move_left local\nmove_right global\n", StandardCharsets.UTF_8);
        AnnotationException e = assertThrows(AnnotationException.class, () -> SyntheticWorld.families(target));
        assertTrue(e.getMessage().contains("families.txt") && e.getMessage().contains("2"), e.getMessage());
    }

    /**
     * Each object alone is uninformative, exactly: for one seed the first object's half is byte-identical in the four
     * classes, and the second object's half in class c at base phase psi equals class c' at psi + off(c) - off(c').
     * With the design's noise and camera shake on.
     */
    @Test
    void eitherHalfAloneCarriesNoInformationAboutTheRelation() {
        WorldConfig cfg = WorldConfig.defaults();
        for (WorldDomain d : WorldDomain.values()) {
            for (long seed = 0; seed < 6; seed++) {
                double psi = 0.7 + seed;
                List<byte[]> ref = frames(WorldClass.IN_PHASE, d, seed, cfg, psi);
                for (WorldClass c : LR) {
                    List<byte[]> f = frames(c, d, seed, cfg, psi);
                    List<byte[]> shifted = frames(c, d, seed, cfg, psi + WorldClass.IN_PHASE.phaseOffset() - c.phaseOffset());
                    for (int t = 0; t < f.size(); t++) {
                        assertArrayEquals(half(ref.get(t), cfg, true), half(f.get(t), cfg, true), c + " left half, seed " + seed);
                        assertArrayEquals(half(ref.get(t), cfg, false), half(shifted.get(t), cfg, false), c + " right half, seed " + seed);
                    }
                    if (c != WorldClass.IN_PHASE) {
                        boolean differ = false;
                        for (int t = 0; t < f.size(); t++) {
                            differ |= !Arrays.equals(ref.get(t), f.get(t));
                        }
                        assertTrue(differ, "the whole frames of " + c + " differ from in_phase");
                    }
                }
            }
        }
    }

    /** The relative phase, recovered from the pixels of both halves, is the class's, for every seed; both halves move. */
    @Test
    void relativePhaseFromPixelsIsTheClass() {
        WorldConfig cfg = WorldConfig.builder().optNoise(0).optJitter(0).build();
        int frames = 20;
        for (WorldDomain d : WorldDomain.values()) {
            for (WorldClass c : List.of(WorldClass.IN_PHASE, WorldClass.ANTI_PHASE, WorldClass.LEFT_LEADS, WorldClass.RIGHT_LEADS,
                    WorldClass.TOP_LEADS, WorldClass.BOTTOM_LEADS)) {
                boolean lr = c.arrangement() == WorldClass.Arrangement.LEFT_RIGHT;
                for (long seed = 0; seed < 8; seed++) {
                    Scene s = WorldScene.sample(c, d, seed, frames, cfg, Double.NaN);
                    Scene empty = s.withoutActors();
                    double[] first = new double[frames];
                    double[] second = new double[frames];
                    for (int t = 0; t < frames; t++) {
                        double[][] m = actorMass(s.render(t), empty.render(t), cfg.width(), cfg.height());
                        // no object pixel near the midline: the halves are separate
                        assertEquals(0, midlineMass(m, lr), 1e-9, c + " seed " + seed + " frame " + t);
                        first[t] = centroid(m, lr, true);
                        second[t] = centroid(m, lr, false);
                    }
                    double[] phases = phases(first, second);
                    double rel = wrap(phases[1] - phases[0]);
                    assertEquals(0, wrap(rel - c.phaseOffset()), 0.3, c + " seed " + seed + " " + d + ": relative phase " + rel);
                    WorldClass nearest = null;
                    for (WorldClass o : WorldClass.values()) {
                        if (o.arrangement() == c.arrangement()
                                && (nearest == null || Math.abs(wrap(rel - o.phaseOffset())) < Math.abs(wrap(rel - nearest.phaseOffset())))) {
                            nearest = o;
                        }
                    }
                    assertEquals(c, nearest);
                    assertTrue(range(first) > 3 && range(second) > 3, "both objects oscillate by several pixels");
                }
            }
        }
    }

    /** Geometry on the tracks: at the smallest size and largest shake allowed, every object pixel stays in its half. */
    @Test
    void relationObjectsStayInTheirHalvesAtTheLimits() {
        for (int size : new int[] {24, 32, 77}) {
            WorldConfig cfg = WorldConfig.builder().optSize(size, size).optJitter(0.5).build();
            for (WorldDomain d : WorldDomain.values()) {
                for (WorldClass c : List.of(WorldClass.IN_PHASE, WorldClass.RIGHT_LEADS, WorldClass.TOP_LEADS)) {
                    boolean lr = c.arrangement() == WorldClass.Arrangement.LEFT_RIGHT;
                    for (long seed = 0; seed < 300; seed++) {
                        Scene s = WorldScene.sample(c, d, seed, 20, cfg, Double.NaN);
                        for (int t = 0; t < 20; t++) {
                            for (int k = 0; k < 2; k++) {
                                Scene.Sprite o = s.actors.get(k);
                                double pos = lr ? o.cx()[t] + s.jitterX[t] : o.cy()[t] + s.jitterY[t];
                                double reach = 1.25 * o.scale()[t] + 1; // the rasterizer's bounding radius
                                String where = c + " " + d + " size " + size + " seed " + seed + " t " + t;
                                if (k == 0) {
                                    assertTrue(pos + reach < size / 2.0, where);
                                } else {
                                    assertTrue(pos - reach > size / 2.0, where);
                                }
                            }
                        }
                    }
                }
            }
        }
        assertThrows(IllegalArgumentException.class, () -> WorldConfig.builder().optJitter(0.6).build());
    }

    /** Local classes: their defining motion measured on the pixels (centroid of the object). */
    @Test
    void localClassesMoveAsTheirNameSays() {
        WorldConfig cfg = WorldConfig.builder().optNoise(0).optJitter(0).build();
        int frames = 16;
        for (long seed = 0; seed < 8; seed++) {
            assertTrue(displacement(WorldClass.MOVE_RIGHT, seed, frames, cfg)[0] > 4);
            assertTrue(displacement(WorldClass.MOVE_LEFT, seed, frames, cfg)[0] < -4);
            assertTrue(displacement(WorldClass.MOVE_DOWN, seed, frames, cfg)[1] > 4);
            assertTrue(displacement(WorldClass.MOVE_UP, seed, frames, cfg)[1] < -4);
            double[] fast = displacement(WorldClass.MOVE_FAST, seed, frames, cfg);
            double[] slow = displacement(WorldClass.MOVE_SLOW, seed, frames, cfg);
            double fastSpeed = Math.hypot(fast[0], fast[1]) / (frames - 1);
            double slowSpeed = Math.hypot(slow[0], slow[1]) / (frames - 1);
            assertTrue(fastSpeed > 0.65 && slowSpeed < 0.55, "fast " + fastSpeed + " slow " + slowSpeed + " px/frame, seed " + seed);
            for (WorldClass r : List.of(WorldClass.ROTATE_CW, WorldClass.ROTATE_CCW)) {
                double[] a = WorldScene.sample(r, WorldDomain.TARGET, seed, frames, cfg, Double.NaN).actors.get(0).angle();
                assertTrue(r == WorldClass.ROTATE_CW ? a[frames - 1] > a[0] + 1 : a[frames - 1] < a[0] - 1, r + " seed " + seed);
            }
        }
    }

    // ---------------------------------------------------------------- helpers

    private static List<byte[]> frames(WorldClass c, WorldDomain d, long seed, WorldConfig cfg, double psi) {
        Scene s = WorldScene.sample(c, d, seed, 12, cfg, psi);
        List<byte[]> out = new ArrayList<>();
        for (int t = 0; t < 12; t++) {
            out.add(s.render(t));
        }
        return out;
    }

    /** The left (first) or right (second) half of an RGB24 frame. */
    private static byte[] half(byte[] img, WorldConfig cfg, boolean first) {
        int w = cfg.width();
        int hw = w / 2;
        byte[] out = new byte[cfg.height() * hw * 3];
        for (int y = 0; y < cfg.height(); y++) {
            System.arraycopy(img, (y * w + (first ? 0 : hw)) * 3, out, y * hw * 3, hw * 3);
        }
        return out;
    }

    /** Per pixel, how much the objects change it (sum of absolute channel differences from the empty scene). */
    private static double[][] actorMass(byte[] img, byte[] empty, int w, int h) {
        double[][] m = new double[h][w];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                for (int k = 0; k < 3; k++) {
                    int o = (y * w + x) * 3 + k;
                    m[y][x] += Math.abs((img[o] & 0xFF) - (empty[o] & 0xFF));
                }
            }
        }
        return m;
    }

    private static double midlineMass(double[][] m, boolean lr) {
        int h = m.length;
        int w = m[0].length;
        double s = 0;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int along = lr ? x : y;
                int size = lr ? w : h;
                if (Math.abs(along + 0.5 - size / 2.0) < 2) {
                    s += m[y][x];
                }
            }
        }
        return s;
    }

    /** Centroid, along the oscillation axis, of the object mass in the first or second half. */
    private static double centroid(double[][] m, boolean lr, boolean first) {
        int h = m.length;
        int w = m[0].length;
        double sum = 0;
        double acc = 0;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int along = lr ? x : y;
                int size = lr ? w : h;
                if ((along < size / 2) == first) {
                    sum += m[y][x];
                    acc += m[y][x] * ((lr ? y : x) + 0.5);
                }
            }
        }
        assertTrue(sum > 0, "the object is visible");
        return acc / sum;
    }

    /** Phases of two tracks at the common period that fits them best (grid search over 5-16 frames, least squares). */
    private static double[] phases(double[] a, double[] b) {
        double bestErr = Double.POSITIVE_INFINITY;
        double[] best = null;
        for (double p = 5; p <= 16; p += 0.01) {
            double[] fa = fit(a, p);
            double[] fb = fit(b, p);
            if (fa[3] + fb[3] < bestErr) {
                bestErr = fa[3] + fb[3];
                best = new double[] {Math.atan2(fa[2], fa[1]), Math.atan2(fb[2], fb[1])};
            }
        }
        return best;
    }

    /** Least squares y = c0 + c1 sin(wt) + c2 cos(wt); returns {c0, c1, c2, squared residual}. */
    private static double[] fit(double[] y, double period) {
        double w = 2 * Math.PI / period;
        double[][] a = new double[3][4];
        for (int t = 0; t < y.length; t++) {
            double[] basis = {1, Math.sin(w * t), Math.cos(w * t)};
            for (int i = 0; i < 3; i++) {
                for (int j = 0; j < 3; j++) {
                    a[i][j] += basis[i] * basis[j];
                }
                a[i][3] += basis[i] * y[t];
            }
        }
        for (int i = 0; i < 3; i++) { // Gauss-Jordan on the 3x3 normal equations
            int piv = i;
            for (int r = i + 1; r < 3; r++) {
                if (Math.abs(a[r][i]) > Math.abs(a[piv][i])) {
                    piv = r;
                }
            }
            double[] tmp = a[i];
            a[i] = a[piv];
            a[piv] = tmp;
            for (int r = 0; r < 3; r++) {
                if (r != i) {
                    double f = a[r][i] / a[i][i];
                    for (int k = i; k < 4; k++) {
                        a[r][k] -= f * a[i][k];
                    }
                }
            }
        }
        double[] c = {a[0][3] / a[0][0], a[1][3] / a[1][1], a[2][3] / a[2][2]};
        double err = 0;
        for (int t = 0; t < y.length; t++) {
            double r = y[t] - c[0] - c[1] * Math.sin(w * t) - c[2] * Math.cos(w * t);
            err += r * r;
        }
        return new double[] {c[0], c[1], c[2], err};
    }

    /** Object centroid displacement (x, y) from the first to the last frame, from the pixels. */
    private static double[] displacement(WorldClass c, long seed, int frames, WorldConfig cfg) {
        Scene s = WorldScene.sample(c, WorldDomain.TARGET, seed, frames, cfg, Double.NaN);
        Scene empty = s.withoutActors();
        double[] p0 = centroid2(actorMass(s.render(0), empty.render(0), cfg.width(), cfg.height()));
        double[] p1 = centroid2(actorMass(s.render(frames - 1), empty.render(frames - 1), cfg.width(), cfg.height()));
        return new double[] {p1[0] - p0[0], p1[1] - p0[1]};
    }

    private static double[] centroid2(double[][] m) {
        double sum = 0;
        double sx = 0;
        double sy = 0;
        for (int y = 0; y < m.length; y++) {
            for (int x = 0; x < m[0].length; x++) {
                sum += m[y][x];
                sx += m[y][x] * (x + 0.5);
                sy += m[y][x] * (y + 0.5);
            }
        }
        return new double[] {sx / sum, sy / sum};
    }

    private static double range(double[] v) {
        return Arrays.stream(v).max().orElseThrow() - Arrays.stream(v).min().orElseThrow();
    }

    private static double wrap(double a) {
        double r = Math.IEEEremainder(a, 2 * Math.PI);
        return r;
    }

    private static List<Path> relativeFiles(Path root) throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            return s.filter(Files::isRegularFile).map(root::relativize).sorted().toList();
        }
    }
}
