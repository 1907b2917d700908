/*
 * Shared by cpu/rkd.c and cuda/rkd.cu: parameter validation, the workspace layout and the scalar formulas of the
 * RKD loss, written once so both backends compute the same function. Internal to native/; the ABI is
 * jextract/dualdistill_kernels.h (dd_rkd_params).
 *
 * The algebra both backends follow (B rows; every array below is in the caller's workspace):
 *
 *   P_ij   = |e_i - e_j|^2         (double, summed from the differences themselves: P_ii is exactly 0 for finite rows)
 *   d_ij   = sqrt(max(P_ij, eps)),   rd_ij = 1 / d_ij  (rd_ii = 0)
 *   mu     = sum_{i != j} d_ij / Np,                 Np = B (B - 1)
 *   L_D    = sum_{i != j} h(d^s_ij / mu_s - d^t_ij / mu_t) / Np          h = SmoothL1 (beta 1), h' = clamp(., -1, 1)
 *   cos_ijk = (P_ij + P_ik - P_jk) / 2 * rd_ij rd_ik                    (j != i, k != i; j == k included)
 *   L_A    = sum h(cos^s_ijk - cos^t_ijk) / Nt,      Nt = B (B - 1)^2
 *
 * The law of cosines, rather than the Gram identity <e_j - e_i, e_k - e_i> = G_jk - G_ij - G_ik + G_ii, keeps the
 * cancellation at the scale of the distances involved instead of |e|^2: for points close to each other but far from
 * the origin the Gram form loses many more digits (measured: 1e-5 relative gradient error at B = 64, D = 1).
 *
 * Backward, with sA = angle_weight / Nt and hp_ijk = h'(cos^s_ijk - cos^t_ijk), A_ijk = hp_ijk rd^s_ij rd^s_ik:
 *   W_jk   = sum_{i != j, k} A_ijk        (row j of W is owned by "middle index" j: written by one worker)
 *   R_ij   = sum_{k != i} A_ijk,   Q_ij = sum_{k != i} hp_ijk cos^s_ijk     (element (i, j) also owned by j)
 *   dL/dd_ij = distance_weight / Np (g_ij / mu_s - S / (mu_s^2 Np)) - 2 sA Q_ij rd_ij,
 *              g_ij = h'(d^s_ij / mu_s - d^t_ij / mu_t),  S = sum_{i != j} g_ij d^s_ij   (mu_s carries gradient)
 *   c_ij   = dL/dd_ij * (P_ij >= eps ? rd_ij / 2 : 0)                      (the floor passes no gradient)
 *   dL/dP_ij = sA R_ij - sA W_ij / 2 + c_ij          (R twice: P_ij is the second or the third slot of a triple)
 *   K_ab   = 2 (dL/dP_ab + dL/dP_ba) = sA (2 R_ab + 2 R_ba - W_ab - W_ba) + 2 (c_ab + c_ba)
 *   dL/de_a = sum_{b != a} K_ab (e_a - e_b)     (in the difference form: K_ab is large only where e_a - e_b is small)
 *
 * Every sum has a fixed order and every output element one writer, so both backends are deterministic.
 */
#ifndef DD_RKD_COMMON_H
#define DD_RKD_COMMON_H

#include <math.h>
#include <stdint.h>

#include "dd_common.h"

/* Largest batch the kernels accept: the workspace is O(B^2) and the angle term O(B^3). */
#define DD_RKD_MAX_BATCH 32768

/* Workspace in doubles: Ps, Pt, rds, rdt, W, R, Q [B, B] each, then sumd_s, sumd_t, ld, sp, la [B] each. */
static inline int64_t dd_rkd_ws_doubles(int64_t batch) {
    return 7 * batch * batch + 5 * batch;
}

/* In floats, plus 2 so the double view can start at the next 8-byte boundary of any float pointer. */
static inline int64_t dd_rkd_ws_floats(int64_t batch) {
    if (batch < 2 || batch > DD_RKD_MAX_BATCH) return 0;
    return 2 * dd_rkd_ws_doubles(batch) + 2;
}

typedef struct dd_rkd_ws {
    double *ps, *pt;      /* [B, B] squared distances of the student / teacher rows */
    double *rds, *rdt;    /* [B, B] inverse distances, 0 on the diagonal; rdt is reused for K once the angle pass ran */
    double *w, *r, *q;    /* [B, B] angle-gradient accumulators (see above) */
    double *sumds, *sumdt; /* [B] per-row sums of d over j != i */
    double *ld, *sp, *la; /* [B] per-row L_D sums, S sums, and per-middle-index L_A sums */
} dd_rkd_ws;

