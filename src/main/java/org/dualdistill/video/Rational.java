package org.dualdistill.video;

import java.math.BigInteger;

/**
 * An exact fraction {@code num/den} (frame rates such as {@code 30000/1001}, stream time bases such as {@code 1/90000}),
 * as FFmpeg's {@code AVRational} and pytorchvideo's {@code Fraction}. Immutable and thread-safe.
 *
 * @param num numerator
 * @param den denominator, never negative; 0 only in {@link #UNKNOWN}
 */
public record Rational(long num, long den) implements Comparable<Rational> {
    /** The value FFmpeg reports when it does not know a rate ({@code 0/1}). */
    public static final Rational UNKNOWN = new Rational(0, 1);

    /** Validates and normalizes the sign: a negative denominator moves to the numerator. */
    public Rational {
        if (den < 0) {
            num = -num;
            den = -den;
        }
        if (den == 0 && num != 0) {
            throw new IllegalArgumentException("Rational with zero denominator: " + num + "/0");
        }
    }

    /**
     * @param num numerator
     * @param den denominator, not 0 unless num is 0
     * @return {@code num/den} reduced to lowest terms
     */
    public static Rational of(long num, long den) {
        long g = gcd(Math.abs(num), Math.abs(den));
        return g <= 1 ? new Rational(num, den) : new Rational(num / g, den / g);
    }

    private static long gcd(long a, long b) {
        while (b != 0) {
            long t = a % b;
            a = b;
            b = t;
        }
        return a;
    }

    /** @return whether this is a usable, strictly positive value */
    public boolean isPositive() {
        return num > 0 && den > 0;
    }

    /** @return the value as a double (for display and heuristics only; times stay exact) */
    public double doubleValue() {
        return den == 0 ? 0.0 : (double) num / den;
    }

    /** @return {@code den/num} */
    public Rational inverse() {
        return new Rational(den, num);
    }

    /**
     * Converts {@code value} units of this time base to units of {@code to}, rounding to nearest (ties away from zero),
     * exactly even when the intermediate product exceeds 64 bits ({@code av_rescale_q}).
     *
     * @param value a count in units of this
     * @param to    the target unit
     * @return {@code round(value * this / to)}
     */
    public long rescale(long value, Rational to) {
        BigInteger n = BigInteger.valueOf(value).multiply(BigInteger.valueOf(num)).multiply(BigInteger.valueOf(to.den));
        BigInteger d = BigInteger.valueOf(den).multiply(BigInteger.valueOf(to.num));
        if (d.signum() == 0) {
            throw new ArithmeticException("rescale by a zero rational: " + this + " -> " + to);
        }
        if (d.signum() < 0) {
            n = n.negate();
            d = d.negate();
        }
        BigInteger half = d.shiftRight(1);
        BigInteger r = n.signum() >= 0 ? n.add(half).divide(d) : n.subtract(half).divide(d);
        return r.longValueExact();
    }

    /**
     * @param value a count in units of this time base
     * @return the same instant in microseconds, rounded to nearest
     */
    public long toMicros(long value) {
        long prod;
        try {
            prod = Math.multiplyExact(Math.multiplyExact(value, num), 1_000_000L);
        } catch (ArithmeticException overflow) {
            return rescale(value, MICROS);
        }
        return Math.floorDiv(prod + den / 2, den);
    }

    private static final Rational MICROS = new Rational(1, 1_000_000);

    @Override
    public int compareTo(Rational o) {
        return BigInteger.valueOf(num).multiply(BigInteger.valueOf(o.den))
                .compareTo(BigInteger.valueOf(o.num).multiply(BigInteger.valueOf(den)));
    }

    @Override
    public String toString() {
        return num + "/" + den;
    }
}
