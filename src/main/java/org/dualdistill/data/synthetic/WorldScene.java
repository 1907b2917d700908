package org.dualdistill.data.synthetic;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Samples the {@link Scene} of one video of the {@link SyntheticWorld} (docs/benchmark-world.md). Stateless.
 *
 * <p>Coupling across relation classes (what the tests rely on): every random draw of a relation video (background,
 * shake, flicker, noise, objects, period, amplitude and the base phase psi) is made in the same order whatever the
 * class; the class only sets the second object's phase to psi + {@link WorldClass#phaseOffset()}. Hence, for one seed,
 * the first object's half of the frame is the same in every class of an arrangement.
 */
final class WorldScene {
    /** Range of the first (left or top) object's centre along the arrangement axis, as fractions of the frame. */
    static final double FIRST_LO = 0.12;
    static final double FIRST_HI = 0.22;
    /** Range of the second object's centre; mirror of the first. */
    static final double SECOND_LO = 0.78;
    static final double SECOND_HI = 0.88;

    private WorldScene() {
    }

    /**
     * @param cls       the class
     * @param domain    the appearance domain
     * @param seed      the video's seed
     * @param frames    T
     * @param cfg       size, noise and shake
     * @param basePhase for relation classes, replaces the sampled base phase psi when not NaN (tests); ignored otherwise
     * @return the scene; rendering it is pure
     */
    static Scene sample(WorldClass cls, WorldDomain domain, long seed, int frames, WorldConfig cfg, double basePhase) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int w = cfg.width();
        int h = cfg.height();
        double minDim = Math.min(w, h);
        boolean dark = rnd.nextBoolean();
        Scene.Background bg = Scene.background(rnd, minDim, domain.textures(), dark);
        double[] still = new double[frames]; // static backgrounds
        double[] jx = new double[frames];
        double[] jy = new double[frames];
        double[] bright = new double[frames];
        long[] noiseSeeds = new long[frames];
        double level = rnd.nextDouble(0.9, 1.1);
        for (int t = 0; t < frames; t++) {
            // clipped at 3 sigma: the relation objects keep >= 2 px from the midline at >= 24 px (docs/benchmark-world.md)
            jx[t] = cfg.jitter() * Scene.clamp(Scene.gaussian(rnd), -3, 3);
            jy[t] = cfg.jitter() * Scene.clamp(Scene.gaussian(rnd), -3, 3);
            level = 1 + 0.85 * (level - 1) + 0.015 * Scene.gaussian(rnd);
            bright[t] = level;
            noiseSeeds[t] = rnd.nextLong();
        }
        List<Scene.Sprite> actors = cls.family() == ClassFamily.RELATION
                ? relation(cls, domain, rnd, frames, w, h, dark, basePhase)
                : local(cls, rnd, frames, w, h, dark);
        return new Scene(w, h, frames, bg.texture(), bg.bg0(), bg.bg1(), bg.tex(), bg.grid(), still, still.clone(), jx, jy, bright, noiseSeeds, cfg.noise(),
                List.of(), actors);
    }

    /** Two identical objects in opposite halves, oscillating with one period; the second's phase is offset by the class. */
    private static List<Scene.Sprite> relation(WorldClass cls, WorldDomain domain, SplittableRandom rnd, int frames, int w, int h,
            boolean dark, double basePhase) {
        boolean leftRight = cls.arrangement() == WorldClass.Arrangement.LEFT_RIGHT;
        double along = leftRight ? w : h;   // axis on which the objects are apart
        double across = leftRight ? h : w;  // axis on which they oscillate
        double s = rnd.nextDouble(domain.sizeLo, domain.sizeHi) * Math.min(w, h);
        Scene.Shape shape = Scene.randomShape(rnd);
        double[] rgb = Scene.foreground(rnd, dark, 1);
        double angle = rnd.nextDouble(0, 2 * Math.PI);
        double a1 = rnd.nextDouble(FIRST_LO, FIRST_HI) * along;
        double a2 = rnd.nextDouble(SECOND_LO, SECOND_HI) * along;
        double b1 = rnd.nextDouble(0.35, 0.65) * across;
        double b2 = rnd.nextDouble(0.35, 0.65) * across;
        double amp = rnd.nextDouble(0.08, 0.12) * across;
        double periodFrames = rnd.nextDouble(domain.periodLo, domain.periodHi);
        double psi = rnd.nextDouble(0, 2 * Math.PI);
        if (!Double.isNaN(basePhase)) {
            psi = basePhase;
        }
        List<Scene.Sprite> out = new ArrayList<>(2);
        out.add(oscillator(shape, rgb, angle, s, a1, b1, amp, periodFrames, psi, frames, leftRight));
        out.add(oscillator(shape, rgb, angle, s, a2, b2, amp, periodFrames, psi + cls.phaseOffset(), frames, leftRight));
        return out;
    }

    private static Scene.Sprite oscillator(Scene.Shape shape, double[] rgb, double angle, double s, double a, double b, double amp,
            double periodFrames, double phase, int frames, boolean leftRight) {
        double[] cx = new double[frames];
        double[] cy = new double[frames];
        double[] ang = new double[frames];
        double[] sc = new double[frames];
        for (int t = 0; t < frames; t++) {
            double off = b + amp * Math.sin(2 * Math.PI * t / periodFrames + phase);
            cx[t] = leftRight ? a : off;
            cy[t] = leftRight ? off : a;
            ang[t] = angle;
            sc[t] = s;
        }
        return new Scene.Sprite(shape, rgb, cx, cy, ang, sc);
    }

    /** One object: the translations and rotations of {@link SyntheticActionDataset}, or a straight fast/slow run. */
    private static List<Scene.Sprite> local(WorldClass cls, SplittableRandom rnd, int frames, int w, int h, boolean dark) {
        ActionClass a = cls.motion();
        if (a != null) {
            List<Scene.Sprite> fwd = Scene.actors(a.motion(), rnd, frames, w, h, dark);
            return a.reversed() ? fwd.stream().map(Scene.Sprite::reversed).toList() : fwd;
        }
        double minDim = Math.min(w, h);
        double unit = minDim / 32.0; // speeds are given at 32 pixels
        double speed = (cls == WorldClass.MOVE_FAST ? rnd.nextDouble(0.8, 1.1) : rnd.nextDouble(0.2, 0.45)) * unit;
        double theta = rnd.nextDouble(0, 2 * Math.PI);
        double s = rnd.nextDouble(0.09, 0.15) * minDim;
        double r = 1.2 * s;
        double dx = speed * Math.cos(theta) * (frames - 1);
        double dy = speed * Math.sin(theta) * (frames - 1);
        double x0 = start(rnd, r, w, dx);
        double y0 = start(rnd, r, h, dy);
        double a0 = rnd.nextDouble(0, 2 * Math.PI);
        double[] cx = new double[frames];
        double[] cy = new double[frames];
        double[] ang = new double[frames];
        double[] sc = new double[frames];
        for (int t = 0; t < frames; t++) {
            cx[t] = x0 + speed * Math.cos(theta) * t;
            cy[t] = y0 + speed * Math.sin(theta) * t;
            ang[t] = a0;
            sc[t] = s;
        }
        return List.of(new Scene.Sprite(Scene.randomShape(rnd), Scene.foreground(rnd, dark, 1), cx, cy, ang, sc));
    }

    /** A start coordinate so that start and start + travel lie in [r, size - r] when the span allows it, else centred. */
    private static double start(SplittableRandom rnd, double r, double size, double travel) {
        double lo = r - Math.min(0, travel);
        double hi = size - r - Math.max(0, travel);
        return hi > lo ? rnd.nextDouble(lo, hi) : (size - travel) / 2;
    }
}