/* Carves the workspace (host or device address; nothing is dereferenced here). */
static inline dd_rkd_ws dd_rkd_layout(float *workspace, int64_t B) {
    uintptr_t a = ((uintptr_t)workspace + 7u) & ~(uintptr_t)7u;
    double *base = (double *)a;
    const int64_t bb = B * B;
    dd_rkd_ws ws;
    ws.ps = base;
    ws.pt = base + bb;
    ws.rds = base + 2 * bb;
    ws.rdt = base + 3 * bb;
    ws.w = base + 4 * bb;
    ws.r = base + 5 * bb;
    ws.q = base + 6 * bb;
    ws.sumds = base + 7 * bb;
    ws.sumdt = ws.sumds + B;
    ws.ld = ws.sumdt + B;
    ws.sp = ws.ld + B;
    ws.la = ws.sp + B;
    return ws;
}

/* Host-side checks every backend runs before touching memory; finiteness is checked by the kernels. */
static inline dd_status dd_rkd_check(const dd_rkd_params *p) {
    if (p == 0 || p->student == 0 || p->teacher == 0 || p->workspace == 0 || p->loss == 0) return DD_ERR_NULL_POINTER;
    if (p->batch < 2 || p->batch > DD_RKD_MAX_BATCH) return DD_ERR_BAD_SHAPE;
    if (p->student_dim < 1 || p->teacher_dim < 1) return DD_ERR_BAD_SHAPE;
    /* the kernels index a [B, D] input with int64; keep B * D far from overflow */
    if (p->student_dim > ((int64_t)1 << 40) / p->batch || p->teacher_dim > ((int64_t)1 << 40) / p->batch)
        return DD_ERR_BAD_SHAPE;
    if (p->dtype != DD_FLOAT32 && p->dtype != DD_FLOAT16 && p->dtype != DD_BFLOAT16) return DD_ERR_BAD_DTYPE;
    if (!(p->eps > 0.0f) || !isfinite(p->eps)) return DD_ERR_BAD_PARAMETER;
    if (!isfinite(p->distance_weight) || !isfinite(p->angle_weight) || p->num_threads < 0) return DD_ERR_BAD_PARAMETER;
    if (p->workspace_floats < dd_rkd_ws_floats(p->batch)) return DD_ERR_BAD_SHAPE;
    return DD_OK;
}

/* SmoothL1 with beta = 1, and its derivative (PyTorch's convention at |x| = 1: the derivative is +-1). */
DD_HD double dd_rkd_huber(double x) {
    const double ax = fabs(x);
    return ax < 1.0 ? 0.5 * x * x : ax - 0.5;
}

DD_HD double dd_rkd_huber_grad(double x) {
    return x > 1.0 ? 1.0 : (x < -1.0 ? -1.0 : x);
}

/* d = sqrt(max(sq, eps)) */
DD_HD double dd_rkd_dist(double sq, double eps) {
    return sqrt(sq > eps ? sq : eps);
}

/*
 * c_ab = dL/dd_ab * dd_ab/dP_ab for one ordered pair a != b (see the header comment). ps, pt, rds, q are [B, B];
 * mu_s, mu_t, S are the batch scalars; kd = distance_weight / Np, sa = angle_weight / Nt.
 */
DD_HD double dd_rkd_pair_grad(const double *ps, const double *pt, const double *rds, const double *q, int64_t B,
                              int64_t a, int64_t b, double eps, double mu_s, double mu_t, double S, double kd,
                              double sa, double np) {
    const double pab = ps[a * B + b];
    if (!(pab >= eps)) return 0.0; /* the floor is active: no gradient reaches P */
    const double ds = dd_rkd_dist(pab, eps);
    const double dt = dd_rkd_dist(pt[a * B + b], eps);
    const double g = dd_rkd_huber_grad(ds / mu_s - dt / mu_t);
    const double rd = rds[a * B + b];
    const double dLdd = kd * (g / mu_s - S / (mu_s * mu_s * np)) - 2.0 * sa * q[a * B + b] * rd;
    return dLdd * 0.5 * rd;
}

#endif /* DD_RKD_COMMON_H */
