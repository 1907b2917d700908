/*
 * DATW + KD + CE on the CPU: one call computes the teacher weights, both losses and dL/ds.
 *
 * Layout of the work: rows are independent, so OpenMP splits the batch; inside a row five short passes run over
 * the C logits while they sit in L1 (max/dot products, exp sums, fused target max, KL sums, gradient). Every
 * loop is written over fixed-width lane arrays so the compiler can vectorize it without -ffast-math (we need
 * IEEE semantics for the finiteness checks); the row function is compiled twice (AVX2+FMA and baseline x86-64)
 * and picked at load time through target_clones. Reductions accumulate in double; the batch reduction is
 * sequential over row results, so the result does not depend on the thread count.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>

#include "dd_common.h"

#define LANES 8

/* exp(x) for x <= 0, relative error ~2e-7, vectorizable: 2^n * poly(r), with x clamped at -87 (result then
 * ~1.6e-38 instead of a denormal/zero, irrelevant beside sums >= 1). */
static inline float dd_expf(float x) {
    x = x < -87.0f ? -87.0f : x;
    float n = x * 1.44269504088896341f + 12582912.0f;
    n -= 12582912.0f;
    float r = x - n * 0.693145751953125f;
    r = r - n * 1.428606765330187045e-06f;
    float p = 1.0f / 40320.0f;
    p = p * r + 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* exp(x) in double for x <= 0, relative error ~2e-16: the teacher statistics (entropy, confidence) go through
 * this one because conf = 1 - H / log C cancels for near-uniform teachers and the linear weight normalization
 * then amplifies any error. */
static inline double dd_exp(double x) {
    x = x < -708.0 ? -708.0 : x;
    double n = x * 1.4426950408889634 + 6755399441055744.0;
    n -= 6755399441055744.0;
    double r = x - n * 6.93147180369123816490e-01;
    r = r - n * 1.90821492927058770002e-10;
    double q = 1.0 / 479001600.0;
    q = q * r + 1.0 / 39916800.0;
    q = q * r + 1.0 / 3628800.0;
    q = q * r + 1.0 / 362880.0;
    q = q * r + 1.0 / 40320.0;
    q = q * r + 1.0 / 5040.0;
    q = q * r + 1.0 / 720.0;
    q = q * r + 1.0 / 120.0;
    q = q * r + 1.0 / 24.0;
    q = q * r + 1.0 / 6.0;
    q = q * r + 0.5;
    q = q * r + 1.0;
    q = q * r + 1.0;
    int64_t bits = ((int64_t)n + 1023) << 52;
    double scale;
    memcpy(&scale, &bits, sizeof scale);
    return q * scale;
}

static inline float lanes_max(const float *m) {
    float r = m[0];
    for (int i = 1; i < LANES; i++) r = m[i] > r ? m[i] : r;
    return r;
}

static inline double lanes_sum(const double *a) {
    double r = 0.0;
    for (int i = 0; i < LANES; i++) r += a[i];
    return r;
}

/* max_c x[c] */
static inline float row_max(const float *x, int64_t C) {
    float m[LANES];
    for (int i = 0; i < LANES; i++) m[i] = -INFINITY;
    int64_t c = 0;
    for (; c + LANES <= C; c += LANES)
        for (int i = 0; i < LANES; i++) m[i] = x[c + i] > m[i] ? x[c + i] : m[i];
    float r = lanes_max(m);
    for (; c < C; c++) r = x[c] > r ? x[c] : r;
    return r;
}

/* sum_c a[c] * b[c] in double */
static inline double row_dot(const float *a, const float *b, int64_t C) {
    double acc[LANES] = {0};
    int64_t c = 0;
    for (; c + LANES <= C; c += LANES)
        for (int i = 0; i < LANES; i++) acc[i] += (double)a[c + i] * (double)b[c + i];
    double r = lanes_sum(acc);
    for (; c < C; c++) r += (double)a[c] * (double)b[c];
    return r;
}

/* S = sum exp((x - m) * inv), U = sum exp((x - m) * inv) * (x - m) * inv */
static inline void row_expsum(const float *x, int64_t C, float m, float inv, double *S, double *U) {
    double s[LANES] = {0}, u[LANES] = {0};
    int64_t c = 0;
    for (; c + LANES <= C; c += LANES)
        for (int i = 0; i < LANES; i++) {
            float v = (x[c + i] - m) * inv;
            float e = dd_expf(v);
            s[i] += e;
            u[i] += (double)(e * v);
        }
    double rs = lanes_sum(s), ru = lanes_sum(u);
    for (; c < C; c++) {
        float v = (x[c] - m) * inv;
        float e = dd_expf(v);
        rs += e;
        ru += (double)(e * v);
    }
    *S = rs;
    if (U) *U = ru;
}

/* Double-precision S and U of row_expsum, for the teacher statistics. */
static inline void row_expsum_d(const float *x, int64_t C, float m, double inv, double *S, double *U) {
    double s[LANES] = {0}, u[LANES] = {0};
    int64_t c = 0;
    for (; c + LANES <= C; c += LANES)
        for (int i = 0; i < LANES; i++) {
            double v = ((double)x[c + i] - (double)m) * inv;
            double e = dd_exp(v);
            s[i] += e;
            u[i] += e * v;
        }
    double rs = lanes_sum(s), ru = lanes_sum(u);
    for (; c < C; c++) {
        double v = ((double)x[c] - (double)m) * inv;
        double e = dd_exp(v);
        rs += e;
        ru += e * v;
    }
    *S = rs;
    if (U) *U = ru;
}

/* z[c] = sum_k w_k t_k[c] */
static inline void row_target(const float *const *t, const float *w, int32_t K, int64_t C, float *z) {
    for (int64_t c = 0; c < C; c++) z[c] = w[0] * t[0][c];
    for (int32_t k = 1; k < K; k++) {
        const float *tk = t[k];
        const float wk = w[k];
        for (int64_t c = 0; c < C; c++) z[c] += wk * tk[c];
    }
}

static inline int is_finite_bits(double v) { return isfinite(v); }

/*
 * One row. s, t[k]: float logits; z: scratch [C]; g: gradient out [C] or NULL.
 * Writes w/conf/disc [K] and (kd, ce) to out2. Returns a dd_status.
 */
__attribute__((target_clones("arch=haswell", "default")))
static dd_status datw_row(const dd_datw_params *p, const float *s, const float *const *t, int64_t label,
                          float *z, float *g, float *w, float *conf, float *disc, float *out2) {
    const int64_t C = p->classes;
    const int32_t K = p->teachers;
    const float T = p->temperature, invT = 1.0f / p->temperature;

    /* pass A: maxima and dot products (and finiteness through the squared norms) */
    const float ms = row_max(s, C);
    const double ss = row_dot(s, s, C);
    if (!is_finite_bits(ss)) return DD_ERR_NONFINITE_INPUT;
    float ent[DD_MAX_TEACHERS], ce_t[DD_MAX_TEACHERS];
    const double logC = log((double)C);
    for (int32_t k = 0; k < K; k++) {
        const double tt = row_dot(t[k], t[k], C);
        if (!is_finite_bits(tt)) return DD_ERR_NONFINITE_INPUT;
        const double st = row_dot(s, t[k], C);
        disc[k] = dd_discrepancy(st, ss, tt);
        /* pass B (teacher): entropy of softmax(t/tau_c) = log S - U/S on shifted values */
        const float mt = row_max(t[k], C);
        double S, U;
        row_expsum_d(t[k], C, mt, 1.0 / (double)p->tau_conf, &S, &U);
        const double H = log(S) - U / S;
        ent[k] = (float)H;
        const double cf = 1.0 - H / logC;
        conf[k] = (float)(cf < 0.0 ? 0.0 : (cf > 1.0 ? 1.0 : cf));
        if (p->weighting == DD_WEIGHTING_CAMKD) {
            double S1;
            row_expsum_d(t[k], C, mt, 1.0, &S1, 0);
            ce_t[k] = (float)((double)mt + log(S1) - (double)t[k][label]);
        } else {
            ce_t[k] = 0.0f;
        }
    }
    dd_datw_weights(p, conf, disc, ent, ce_t, w);

    /* pass B (student): log-sum-exp of s/T and of s */
    double SsT, Ss1;
    row_expsum(s, C, ms, invT, &SsT, 0);
    row_expsum(s, C, ms, 1.0f, &Ss1, 0);
    const double lseST = (double)ms * invT + log(SsT);   /* logsumexp(s/T) */
    const double lseS1 = (double)ms + log(Ss1);         /* logsumexp(s) */

    /* pass C+D: fused target, its log-sum-exp and KL(q||p) = E_q[(z - s)/T] - lse(z/T) + lse(s/T) */
    row_target(t, w, K, C, z);
    const float mz = row_max(z, C);
    double Sz;
    double uq[LANES] = {0};
    {
        double sz[LANES] = {0};
        int64_t c = 0;
        for (; c + LANES <= C; c += LANES)
            for (int i = 0; i < LANES; i++) {
                float e = dd_expf((z[c + i] - mz) * invT);
                sz[i] += e;
                uq[i] += (double)(e * ((z[c + i] - s[c + i]) * invT));
            }
        Sz = lanes_sum(sz);
        for (; c < C; c++) {
            float e = dd_expf((z[c] - mz) * invT);
            Sz += e;
            uq[0] += (double)(e * ((z[c] - s[c]) * invT));
        }
    }
    const double lseZT = (double)mz * invT + log(Sz);
    double kl = lanes_sum(uq) / Sz - lseZT + lseST;
    if (kl < 0.0) kl = 0.0; /* KL >= 0; rounding can leave -1e-9 */
    out2[0] = (float)((double)T * (double)T * kl);

    /* cross-entropy with label smoothing */
    const float ls = p->label_smoothing;
    if (label >= 0) {
        /* -(1 - ls) log p_y - (ls / C) sum_c log p_c = lse - (1 - ls) s_y - (ls / C) sum_c s_c */
        double ce = lseS1 - (1.0 - ls) * (double)s[label];
        if (ls > 0.0f) {
            double sum_s = 0.0;
            for (int64_t c = 0; c < C; c++) sum_s += s[c];
            ce -= (double)ls / (double)C * sum_s;
        }
        out2[1] = (float)ce;
    } else {
        out2[1] = 0.0f;
    }

    /* pass E: gradient */
    if (g) {
        const float B = (float)p->batch;
        const float ckd = p->alpha_kd * T / B;
        const float cce = label >= 0 ? p->alpha_ce / B : 0.0f;
        const float iSsT = (float)(1.0 / SsT), iSz = (float)(1.0 / Sz), iSs1 = (float)(1.0 / Ss1);
        const float off = ls / (float)C;
        for (int64_t c = 0; c < C; c++) {
            float pT = dd_expf((s[c] - ms) * invT) * iSsT;
            float qT = dd_expf((z[c] - mz) * invT) * iSz;
            float p1 = dd_expf(s[c] - ms) * iSs1;
            g[c] = ckd * (pT - qT) + cce * (p1 - off);
        }
        if (label >= 0) g[label] -= cce * (1.0f - ls);
    }
    return DD_OK;
}

/* ---- dtype adapters ----------------------------------------------------------------------------------------- */

static inline float bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint16_t f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);                                           /* round to nearest even */
    return (uint16_t)(u >> 16);
}

