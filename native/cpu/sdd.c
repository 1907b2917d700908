/*
 * SDD (structure discrepancy-aware distillation) loss on the CPU: L = mean (r_hat - r)^2 with the constant target
 * r = n(a) - n(b), n = L2 normalization along the D channels at each position (floor eps), and dL/dr_hat.
 *
 * Layout of the work. The tensors are [B, D, P], channel-major: the D values of one position are P elements
 * apart, while neighbouring positions are contiguous. So the kernel works on strips of up to SDD_LANES positions
 * of one sample (two cache lines of float32 per channel row) and walks down the D channel rows of the strip with
 * the positions as vector lanes:
 *   pass 1 reads a and b once and sums a^2 and b^2 per lane (the per-position squared norms);
 *   pass 2 re-reads a and b (the strip, at most D * SDD_LANES * 8 bytes, is still in L1/L2), reads r_hat once,
 *   and per element forms r = a / max(|a|, eps) - b / max(|b|, eps) (as products with per-lane reciprocals),
 *   accumulates (r_hat - r)^2 and writes dL/dr_hat = 2 (r_hat - r) / N.
 * Each tensor thus comes from memory once. A full float32 strip is read and written in place; a float16/bfloat16
 * strip, and the partial last strip of a sample (P not a multiple of SDD_LANES), is staged SDD_CHUNK channel rows
 * at a time into small stack blocks of float rows, zero-padded to the full width (a zero lane adds nothing), and the
 * gradient goes out the same way, rounded to nearest even. So the arithmetic loops always run the full, constant
 * width, and the kernel allocates only B * ceil(P / SDD_LANES) doubles, whatever D is.
 *
 * The lane loops are plain C over fixed-width arrays, so the compiler vectorizes them without -ffast-math (IEEE
 * semantics keep the finiteness checks honest). One always-inlined body is specialized for each dtype, for full
 * and partial strips, and the whole set is compiled twice, for AVX2+FMA+F16C and for baseline x86-64, picked at run
 * time (the AVX2 build converts float16 rows with F16C; the baseline uses integer lane operations, which vectorize
 * where GCC's _Float16 casts do not).
 *
 * Precision: float lanes over blocks of SDD_CHUNK channels, folded into double lanes, so the error stays at the
 * level of one block of float adds whatever D is. Sums of squares that overflow float (|x| > ~1e19) are not
 * mistaken for non-finite input: a non-finite lane sum triggers an exact scan of the strip, which either finds a
 * NaN/inf (DD_ERR_NONFINITE_INPUT) or redoes the sums in double. So teacher features anywhere in the float32 range
 * normalize correctly; a per-sample sum of squared errors or a loss beyond float32 (r_hat of ~1e19 and up) is
 * DD_STATUS_OVERFLOW (dd_common.h), never an inf returned as the loss.
 *
 * Parallelism and determinism: OpenMP hands out the B * ceil(P / SDD_LANES) strips in blocks of 8 (so a single
 * sample still uses every thread); each strip's squared-error sum goes to its own slot, and the slots are then reduced sequentially
 * per sample into partial[b] and over samples into loss[0], so the result is bit-identical for any thread count.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <immintrin.h>
#include <omp.h>

#include "dd_common.h"
#include "dd_sdd.h"

#define SDD_LANES 32                 /* positions per strip */
#define SDD_CHUNK 32                 /* channels summed in float lanes before a fold into double */
#define SDD_PARALLEL_MIN (1 << 14)   /* elements below which one thread does it all */

/* ---- element access: dt is a compile-time constant wherever these are inlined into the strip body ---------- */

