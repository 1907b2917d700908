package org.dualdistill.data.synthetic;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * One sampled video of the synthetic dataset: a background, the acting object(s), distractor objects, camera shake,
 * flicker and noise, each as a per-frame track, and the rasterizer that draws them.
 *
 * <p>Time symmetry is built in: every random quantity is drawn from a distribution that does not change when time
 * runs backwards (directions are uniform, wobbles have random phase, speed profiles are symmetric), and a class that
 * is the reversed member of its pair gets the same sample with every track reversed. Hence for one seed the frames of
 * a class are exactly the frames of its partner in reverse order, and over the dataset a single frame (or the bag of
 * frames of a video) carries no information about which member of a pair it came from.
 *
 * <p>Geometry: pixel centres are at {@code (x + 0.5, y + 0.5)}, y points down, angles are radians and grow
 * clockwise on screen. Shapes are signed-distance functions in object units (radius about 1) and are anti-aliased
 * over one pixel. Immutable after sampling; rendering is pure, so frames are reproducible bit for bit.
 */
final class Scene {
    enum Shape {
        DISC, SQUARE, TRIANGLE, ARROW, L_SHAPE, CROSS;

        /** Shapes without rotational symmetry: their turning direction is visible. */
        static final Shape[] ORIENTED = {TRIANGLE, ARROW, L_SHAPE};
    }

    enum Texture {
        GRATING, CHECKER, BLOBS
    }

    /** An object with per-frame centre, angle and size (pixels per object unit). */
    record Sprite(Shape shape, double[] rgb, double[] cx, double[] cy, double[] angle, double[] scale) {
        Sprite reversed() {
            return new Sprite(shape, rgb, rev(cx), rev(cy), rev(angle), rev(scale));
        }
    }

    final int width;
    final int height;
    final int frames;
    final Texture texture;
    final double[] bg0;
    final double[] bg1;
    final double[] texParams;
    final double[][] blobGrid;
    final double[] bgDx;
    final double[] bgDy;
    final double[] jitterX;
    final double[] jitterY;
    final double[] brightness;
    final long[] noiseSeeds;
    final double noise;
    final List<Sprite> distractors;
    final List<Sprite> actors;

    Scene(int width, int height, int frames, Texture texture, double[] bg0, double[] bg1, double[] texParams, double[][] blobGrid,
            double[] bgDx, double[] bgDy, double[] jitterX, double[] jitterY, double[] brightness, long[] noiseSeeds, double noise,
            List<Sprite> distractors, List<Sprite> actors) {
        this.width = width;
        this.height = height;
        this.frames = frames;
        this.texture = texture;
        this.bg0 = bg0;
        this.bg1 = bg1;
        this.texParams = texParams;
        this.blobGrid = blobGrid;
        this.bgDx = bgDx;
        this.bgDy = bgDy;
        this.jitterX = jitterX;
        this.jitterY = jitterY;
        this.brightness = brightness;
        this.noiseSeeds = noiseSeeds;
        this.noise = noise;
        this.distractors = distractors;
        this.actors = actors;
    }

    /** @return the scene with every track reversed in time (the partner class's video for the same seed) */
    Scene reversed() {
        List<Sprite> d = new ArrayList<>();
        for (Sprite s : distractors) {
            d.add(s.reversed());
        }
        List<Sprite> a = new ArrayList<>();
        for (Sprite s : actors) {
            a.add(s.reversed());
        }
        return new Scene(width, height, frames, texture, bg0, bg1, texParams, blobGrid, rev(bgDx), rev(bgDy), rev(jitterX), rev(jitterY),
                rev(brightness), rev(noiseSeeds), noise, d, a);
    }

    /** @return the same scene without its acting objects (tests compare against it to find them) */
    Scene withoutActors() {
        return new Scene(width, height, frames, texture, bg0, bg1, texParams, blobGrid, bgDx, bgDy, jitterX, jitterY, brightness,
                noiseSeeds, noise, distractors, List.of());
    }

