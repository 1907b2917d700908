/*
 * RKD (relational knowledge distillation, Park et al., CVPR 2019) loss and dL/de_s on the CPU.
 *
 * The algebra is in common/rkd_common.h: everything is derived from the two B x B squared-distance matrices, so no
 * B x B x D difference tensor is ever formed. Work, in one OpenMP team:
 *   1. convert both inputs into double rows X (malloc'd, freed before returning), checking finiteness;
 *   2. squared distances Pt, Ps: the upper triangle, row by row, mirrored (O(B^2 D));
 *   3. distances, inverse distances and per-row distance sums, then mu_s, mu_t (O(B^2));
 *   4. parallel over the middle index j: row j's L_D and S partials, and the angle terms with middle index j; j owns
 *      row j of W and the elements (i, j) of R and Q, so there is no write conflict and no atomics (O(B^3) scalar);
 *   5. row a of K = 2 (dL/dP + dL/dP^T), then dL/de_a = sum_b K_ab (e_a - e_b) (O(B^2 D)).
 * Every value is computed by exactly one thread and every sum has a fixed order (the batch sums run sequentially
 * over per-row partials), so the result is bit-identical whatever the thread count. Arithmetic is in double from
 * the converted inputs on; the hot loops (rkd_kernels.inc) are compiled for AVX2+FMA and for baseline x86-64 and
 * picked from the CPU's features, as in datw.c. No -ffast-math: non-finite inputs must be seen.
 *
 * Range: squared distances of float inputs in double cannot overflow, and the loss is scale-free, so embeddings
 * anywhere in the float32 range give finite results; a loss or gradient beyond the output's range (huge term
 * weights) is DD_STATUS_OVERFLOW (dd_common.h), a NaN/inf input DD_ERR_NONFINITE_INPUT.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>

#include "rkd_common.h"

#define RKD_DLANES 16 /* accumulators of the distance sums: four AVX2 registers of doubles in flight */
#define RKD_TILE 512  /* columns of dL/de_s accumulated at once (4 KiB of doubles on the stack) */

/* Fixed pairwise sum of a lane array (n a power of two): the same association order on every path. */
static inline double rkd_tree(double *acc, int n) {
    for (int w = n / 2; w > 0; w /= 2)
        for (int l = 0; l < w; l++) acc[l] += acc[l + w];
    return acc[0];
}

/* Four doubles in GCC's vector extension, for the angle loop; masks are the matching int64 vectors. Only used
 * inside functions (never passed or returned), so the AVX and SSE2 copies share no vector ABI. */
typedef double rkd_v4 __attribute__((vector_size(32)));
typedef int64_t rkd_m4 __attribute__((vector_size(32)));
#define RKD_SELECT(m, a, b) ((rkd_v4)(((rkd_m4)(a) & (m)) | ((rkd_m4)(b) & ~(m))))
#define RKD_HSUM(v) (((v)[0] + (v)[2]) + ((v)[1] + (v)[3]))

#define DD_ISA_NAME(x) x##_avx2
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#include "rkd_kernels.inc"
#pragma GCC pop_options
#undef DD_ISA_NAME

#define DD_ISA_NAME(x) x##_base
#include "rkd_kernels.inc"
#undef DD_ISA_NAME

typedef struct rkd_isa {
    double (*sqdist)(const double *, const double *, int64_t);
    double (*angle_row)(const dd_rkd_ws *, int64_t, int64_t);
    void (*grad_tile)(const double *, const double *, int64_t, int64_t, int64_t, int64_t, int64_t, double *);
} rkd_isa;

static rkd_isa pick_isa(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return (rkd_isa){rkd_sqdist_avx2, rkd_angle_row_avx2, rkd_grad_tile_avx2};
    return (rkd_isa){rkd_sqdist_base, rkd_angle_row_base, rkd_grad_tile_base};
}

/* ---- dtype adapters ----------------------------------------------------------------------------------------- */

static inline double bf16_to_double(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return (double)f;
}

static inline uint16_t float_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);                                           /* round to nearest even */
    return (uint16_t)(u >> 16);
}

/* Element `index` (row-major) of an input of dtype dt, as double. */
static inline double load_elem(const void *base, dd_dtype dt, int64_t index) {
    if (dt == DD_FLOAT32) return (double)((const float *)base)[index];
    if (dt == DD_FLOAT16) return (double)((const _Float16 *)base)[index];
    return bf16_to_double(((const uint16_t *)base)[index]);
}