static inline __attribute__((always_inline)) float f32_of_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline __attribute__((always_inline)) uint32_t bits_of_f32(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/*
 * IEEE binary16 <-> float in 32-bit integer and float lane operations with selects, so the lane loops stay
 * vectorized (GCC 12 only converts _Float16 one element at a time). Checked exhaustively against the _Float16
 * casts: all 2^16 halves, and all 2^32 floats with round to nearest even (NaN -> the quiet NaN 0x7e00).
 */
static inline __attribute__((always_inline)) float f16_to_f32(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16, em = h & 0x7fffu;
    const uint32_t normal = (em << 13) + 0x38000000u;                       /* exponent bias 15 -> 127 */
    const uint32_t special = (em << 13) | 0x7f800000u;                      /* inf, NaN (payload kept) */
    const uint32_t subnormal = bits_of_f32((float)(int32_t)em * 0x1p-24f);  /* em * 2^-24, exact */
    return f32_of_bits(sign | (em >= 0x7c00u ? special : (em < 0x0400u ? subnormal : normal)));
}

static inline __attribute__((always_inline)) uint16_t f32_to_f16(float f) {
    const uint32_t u = bits_of_f32(f), sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
    const uint32_t r = a - 0x38000000u;                                     /* exponent bias 127 -> 15 */
    const uint32_t normal = (r + 0x0fffu + ((r >> 13) & 1u)) >> 13;         /* drop 13 bits, nearest even */
    const float v = f32_of_bits(a) * 0x1p24f;                               /* |f| in units of 2^-24, exact */
    const uint32_t subnormal = (uint32_t)(int32_t)((v + 0x1p23f) - 0x1p23f); /* nearest even integer */
    const uint32_t mag = a > 0x7f800000u   ? 0x7e00u                        /* NaN */
                         : a >= 0x477ff000u ? 0x7c00u                       /* >= 65520 rounds to inf */
                         : a < 0x38800000u  ? subnormal                     /* < 2^-14 */
                                            : normal;
    return (uint16_t)(sign | mag);
}

static inline __attribute__((always_inline)) float bf16_to_f32(uint16_t h) { return f32_of_bits((uint32_t)h << 16); }

static inline __attribute__((always_inline)) uint16_t f32_to_bf16(float f) {
    const uint32_t u = bits_of_f32(f);
    const uint32_t nan = (u & 0x7fffffffu) > 0x7f800000u;
    const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16; /* round to nearest even */
    return (uint16_t)(nan ? ((u >> 16) | 0x40u) : rounded);            /* NaN stays a (quiet) NaN */
}

/* x[i] widened to float */
static inline __attribute__((always_inline)) float ld(const void *x, int64_t i, dd_dtype dt) {
    if (dt == DD_FLOAT32) return ((const float *)x)[i];
    if (dt == DD_FLOAT16) return f16_to_f32(((const uint16_t *)x)[i]);
    return bf16_to_f32(((const uint16_t *)x)[i]);
}

/* x[i] = v rounded to dt */
static inline __attribute__((always_inline)) void st(void *x, int64_t i, float v, dd_dtype dt) {
    if (dt == DD_FLOAT32) {
        ((float *)x)[i] = v;
    } else if (dt == DD_FLOAT16) {
        ((uint16_t *)x)[i] = f32_to_f16(v);
    } else {
        ((uint16_t *)x)[i] = f32_to_bf16(v);
    }
}

/* float16 rows with the F16C instructions (8 lanes per instruction), for the AVX2 build; the bit-operation
 * conversions above take the remainder and serve the baseline build. */
__attribute__((target("avx2,fma,f16c"))) static inline void f16_row_load_hw(const uint16_t *src, int w, float *dst) {
    int i = 0;
    for (; i + 8 <= w; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    for (; i < w; i++) dst[i] = f16_to_f32(src[i]);
}

__attribute__((target("avx2,fma,f16c"))) static inline void f16_row_store_hw(uint16_t *dst, int w, const float *src) {
    int i = 0;
    for (; i + 8 <= w; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < w; i++) dst[i] = f32_to_f16(src[i]);
}

/* ---- slow paths (cold: only for non-finite or float-overflowing data) -------------------------------------- */

/* 1 when the strip [D rows P apart, w lanes] holds a NaN or infinity */
static int strip_has_nonfinite(const void *x, int64_t P, int64_t D, int w, dd_dtype dt) {
    for (int64_t d = 0; d < D; d++)
        for (int i = 0; i < w; i++)
            if (!isfinite(ld(x, d * P + i, dt))) return 1;
    return 0;
}

/* exact squared norms in double (finite data whose float sums overflowed) */
static void strip_norms_double(const void *x, int64_t P, int64_t D, int w, dd_dtype dt, double *s) {
    for (int i = 0; i < w; i++) s[i] = 0.0;
    for (int64_t d = 0; d < D; d++)
        for (int i = 0; i < w; i++) {
            const double v = (double)ld(x, d * P + i, dt);
            s[i] += v * v;
        }
}

/* the squared-error sum again with the squares in double (finite r_hat whose float sums overflowed) */
static double strip_loss_double(const void *rh, const void *a, const void *b, int64_t P, int64_t D, int w,
                                dd_dtype dt, const float *ia, const float *ib) {
    double t = 0.0;
    for (int64_t d = 0; d < D; d++)
        for (int i = 0; i < w; i++) {
            const int64_t o = d * P + i;
            const double diff = (double)(ld(rh, o, dt) - (ld(a, o, dt) * ia[i] - ld(b, o, dt) * ib[i]));
            t += diff * diff;
        }
    return t;
}

/* ---- the strip kernel ----------------------------------------------------------------------------------------- */

/*
 * Channel rows d0..d1 of a strip of x as float rows of SDD_LANES lanes; returns the first row and sets *stride to the
 * distance between rows. A full float32 strip is used in place; anything else (half types, the partial last strip)
 * is widened into buf, lanes w.. zeroed (a zero lane adds nothing to any sum), so the arithmetic loops always run
 * the full, constant width and vectorize the same way for every case. A whole block of rows is staged before it is
 * read, so the vector loads do not stall on the narrower stores that just wrote them. F16C converts when hw16.
 */
static inline __attribute__((always_inline)) const float *rows_f32(const void *x, int64_t d0, int64_t d1, int64_t P,
                                                                   int w, dd_dtype dt, int hw16, float *buf,
                                                                   int64_t *stride) {
    if (dt == DD_FLOAT32 && w == SDD_LANES) {
        *stride = P;
        return (const float *)x + d0 * P;
    }
    for (int64_t d = d0; d < d1; d++) {
        float *row = buf + (d - d0) * SDD_LANES;
        const int64_t o = d * P;
        if (dt == DD_FLOAT16 && hw16) {
            f16_row_load_hw((const uint16_t *)x + o, w, row);
        } else {
            for (int i = 0; i < w; i++) row[i] = ld(x, o + i, dt);
        }
        for (int i = w; i < SDD_LANES; i++) row[i] = 0.0f;
    }
    *stride = SDD_LANES;
    return buf;
}

/*
 * One strip of w <= SDD_LANES positions: rh, a, b (and g, or NULL) point at channel 0 of its first position;
 * channel d is d * P elements further. Writes the strip's sum of squared errors to *sum and, when g is set,
 * scale * (r_hat - r) rounded to dt. Always inlined, with w and dt constants where possible, so each
 * specialization is compiled (and vectorized) for the target of the function it lands in.
 */
static inline __attribute__((always_inline)) dd_status
sdd_strip_body(const void *restrict rh, const void *restrict a, const void *restrict b, void *restrict g, int64_t P,
               int64_t D, int w, dd_dtype dt, int hw16, float eps, float scale, double *sum) {
    enum { L = SDD_LANES, C = SDD_CHUNK };
    const int in_place = dt == DD_FLOAT32 && w == L;
    /* staged blocks of C rows (half types, partial strip): a, b, r_hat, gradient; 16 KiB of stack */
    float ba[C * L], bb[C * L], br_[C * L], bg[C * L];
    double sa[L], sb[L];
    for (int i = 0; i < L; i++) sa[i] = sb[i] = 0.0;

    /* pass 1: squared norms per position */
    for (int64_t d0 = 0; d0 < D; d0 += C) {
        const int64_t d1 = d0 + C < D ? d0 + C : D;
        int64_t ks, kt;
        const float *xa = rows_f32(a, d0, d1, P, w, dt, hw16, ba, &ks);
        const float *xb = rows_f32(b, d0, d1, P, w, dt, hw16, bb, &kt);
        float fa[L], fb[L];
        for (int i = 0; i < L; i++) fa[i] = fb[i] = 0.0f;
        for (int64_t k = 0; k < d1 - d0; k++) {
            const float *ar = xa + k * ks, *br = xb + k * kt;
            for (int i = 0; i < L; i++) {
                fa[i] += ar[i] * ar[i];
                fb[i] += br[i] * br[i];
            }
        }
        for (int i = 0; i < L; i++) {
            sa[i] += (double)fa[i];
            sb[i] += (double)fb[i];
        }
    }
    int finite = 1;
    for (int i = 0; i < L; i++) finite &= isfinite(sa[i]) && isfinite(sb[i]);
    if (!finite) {
        if (strip_has_nonfinite(a, P, D, w, dt) || strip_has_nonfinite(b, P, D, w, dt)) return DD_ERR_NONFINITE_INPUT;
        strip_norms_double(a, P, D, w, dt, sa);
        strip_norms_double(b, P, D, w, dt, sb);
    }

    /* n(x) = x / max(|x|, eps), as x times a per-lane reciprocal */
    float ia[L], ib[L];
    for (int i = 0; i < L; i++) {
        double na = sqrt(sa[i]), nb = sqrt(sb[i]);
        na = na > (double)eps ? na : (double)eps;
        nb = nb > (double)eps ? nb : (double)eps;
        ia[i] = (float)(1.0 / na);
        ib[i] = (float)(1.0 / nb);
    }

    /* pass 2: residual, squared error, gradient */
    double acc[L];
    for (int i = 0; i < L; i++) acc[i] = 0.0;
    for (int64_t d0 = 0; d0 < D; d0 += C) {
        const int64_t d1 = d0 + C < D ? d0 + C : D;
        int64_t ks, kt, kr;
        const float *xa = rows_f32(a, d0, d1, P, w, dt, hw16, ba, &ks);
        const float *xb = rows_f32(b, d0, d1, P, w, dt, hw16, bb, &kt);
        const float *xr = rows_f32(rh, d0, d1, P, w, dt, hw16, br_, &kr);
        float fl[L];
        for (int i = 0; i < L; i++) fl[i] = 0.0f;
        if (g) {
            float *xg = in_place ? (float *)g + d0 * P : bg;
            const int64_t kg = in_place ? P : L;
            for (int64_t k = 0; k < d1 - d0; k++) {
                const float *ar = xa + k * ks, *br = xb + k * kt, *rr = xr + k * kr;
                float *gr = xg + k * kg;
                for (int i = 0; i < L; i++) {
                    const float diff = rr[i] - (ar[i] * ia[i] - br[i] * ib[i]);
                    fl[i] += diff * diff;
                    gr[i] = scale * diff;
                }
            }
            if (!in_place) {
                for (int64_t d = d0; d < d1; d++) {
                    const float *row = bg + (d - d0) * L;
                    const int64_t o = d * P;
                    if (dt == DD_FLOAT16 && hw16) {
                        f16_row_store_hw((uint16_t *)g + o, w, row);
                    } else {
                        for (int i = 0; i < w; i++) st(g, o + i, row[i], dt);
                    }
                }
            }
        } else {
            for (int64_t k = 0; k < d1 - d0; k++) {
                const float *ar = xa + k * ks, *br = xb + k * kt, *rr = xr + k * kr;
                for (int i = 0; i < L; i++) {
                    const float diff = rr[i] - (ar[i] * ia[i] - br[i] * ib[i]);
                    fl[i] += diff * diff;
                }
            }
        }
        for (int i = 0; i < L; i++) acc[i] += (double)fl[i];
    }
    /* lanes in a fixed halving tree (lanes >= w hold zeros) */
    for (int s = L / 2; s >= 1; s /= 2)
        for (int i = 0; i < s; i++) acc[i] += acc[i + s];
    double total = acc[0];
    if (!isfinite(total)) {
        if (strip_has_nonfinite(rh, P, D, w, dt)) return DD_ERR_NONFINITE_INPUT;
        total = strip_loss_double(rh, a, b, P, D, w, dt, ia, ib);
    }
    *sum = total;
    return DD_OK;
}

typedef dd_status (*strip_fn)(const void *, const void *, const void *, void *, int64_t, int64_t, int, dd_dtype,
                              float, float, double *);

/* Every (full or partial strip) x dtype specialization of the body, for the target of the enclosing function. */
#define SDD_DISPATCH(HW)                                                                                     \
    do {                                                                                                     \
        if (w == SDD_LANES) {                                                                                \
            if (dt == DD_FLOAT32) return sdd_strip_body(rh, a, b, g, P, D, SDD_LANES, DD_FLOAT32, HW, eps, scale, sum); \
            if (dt == DD_FLOAT16) return sdd_strip_body(rh, a, b, g, P, D, SDD_LANES, DD_FLOAT16, HW, eps, scale, sum); \
            return sdd_strip_body(rh, a, b, g, P, D, SDD_LANES, DD_BFLOAT16, HW, eps, scale, sum);           \
        }                                                                                                    \
        if (dt == DD_FLOAT32) return sdd_strip_body(rh, a, b, g, P, D, w, DD_FLOAT32, HW, eps, scale, sum);  \
        if (dt == DD_FLOAT16) return sdd_strip_body(rh, a, b, g, P, D, w, DD_FLOAT16, HW, eps, scale, sum);  \
        return sdd_strip_body(rh, a, b, g, P, D, w, DD_BFLOAT16, HW, eps, scale, sum);                       \
    } while (0)

__attribute__((target("avx2,fma,f16c"))) static dd_status
sdd_strip_avx2(const void *rh, const void *a, const void *b, void *g, int64_t P, int64_t D, int w, dd_dtype dt,
               float eps, float scale, double *sum) {
    SDD_DISPATCH(1);
}

static dd_status sdd_strip_base(const void *rh, const void *a, const void *b, void *g, int64_t P, int64_t D, int w,
                                dd_dtype dt, float eps, float scale, double *sum) {
    SDD_DISPATCH(0);
}

static strip_fn pick_strip_fn(void) {
    __builtin_cpu_init();
    return (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
               ? sdd_strip_avx2
               : sdd_strip_base;
}

/* ---- entry point ---------------------------------------------------------------------------------------------- */

dd_status dd_sdd_cpu(const dd_sdd_params *p) {
    dd_status st_ = dd_sdd_check(p);
    if (st_ != DD_OK) return st_;
    const int64_t B = p->batch, D = p->channels, P = p->positions;
    const int64_t N = B * D * P;
    const int64_t strips = (P + SDD_LANES - 1) / SDD_LANES;
    const int64_t items = B * strips;
    const dd_dtype dt = p->dtype;
    const int64_t esize = dt == DD_FLOAT32 ? 4 : 2;
    const int parallel = items > 1 && N >= SDD_PARALLEL_MIN;
    const int team = parallel ? (p->num_threads > 0 ? p->num_threads : omp_get_max_threads()) : 1;

    double *sums = (double *)malloc((size_t)items * sizeof(double)); /* one slot per strip */
    if (sums == 0) return DD_ERR_BAD_SHAPE; /* too large to stage (no out-of-memory code in the ABI) */

    const strip_fn strip = pick_strip_fn();
    const float scale = (float)(2.0 / (double)N);
    const float eps = p->eps;
    const char *rh = (const char *)p->r_hat, *a = (const char *)p->a, *b = (const char *)p->b;
    char *g = (char *)p->grad_r_hat;
    dd_status failed = DD_OK;

#pragma omp parallel num_threads(team) if (parallel)
    {
        dd_status local = DD_OK;
        /* dynamic blocks of strips: on a shared machine a descheduled thread's share is taken over by the others */
#pragma omp for schedule(dynamic, 8)
        for (int64_t it = 0; it < items; it++) {
            if (local != DD_OK) continue;
            const int64_t bi = it / strips, p0 = (it % strips) * SDD_LANES;
            const int w = (int)(P - p0 < SDD_LANES ? P - p0 : SDD_LANES);
            const int64_t off = (bi * D * P + p0) * esize;
            local = strip(rh + off, a + off, b + off, g ? g + off : 0, P, D, w, dt, eps, scale, sums + it);
        }
        if (local != DD_OK) {
#pragma omp critical
            if (failed == DD_OK) failed = local;
        }
    }
    if (failed != DD_OK) {
        free(sums);
        return failed;
    }

    /* fixed-order reduction: strips within a sample, then samples. The sums are exact-range doubles; a per-sample
     * sum (an output, float32) or the loss beyond float32 is an overflow, not an inf passed off as a result. */
    double total = 0.0;
    dd_status out = DD_OK;
    for (int64_t bi = 0; bi < B; bi++) {
        double s = 0.0;
        for (int64_t k = 0; k < strips; k++) s += sums[bi * strips + k];
        if (!dd_fits_float(s)) out = DD_STATUS_OVERFLOW;
        p->partial[bi] = (float)s;
        total += s;
    }
    free(sums);
    if (out != DD_OK) return out;
    p->loss[0] = (float)(total / (double)N);
    return DD_OK;
}