    private static double[] rev(double[] a) {
        double[] r = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            r[i] = a[a.length - 1 - i];
        }
        return r;
    }

    private static long[] rev(long[] a) {
        long[] r = new long[a.length];
        for (int i = 0; i < a.length; i++) {
            r[i] = a[a.length - 1 - i];
        }
        return r;
    }

    // ---------------------------------------------------------------- sampling

    /** A sampled static background: the texture kind, its two colours, its parameters and its blob grid. */
    record Background(Texture texture, double[] bg0, double[] bg1, double[] tex, double[][] grid) {
    }

    /**
     * Samples a background, drawing from {@code rnd} in a fixed order (so a seed gives the same pixels wherever it is
     * used): the texture among {@code textures}, two low-saturation colours (dark or light), two grating directions
     * and periods, the checker/blob cell, and an 8x8 blob grid.
     */
    static Background background(SplittableRandom rnd, double minDim, Texture[] textures, boolean dark) {
        Texture texture = textures[rnd.nextInt(textures.length)];
        double[] bg0 = hsv(rnd.nextDouble(), rnd.nextDouble(0, 0.5), dark ? rnd.nextDouble(0.08, 0.3) : rnd.nextDouble(0.6, 0.85));
        double[] bg1 = hsv(rnd.nextDouble(), rnd.nextDouble(0, 0.5), dark ? rnd.nextDouble(0.25, 0.45) : rnd.nextDouble(0.45, 0.7));
        double[] tex = new double[8];
        double period = rnd.nextDouble(0.15, 0.5) * minDim;
        double dir = rnd.nextDouble(0, Math.PI);
        tex[0] = 2 * Math.PI / period * Math.cos(dir);
        tex[1] = 2 * Math.PI / period * Math.sin(dir);
        tex[2] = rnd.nextDouble(0, 2 * Math.PI);
        double period2 = rnd.nextDouble(0.2, 0.7) * minDim;
        double dir2 = rnd.nextDouble(0, Math.PI);
        tex[3] = 2 * Math.PI / period2 * Math.cos(dir2);
        tex[4] = 2 * Math.PI / period2 * Math.sin(dir2);
        tex[5] = rnd.nextDouble(0, 2 * Math.PI);
        tex[6] = rnd.nextDouble(0.08, 0.25) * minDim; // checker cell / blob cell
        tex[7] = rnd.nextDouble(0, 2 * Math.PI);
        double[][] grid = new double[8][8];
        for (double[] row : grid) {
            for (int i = 0; i < row.length; i++) {
                row[i] = rnd.nextDouble();
            }
        }
        return new Background(texture, bg0, bg1, tex, grid);
    }

    /**
     * Samples the scene of one video.
     *
     * @param cls    the action (its pair's motion, reversed for the reversed member)
     * @param seed   the video's seed
     * @param frames T
     * @param cfg    size and distractor settings
     */
    static Scene sample(ActionClass cls, long seed, int frames, SyntheticConfig cfg) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int w = cfg.width();
        int h = cfg.height();
        double minDim = Math.min(w, h);
        boolean darkBackground = rnd.nextBoolean();

        // background: two low-saturation colours and a texture that may drift in any direction
        Background bg = background(rnd, minDim, Texture.values(), darkBackground);
        double bgSpeed = cfg.movingBackground() ? rnd.nextDouble(0.1, 1.0) : 0;
        double bgDir = rnd.nextDouble(0, 2 * Math.PI);
        double[] bgDx = new double[frames];
        double[] bgDy = new double[frames];
        for (int t = 0; t < frames; t++) {
            bgDx[t] = bgSpeed * Math.cos(bgDir) * t;
            bgDy[t] = bgSpeed * Math.sin(bgDir) * t;
        }

        // camera shake, flicker (a symmetric random walk around 1) and noise seeds, per frame
        double[] jx = new double[frames];
        double[] jy = new double[frames];
        double[] bright = new double[frames];
        long[] noiseSeeds = new long[frames];
        double level = rnd.nextDouble(0.9, 1.1);
        for (int t = 0; t < frames; t++) {
            jx[t] = cfg.jitter() * gaussian(rnd);
            jy[t] = cfg.jitter() * gaussian(rnd);
            level = 1 + 0.85 * (level - 1) + 0.015 * gaussian(rnd);
            bright[t] = level;
            noiseSeeds[t] = rnd.nextLong();
        }

        // distractors: small objects drifting in random directions, possibly spinning either way
        List<Sprite> distractors = new ArrayList<>();
        int nd = cfg.distractors() == 0 ? 0 : rnd.nextInt(cfg.distractors() + 1);
        for (int i = 0; i < nd; i++) {
            double s = rnd.nextDouble(0.035, 0.06) * minDim;
            double x0 = rnd.nextDouble(0, w);
            double y0 = rnd.nextDouble(0, h);
            double speed = rnd.nextDouble(0.2, 1.2);
            double d = rnd.nextDouble(0, 2 * Math.PI);
            double a0 = rnd.nextDouble(0, 2 * Math.PI);
            double spin = rnd.nextDouble(-0.12, 0.12);
            double[] cx = new double[frames];
            double[] cy = new double[frames];
            double[] ang = new double[frames];
            double[] sc = new double[frames];
            for (int t = 0; t < frames; t++) {
                cx[t] = wrap(x0 + speed * Math.cos(d) * t, w);
                cy[t] = wrap(y0 + speed * Math.sin(d) * t, h);
                ang[t] = a0 + spin * t;
                sc[t] = s;
            }
            distractors.add(new Sprite(randomShape(rnd), foreground(rnd, darkBackground, 0.3), cx, cy, ang, sc));
        }

        List<Sprite> actors = actors(cls.motion(), rnd, frames, w, h, darkBackground);
        Scene forward = new Scene(w, h, frames, bg.texture(), bg.bg0(), bg.bg1(), bg.tex(), bg.grid(), bgDx, bgDy, jx, jy, bright, noiseSeeds, cfg.noise(),
                distractors, actors);
        return cls.reversed() ? forward.reversed() : forward;
    }

    /** The acting objects of one motion, in its forward direction. */
    static List<Sprite> actors(ActionClass.Motion motion, SplittableRandom rnd, int frames, int w, int h, boolean dark) {
        double minDim = Math.min(w, h);
        double[] u = easing(rnd, frames);
        List<Sprite> out = new ArrayList<>();
        double[] cx = new double[frames];
        double[] cy = new double[frames];
        double[] ang = new double[frames];
        double[] sc = new double[frames];
        switch (motion) {
            case TRANSLATE_X, TRANSLATE_Y -> {
                boolean horizontal = motion == ActionClass.Motion.TRANSLATE_X;
                double along = horizontal ? w : h;
                double across = horizontal ? h : w;
                double s = rnd.nextDouble(0.09, 0.15) * minDim;
                double r = 1.2 * s;
                double travel = rnd.nextDouble(0.35, 0.75) * (along - 2 * r);
                double start = rnd.nextDouble(r, along - r - travel);
                double amp = rnd.nextDouble(0, 0.05) * across;
                double base = rnd.nextDouble(r + amp, across - r - amp);
                double freq = rnd.nextDouble(0.5, 2);
                double phase = rnd.nextDouble(0, 2 * Math.PI);
                double a0 = rnd.nextDouble(0, 2 * Math.PI);
                for (int t = 0; t < frames; t++) {
                    double a = start + travel * u[t];
                    double b = base + amp * Math.sin(2 * Math.PI * freq * t / Math.max(1, frames - 1) + phase);
                    cx[t] = horizontal ? a : b;
                    cy[t] = horizontal ? b : a;
                    ang[t] = a0;
                    sc[t] = s;
                }
                out.add(new Sprite(randomShape(rnd), foreground(rnd, dark, 1), cx, cy, ang, sc));
            }
            case ROTATE -> {
                double s = rnd.nextDouble(0.14, 0.22) * minDim;
                double r = 1.2 * s;
                double x0 = rnd.nextDouble(r + 2, w - r - 2);
                double y0 = rnd.nextDouble(r + 2, h - r - 2);
                double perFrame = Math.toRadians(rnd.nextDouble(6, 18));
                double total = perFrame * (frames - 1);
                double a0 = rnd.nextDouble(0, 2 * Math.PI);
                double drift = rnd.nextDouble(0, 0.15);
                double dd = rnd.nextDouble(0, 2 * Math.PI);
                for (int t = 0; t < frames; t++) {
                    cx[t] = clamp(x0 + drift * Math.cos(dd) * t, r, w - r);
                    cy[t] = clamp(y0 + drift * Math.sin(dd) * t, r, h - r);
                    ang[t] = a0 + total * u[t]; // growing angle: clockwise on screen (y down)
                    sc[t] = s;
                }
                out.add(new Sprite(Shape.ORIENTED[rnd.nextInt(Shape.ORIENTED.length)], foreground(rnd, dark, 1), cx, cy, ang, sc));
            }
            case SCALE -> {
                double s0 = rnd.nextDouble(0.05, 0.09) * minDim;
                double ratio = rnd.nextDouble(1.8, 2.8);
                double s1 = Math.min(s0 * ratio, 0.3 * minDim);
                double r = 1.2 * s1;
                double x0 = rnd.nextDouble(r, w - r);
                double y0 = rnd.nextDouble(r, h - r);
                double a0 = rnd.nextDouble(0, 2 * Math.PI);
                double spin = rnd.nextDouble(-0.05, 0.05);
                for (int t = 0; t < frames; t++) {
                    cx[t] = x0;
                    cy[t] = y0;
                    ang[t] = a0 + spin * t;
                    sc[t] = s0 * Math.pow(s1 / s0, u[t]);
                }
                out.add(new Sprite(randomShape(rnd), foreground(rnd, dark, 1), cx, cy, ang, sc));
            }
            case PAIR_DISTANCE -> {
                double s = rnd.nextDouble(0.07, 0.11) * minDim;
                double r = 1.2 * s;
                double axis = rnd.nextDouble(0, Math.PI);
                double ux = Math.cos(axis);
                double uy = Math.sin(axis);
                // half-extent available along the axis from the centre
                double room = Math.min(Math.abs(ux) > 1e-6 ? (w / 2.0 - r) / Math.abs(ux) : Double.MAX_VALUE,
                        Math.abs(uy) > 1e-6 ? (h / 2.0 - r) / Math.abs(uy) : Double.MAX_VALUE);
                double far = rnd.nextDouble(0.75, 0.95) * room;
                double near = Math.min(far * 0.6, rnd.nextDouble(1.15, 1.5) * r);
                double mx = w / 2.0 + rnd.nextDouble(-0.05, 0.05) * w;
                double my = h / 2.0 + rnd.nextDouble(-0.05, 0.05) * h;
                double[] cx2 = new double[frames];
                double[] cy2 = new double[frames];
                double[] ang2 = new double[frames];
                double[] sc2 = new double[frames];
                double a0 = rnd.nextDouble(0, 2 * Math.PI);
                double b0 = rnd.nextDouble(0, 2 * Math.PI);
                for (int t = 0; t < frames; t++) {
                    double half = far + (near - far) * u[t]; // forward: approaching
                    cx[t] = clamp(mx - half * ux, r, w - r);
                    cy[t] = clamp(my - half * uy, r, h - r);
                    cx2[t] = clamp(mx + half * ux, r, w - r);
                    cy2[t] = clamp(my + half * uy, r, h - r);
                    ang[t] = a0;
                    ang2[t] = b0;
                    sc[t] = s;
                    sc2[t] = s;
                }
                out.add(new Sprite(randomShape(rnd), foreground(rnd, dark, 1), cx, cy, ang, sc));
                out.add(new Sprite(randomShape(rnd), foreground(rnd, dark, 1), cx2, cy2, ang2, sc2));
            }
        }
        return out;
    }

    /**
     * A monotone progress profile from 0 to 1: linear plus a random sinusoidal speed change whose distribution is the
     * same forwards and backwards ({@code 1 - e(1 - u)} has the same form as {@code e(u)}).
     */
    static double[] easing(SplittableRandom rnd, int frames) {
        double a = rnd.nextDouble(-0.6, 0.6);
        double[] u = new double[frames];
        for (int t = 0; t < frames; t++) {
            double x = frames == 1 ? 0 : (double) t / (frames - 1);
            u[t] = x + a * Math.sin(2 * Math.PI * x) / (2 * Math.PI);
        }
        return u;
    }

    static Shape randomShape(SplittableRandom rnd) {
        return Shape.values()[rnd.nextInt(Shape.values().length)];
    }

    /** A saturated colour that stands out from the background; {@code contrast < 1} makes it closer to it. */
    static double[] foreground(SplittableRandom rnd, boolean darkBackground, double contrast) {
        double v = darkBackground ? rnd.nextDouble(0.75, 1.0) : rnd.nextDouble(0.05, 0.3);
        double mid = 0.5;
        v = mid + (v - mid) * Math.max(contrast, 0.5);
        return hsv(rnd.nextDouble(), rnd.nextDouble(0.4, 1.0), v);
    }

    static double gaussian(SplittableRandom rnd) {
        // Box-Muller; SplittableRandom has no nextGaussian with a stable algorithm across JDKs
        double u1 = rnd.nextDouble();
        double u2 = rnd.nextDouble();
        return Math.sqrt(-2 * Math.log(Math.max(u1, 1e-300))) * Math.cos(2 * Math.PI * u2);
    }

    private static double wrap(double v, double size) {
        double r = v % size;
        return r < 0 ? r + size : r;
    }

    static double clamp(double v, double lo, double hi) {
        return Math.max(lo, Math.min(hi, v));
    }

    /** @return linear RGB in [0, 1] of a hue/saturation/value colour */
    static double[] hsv(double hue, double sat, double val) {
        double h6 = (hue - Math.floor(hue)) * 6;
        int i = (int) h6;
        double f = h6 - i;
        double p = val * (1 - sat);
        double q = val * (1 - sat * f);
        double t = val * (1 - sat * (1 - f));
        return switch (i % 6) {
            case 0 -> new double[] {val, t, p};
            case 1 -> new double[] {q, val, p};
            case 2 -> new double[] {p, val, t};
            case 3 -> new double[] {p, q, val};
            case 4 -> new double[] {t, p, val};
            default -> new double[] {val, p, q};
        };
    }

    // ---------------------------------------------------------------- rendering

    /** @return frame {@code t} as RGB24, rows top to bottom */
    byte[] render(int t) {
        int w = width;
        int h = height;
        double[] img = new double[w * h * 3];
        double ox = jitterX[t] - bgDx[t];
        double oy = jitterY[t] - bgDy[t];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                double p = pattern(x + 0.5 - ox, y + 0.5 - oy);
                int o = (y * w + x) * 3;
                img[o] = bg0[0] + (bg1[0] - bg0[0]) * p;
                img[o + 1] = bg0[1] + (bg1[1] - bg0[1]) * p;
                img[o + 2] = bg0[2] + (bg1[2] - bg0[2]) * p;
            }
        }
        for (Sprite s : distractors) {
            draw(img, s, t);
        }
        for (Sprite s : actors) {
            draw(img, s, t);
        }
        SplittableRandom n = new SplittableRandom(noiseSeeds[t]);
        double b = brightness[t];
        double sigma = noise / 255.0;
        byte[] out = new byte[img.length];
        for (int i = 0; i < img.length; i++) {
            double v = img[i] * b + (sigma > 0 ? sigma * gaussian(n) : 0);
            out[i] = (byte) Math.max(0, Math.min(255, (int) Math.round(v * 255)));
        }
        return out;
    }

    private double pattern(double x, double y) {
        double[] p = texParams;
        return switch (texture) {
            case GRATING -> 0.5 + 0.3 * Math.sin(p[0] * x + p[1] * y + p[2]) + 0.2 * Math.sin(p[3] * x + p[4] * y + p[5]);
            case CHECKER -> 0.5 + 0.5 * Math.tanh(3 * Math.sin(Math.PI * x / p[6] + p[7]) * Math.sin(Math.PI * y / p[6] + p[2]));
            case BLOBS -> blobs(x / p[6], y / p[6]);
        };
    }

    /** Smooth periodic value noise over an 8 x 8 grid. */
    private double blobs(double gx, double gy) {
        int n = blobGrid.length;
        double fx = Math.floor(gx);
        double fy = Math.floor(gy);
        double tx = smooth(gx - fx);
        double ty = smooth(gy - fy);
        int x0 = Math.floorMod((int) fx, n);
        int y0 = Math.floorMod((int) fy, n);
        int x1 = (x0 + 1) % n;
        int y1 = (y0 + 1) % n;
        double a = blobGrid[y0][x0] + (blobGrid[y0][x1] - blobGrid[y0][x0]) * tx;
        double c = blobGrid[y1][x0] + (blobGrid[y1][x1] - blobGrid[y1][x0]) * tx;
        return a + (c - a) * ty;
    }

    private static double smooth(double v) {
        return v * v * (3 - 2 * v);
    }

    private void draw(double[] img, Sprite s, int t) {
        double cx = s.cx()[t] + jitterX[t];
        double cy = s.cy()[t] + jitterY[t];
        double sc = s.scale()[t];
        double cos = Math.cos(s.angle()[t]);
        double sin = Math.sin(s.angle()[t]);
        double r = 1.25 * sc + 1;
        int x0 = Math.max(0, (int) Math.floor(cx - r));
        int x1 = Math.min(width - 1, (int) Math.ceil(cx + r));
        int y0 = Math.max(0, (int) Math.floor(cy - r));
        int y1 = Math.min(height - 1, (int) Math.ceil(cy + r));
        double[] c = s.rgb();
        for (int y = y0; y <= y1; y++) {
            for (int x = x0; x <= x1; x++) {
                double dx = x + 0.5 - cx;
                double dy = y + 0.5 - cy;
                // into object coordinates: undo the rotation, then the scale
                double lx = (cos * dx + sin * dy) / sc;
                double ly = (-sin * dx + cos * dy) / sc;
                double alpha = 0.5 - sdf(s.shape(), lx, ly) * sc;
                if (alpha <= 0) {
                    continue;
                }
                alpha = Math.min(1, alpha);
                int o = (y * width + x) * 3;
                img[o] += (c[0] - img[o]) * alpha;
                img[o + 1] += (c[1] - img[o + 1]) * alpha;
                img[o + 2] += (c[2] - img[o + 2]) * alpha;
            }
        }
    }

    /** Signed distance (negative inside) from a point to a shape, in object units. */
    static double sdf(Shape shape, double x, double y) {
        return switch (shape) {
            case DISC -> Math.hypot(x, y) - 0.9;
            case SQUARE -> box(x, y, 0.75, 0.75);
            case TRIANGLE -> triangle(x, y, 1.0, 0.0, -0.65, 0.5, -0.65, -0.5);
            case ARROW -> Math.min(triangle(x, y, 1.0, 0.0, 0.15, 0.7, 0.15, -0.7), box(x + 0.4, y, 0.55, 0.22));
            case L_SHAPE -> Math.min(box(x + 0.45, y, 0.3, 0.85), box(x, y - 0.55, 0.75, 0.3));
            case CROSS -> Math.min(box(x, y, 0.85, 0.25), box(x, y, 0.25, 0.85));
        };
    }

    private static double box(double x, double y, double hx, double hy) {
        double dx = Math.abs(x) - hx;
        double dy = Math.abs(y) - hy;
        return Math.hypot(Math.max(dx, 0), Math.max(dy, 0)) + Math.min(Math.max(dx, dy), 0);
    }

    /** Distance to a counter-clockwise (in y-down coordinates: listed as given) triangle, as the max over edge half-planes. */
    private static double triangle(double x, double y, double ax, double ay, double bx, double by, double cx, double cy) {
        double orient = Math.signum((bx - ax) * (cy - ay) - (by - ay) * (cx - ax));
        return Math.max(edge(x, y, ax, ay, bx, by, orient), Math.max(edge(x, y, bx, by, cx, cy, orient), edge(x, y, cx, cy, ax, ay, orient)));
    }

    private static double edge(double x, double y, double ax, double ay, double bx, double by, double orient) {
        double ex = bx - ax;
        double ey = by - ay;
        double len = Math.hypot(ex, ey);
        // positive outside: the point lies on the other side of the edge than the triangle's interior
        return -orient * ((x - ax) * ey * -1 + (y - ay) * ex) / len;
    }
}