static void load_row(const void *base, int64_t row, int64_t stride, int64_t C, dd_dtype dt, float *dst) {
    if (dt == DD_FLOAT16) {
        const _Float16 *src = (const _Float16 *)base + row * stride;
        for (int64_t c = 0; c < C; c++) dst[c] = (float)src[c];
    } else {
        const uint16_t *src = (const uint16_t *)base + row * stride;
        for (int64_t c = 0; c < C; c++) dst[c] = bf16_to_f32(src[c]);
    }
}

static void store_row(void *base, int64_t row, int64_t stride, int64_t C, dd_dtype dt, const float *srcf) {
    if (dt == DD_FLOAT16) {
        _Float16 *dst = (_Float16 *)base + row * stride;
        for (int64_t c = 0; c < C; c++) dst[c] = (_Float16)srcf[c];
    } else {
        uint16_t *dst = (uint16_t *)base + row * stride;
        for (int64_t c = 0; c < C; c++) dst[c] = f32_to_bf16(srcf[c]);
    }
}

dd_status dd_datw_cpu(const dd_datw_params *p) {
    dd_status st = dd_datw_check(p);
    if (st != DD_OK) return st;
    const int64_t B = p->batch, C = p->classes;
    const int32_t K = p->teachers;
    if (p->labels) {
        for (int64_t b = 0; b < B; b++)
            if (p->labels[b] < 0 || p->labels[b] >= C) return DD_ERR_LABEL_OUT_OF_RANGE;
    }
    const int half = p->dtype != DD_FLOAT32;
    /* per thread: z [C]; for half types also s, g and K teacher rows [C] each */
    const int64_t per_thread = C * (half ? (int64_t)(3 + K) : 1);
    dd_status failed = DD_OK;
    const int nthreads = p->num_threads;
    const int parallel = B > 1 && B * C * (int64_t)K >= 16384;

#pragma omp parallel num_threads(nthreads > 0 ? nthreads : omp_get_max_threads()) if (parallel)
    {
        float *scratch = (float *)malloc((size_t)per_thread * sizeof(float));
        dd_status local = scratch ? DD_OK : DD_ERR_BAD_SHAPE;
#pragma omp for schedule(static)
        for (int64_t b = 0; b < B; b++) {
            if (local != DD_OK) continue;
            const float *t[DD_MAX_TEACHERS];
            const float *s;
            float *g = 0;
            float *z = scratch;
            float wbuf[DD_MAX_TEACHERS], cbuf[DD_MAX_TEACHERS], dbuf[DD_MAX_TEACHERS];
            float *w = p->weights ? p->weights + b * K : wbuf;
            float *cf = p->confidence ? p->confidence + b * K : cbuf;
            float *ds = p->discrepancy ? p->discrepancy + b * K : dbuf;
            if (!half) {
                s = (const float *)p->student + b * p->student_stride;
                for (int32_t k = 0; k < K; k++) t[k] = (const float *)p->teacher[k] + b * p->teacher_stride[k];
                if (p->grad_student) g = (float *)p->grad_student + b * p->grad_stride;
            } else {
                float *sbuf = scratch + C, *gbuf = scratch + 2 * C;
                load_row(p->student, b, p->student_stride, C, p->dtype, sbuf);
                s = sbuf;
                for (int32_t k = 0; k < K; k++) {
                    float *tb = scratch + (3 + k) * C;
                    load_row(p->teacher[k], b, p->teacher_stride[k], C, p->dtype, tb);
                    t[k] = tb;
                }
                if (p->grad_student) g = gbuf;
            }
            const int64_t label = p->labels ? p->labels[b] : -1;
            dd_status r = datw_row(p, s, t, label, z, g, w, cf, ds, p->row_loss + 2 * b);
            if (r != DD_OK) {
                local = r;
            } else if (half && g) {
                store_row(p->grad_student, b, p->grad_stride, C, p->dtype, g);
            }
        }
        free(scratch);
        if (local != DD_OK) {
#pragma omp critical
            if (failed == DD_OK) failed = local;
        }
    }
    if (failed != DD_OK) return failed;

    double kd = 0.0, ce = 0.0;
    for (int64_t b = 0; b < B; b++) {
        kd += p->row_loss[2 * b];
        ce += p->row_loss[2 * b + 1];
    }
    kd /= (double)B;
    ce /= (double)B;
    p->loss[1] = (float)kd;
    p->loss[2] = p->labels ? (float)ce : 0.0f;
    p->loss[0] = (float)((double)p->alpha_kd * kd + (p->labels ? (double)p->alpha_ce * ce : 0.0));
    return DD_OK;
}