/*
 * x[k] = e_row[k] in double; returns 0 when every element is finite. The check rides on the arithmetic: v * 0 is NaN
 * exactly for NaN and +-inf, and NaN survives the sum.
 */
static int convert_row(const void *e, dd_dtype dt, int64_t D, int64_t row, double *restrict x) {
    double probe = 0.0;
    const int64_t o = row * D;
    if (dt == DD_FLOAT32) {
        const float *restrict r = (const float *)e + o;
        for (int64_t k = 0; k < D; k++) {
            x[k] = (double)r[k];
            probe += x[k] * 0.0;
        }
    } else {
        for (int64_t k = 0; k < D; k++) {
            x[k] = load_elem(e, dt, o + k);
            probe += x[k] * 0.0;
        }
    }
    return probe == 0.0 ? 0 : 1;
}

static void store_row(void *g, dd_dtype dt, int64_t D, int64_t row, int64_t k0, int64_t n, const double *src) {
    const int64_t o = row * D + k0;
    if (dt == DD_FLOAT32) {
        float *dst = (float *)g + o;
        for (int64_t l = 0; l < n; l++) dst[l] = (float)src[l];
    } else if (dt == DD_FLOAT16) {
        _Float16 *dst = (_Float16 *)g + o;
        for (int64_t l = 0; l < n; l++) dst[l] = (_Float16)(float)src[l];
    } else {
        uint16_t *dst = (uint16_t *)g + o;
        for (int64_t l = 0; l < n; l++) dst[l] = float_to_bf16((float)src[l]);
    }
}

int64_t dd_rkd_workspace_floats(int64_t batch) {
    return dd_rkd_ws_floats(batch);
}

