/*
 * DATW + KD + CE on the CPU: one call computes the teacher weights, both losses and dL/ds.
 *
 * Layout of the work: rows are independent, so OpenMP splits the batch; inside a row five short passes run over
 * the C logits while they sit in L1 (max/dot products, exp sums, fused target max, KL sums, gradient). Every
 * loop is written over fixed-width lane arrays so the compiler can vectorize it without -ffast-math (we need
 * IEEE semantics for the finiteness checks); the row function (datw_row.inc) is compiled twice, for AVX2+FMA and
 * for baseline x86-64, and picked at run time from the CPU's features. Reductions accumulate in double; the batch reduction is
 * sequential over row results, so the result does not depend on the thread count.
 *
 * Range: any finite float32 logits give finite results where the results fit float32. The softmaxes, entropies
 * and the KL run on max-shifted logits, so no term has the size of the logits themselves; squared norms that
 * overflow float are redone in double; exps that underflow are exactly 0. A loss (or gradient) beyond float32 is
 * DD_STATUS_OVERFLOW (see dd_common.h), a NaN or infinity in the logits DD_ERR_NONFINITE_INPUT.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>

#include "dd_common.h"

#define DD_ISA_NAME(x) x##_avx2
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#include "datw_row.inc"
#pragma GCC pop_options
#undef DD_ISA_NAME

#define DD_ISA_NAME(x) x##_base
#include "datw_row.inc"
#undef DD_ISA_NAME

typedef dd_status (*row_fn)(const dd_datw_params *, const float *, const float *const *, int64_t, float *, float *,
                            float *, float *, float *, float *);

static row_fn pick_row_fn(void) {
    __builtin_cpu_init();
    return (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? datw_row_avx2 : datw_row_base;
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
    const row_fn row = pick_row_fn();
    const int half = p->dtype != DD_FLOAT32;
    /* per thread: 4 rows of row scratch; for half types also s, g and K teacher rows [C] each */
    const int64_t per_thread = C * (4 + (half ? (int64_t)(2 + K) : 0));
    dd_status failed = DD_OK;
    const int nthreads = p->num_threads;
    const int parallel = B > 1 && B * C * (int64_t)(K + 1) >= 4096;

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
                float *sbuf = scratch + 4 * C, *gbuf = scratch + 5 * C;
                load_row(p->student, b, p->student_stride, C, p->dtype, sbuf);
                s = sbuf;
                for (int32_t k = 0; k < K; k++) {
                    float *tb = scratch + (6 + k) * C;
                    load_row(p->teacher[k], b, p->teacher_stride[k], C, p->dtype, tb);
                    t[k] = tb;
                }
                if (p->grad_student) g = gbuf;
            }
            const int64_t label = p->labels ? p->labels[b] : -1;
            dd_status r = row(p, s, t, label, z, g, w, cf, ds, p->row_loss + 2 * b);
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
    /* the means are within the rows' range; the weighted total can still pass FLT_MAX */
    const double total = (double)p->alpha_kd * kd + (p->labels ? (double)p->alpha_ce * ce : 0.0);
    if (!dd_fits_float(total)) return DD_STATUS_OVERFLOW;
    p->loss[1] = (float)kd;
    p->loss[2] = p->labels ? (float)ce : 0.0f;
    p->loss[0] = (float)total;
    return DD_OK;
}