dd_status dd_rkd_cpu(const dd_rkd_params *p) {
    const dd_status st = dd_rkd_check(p);
    if (st != DD_OK) return st;
    const int64_t B = p->batch, Ds = p->student_dim, Dt = p->teacher_dim;
    const int64_t Dm = Ds > Dt ? Ds : Dt;
    const dd_dtype dt = p->dtype;
    const dd_rkd_ws ws = dd_rkd_layout(p->workspace, B);
    const rkd_isa isa = pick_isa();
    /* both inputs in double, teacher then student (Xt, Xs); no status means "out of memory",
     * so, like datw.c, report the size as the problem */
    double *X = (double *)malloc((size_t)(B * (Ds + Dt)) * sizeof(double));
    if (X == 0) return DD_ERR_BAD_SHAPE;

    const double eps = (double)p->eps;
    const double np = (double)B * (double)(B - 1);
    const double nt = np * (double)(B - 1);
    const double kd = (double)p->distance_weight / np, sa = (double)p->angle_weight / nt;
    const int want_grad = p->grad_student != 0;
    const int nthreads = p->num_threads > 0 ? p->num_threads : omp_get_max_threads();
    /* below ~256K multiply-adds (B = 32, D = 200) the team and its four barriers cost more than they save */
    const int parallel = B * B * (Dm + B) >= (1 << 18);
    double *Xt = X, *Xs = X + B * Dt;
    int bad = 0, over = 0;
    /* the gradient's dtype bound: dL/de scales with the term weights and with 1 / |e_a - e_b| */
    const double gmax = dt == DD_FLOAT16 ? 65504.0 : DD_FLT_MAX_D;

    /* Four barriers in all: a thread that the OS parks while the others wait at a barrier costs everyone, so the
     * batch scalars (mu, S) are summed redundantly by every thread, in the same order, instead of in a `single`. */
#pragma omp parallel num_threads(nthreads) if (parallel)
    {
        /* 1: both inputs to double, teacher rows first */
#pragma omp for schedule(static) reduction(| : bad)
        for (int64_t r = 0; r < 2 * B; r++)
            bad |= r < B ? convert_row(p->teacher, dt, Dt, r, Xt + r * Dt)
                         : convert_row(p->student, dt, Ds, r - B, Xs + (r - B) * Ds);
        if (!bad) {
            /* 2: squared distances; row i of a matrix costs B - i - 1 of them: hand rows out one at a time */
#pragma omp for schedule(dynamic, 1)
            for (int64_t task = 0; task < 2 * B; task++) {
                const int64_t i = task >> 1;
                const int64_t D = (task & 1) ? Ds : Dt;
                const double *Xw = (task & 1) ? Xs : Xt;
                double *P = (task & 1) ? ws.ps : ws.pt;
                P[i * B + i] = 0.0;
                for (int64_t j = i + 1; j < B; j++) {
                    const double v = isa.sqdist(Xw + i * D, Xw + j * D, D);
                    P[i * B + j] = v;
                    P[j * B + i] = v;
                }
            }
            /* 3: distances, their inverses and per-row sums */
#pragma omp for schedule(static)
            for (int64_t i = 0; i < B; i++) {
                double ss = 0.0, st_ = 0.0;
                for (int64_t j = 0; j < B; j++) {
                    if (j == i) {
                        ws.rds[i * B + j] = 0.0;
                        ws.rdt[i * B + j] = 0.0;
                        continue;
                    }
                    const double ds = dd_rkd_dist(ws.ps[i * B + j], eps);
                    const double dtt = dd_rkd_dist(ws.pt[i * B + j], eps);
                    ws.rds[i * B + j] = 1.0 / ds;
                    ws.rdt[i * B + j] = 1.0 / dtt;
                    ss += ds;
                    st_ += dtt;
                }
                ws.sumds[i] = ss;
                ws.sumdt[i] = st_;
            }
            double mu_s = 0.0, mu_t = 0.0;
            for (int64_t i = 0; i < B; i++) {
                mu_s += ws.sumds[i];
                mu_t += ws.sumdt[i];
            }
            mu_s /= np;
            mu_t /= np;
            /* 4: row j's distance terms and the angle terms with middle index j */
#pragma omp for schedule(dynamic, 1)
            for (int64_t j = 0; j < B; j++) {
                double l = 0.0, sg = 0.0;
                for (int64_t b = 0; b < B; b++) {
                    if (b == j) continue;
                    const double ds = dd_rkd_dist(ws.ps[j * B + b], eps);
                    const double x = ds / mu_s - dd_rkd_dist(ws.pt[j * B + b], eps) / mu_t;
                    l += dd_rkd_huber(x);
                    sg += dd_rkd_huber_grad(x) * ds;
                }
                ws.ld[j] = l;
                ws.sp[j] = sg;
                ws.la[j] = isa.angle_row(&ws, B, j);
            }
            if (want_grad) {
                double S = 0.0;
                for (int64_t i = 0; i < B; i++) S += ws.sp[i];
                /* 5: row a of K (into the rdt buffer, no longer read), then dL/de_a = sum_b K_ab (e_a - e_b) */
                double *K = ws.rdt;
#pragma omp for schedule(static) nowait reduction(| : over)
                for (int64_t a = 0; a < B; a++) {
                    double *ka = K + a * B;
                    for (int64_t b = 0; b < B; b++) {
                        if (b == a) {
                            ka[b] = 0.0;
                            continue;
                        }
                        const double cab = dd_rkd_pair_grad(ws.ps, ws.pt, ws.rds, ws.q, B, a, b, eps, mu_s, mu_t, S, kd, sa, np);
                        const double cba = dd_rkd_pair_grad(ws.ps, ws.pt, ws.rds, ws.q, B, b, a, eps, mu_s, mu_t, S, kd, sa, np);
                        ka[b] = sa * (2.0 * (ws.r[a * B + b] + ws.r[b * B + a]) - ws.w[a * B + b] - ws.w[b * B + a])
                                + 2.0 * (cab + cba);
                    }
                    double tile[RKD_TILE];
                    for (int64_t k0 = 0; k0 < Ds; k0 += RKD_TILE) {
                        const int64_t n = Ds - k0 < RKD_TILE ? Ds - k0 : RKD_TILE;
                        isa.grad_tile(ka, Xs, B, Ds, a, k0, n, tile);
                        for (int64_t l = 0; l < n; l++) over |= !(fabs(tile[l]) <= gmax);
                        store_row(p->grad_student, dt, Ds, a, k0, n, tile);
                    }
                }
            }
        }
    }
    free(X);
    if (bad) return DD_ERR_NONFINITE_INPUT;
    double LD = 0.0, LA = 0.0;
    for (int64_t i = 0; i < B; i++) {
        LD += ws.ld[i];
        LA += ws.la[i];
    }
    LD /= np;
    LA /= nt;
    /* both terms are scale-free (ratios of distances, cosines), so only the weights can push the loss past float32,
     * and the weights or tiny distances the gradient: an overflow, never an inf passed off as a result */
    const double L = (double)p->distance_weight * LD + (double)p->angle_weight * LA;
    if (over || !dd_fits_float(L)) return DD_STATUS_OVERFLOW;
    p->loss[1] = (float)LD;
    p->loss[2] = (float)LA;
    p->loss[0] = (float)L;
    return DD_OK;
}
