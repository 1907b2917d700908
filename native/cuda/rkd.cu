/*
 * RKD (relational knowledge distillation, Park et al., CVPR 2019) loss and dL/de_s on the GPU: the CUDA twin of
 * cpu/rkd.c. Both follow the algebra of common/rkd_common.h (squared-distance matrices, law of cosines, the angle
 * terms grouped by their middle index, the gradient in difference form), in double, so they agree to rounding.
 *
 * Design: six launches on the caller's stream, no allocation, no synchronization; every intermediate lives in the
 * caller's workspace (dd_rkd_workspace_floats(B) floats).
 *   1. dd_rkd_pdist     grid (B, ceil(B / 8), 2) x 256: one warp per (i, j) and input; the lanes stride over the D
 *                       columns, a xor-shuffle tree sums |e_i - e_j|^2 into Ps / Pt. P_ij and P_ji are bitwise equal
 *                       ((a - b)^2 == (b - a)^2, same order), and P_ii is 0, or NaN when row i is not finite.
 *   2. dd_rkd_dist      grid B x 256: row i of rd_s, rd_t and its distance sums; a row with P_ii != 0 raises
 *                       DD_ERR_NONFINITE_INPUT in *error_flag and poisons its sums with NaN, so the loss turns NaN
 *                       rather than silently wrong.
 *   3. dd_rkd_angle     grid B x (32 nw): block j computes mu_s, mu_t, row j's distance terms (L_D and S partials)
 *                       and the angle terms with middle index j: warp w takes the apexes i = w, w + nw, ...; lane l
 *                       the third indices k = l, l + 32, ...; each warp accumulates its share of row j of W in shared
 *                       memory (nw rows of B doubles), summed over the warps in warp order at the end. For B too
 *                       large for that (B > 6016), one warp per block accumulates straight into W's row j.
 *                       R_ij and Q_ij come out of a warp reduction per apex.
 *   4. dd_rkd_kmat      grid B x 256: row a of K = 2 (dL/dP + dL/dP^T) into the rd_t buffer (rd_t is dead by then).
 *   5. dd_rkd_grad      grid (ceil(Ds / 256), B) x 256: dL/de_a = sum_{b != a} K_ab (e_a - e_b), one column per
 *                       thread, in the input dtype.
 *   6. dd_rkd_loss      one warp: (L, L_D, L_A) from the per-row partials.
 * Steps 4 and 5 are skipped without grad_student. Range: the loss is scale-free and everything runs in double, so
 * finite embeddings of any float32 magnitude give finite results; a loss or gradient beyond the output's range (huge
 * term weights) flags DD_STATUS_OVERFLOW (dd_common.h).
 *
 * Deterministic: no atomics touch the numbers. Every sum has a fixed association order (per thread in index order,
 * a fixed shuffle tree, warp partials in warp order); the batch scalars mu and S are summed by warp 0 of each block
 * that needs them, by the same code, so every block gets the same bits.
 */
#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <math.h>
#include <stdint.h>

#include "rkd_common.h"

#define DD_RKD_THREADS 256             /* kernels 2, 4, 5 and the warps of kernel 1 */
#define DD_RKD_MAX_WARPS 8             /* kernel 3: warps per block */
#define DD_RKD_SMEM_BYTES (47 * 1024)  /* kernel 3: shared W accumulators, leaving room for its static shared memory
                                       * under the 48 KiB a launch gets without opting in to more */

// CUDA kernels

__device__ __forceinline__ double dd_rkd_load(const float *p, int64_t i) { return (double)p[i]; }
__device__ __forceinline__ double dd_rkd_load(const __half *p, int64_t i) { return (double)__half2float(p[i]); }
__device__ __forceinline__ double dd_rkd_load(const __nv_bfloat16 *p, int64_t i) {
    return (double)__bfloat162float(p[i]);
}

__device__ __forceinline__ void dd_rkd_store(float *p, int64_t i, double v) { p[i] = (float)v; }
__device__ __forceinline__ void dd_rkd_store(__half *p, int64_t i, double v) { p[i] = __float2half_rn((float)v); }
__device__ __forceinline__ void dd_rkd_store(__nv_bfloat16 *p, int64_t i, double v) {
    p[i] = __float2bfloat16_rn((float)v);
}

/* Sum over a warp by a xor-shuffle tree; every lane ends with the same bits (each step adds a pair commutatively). */
__device__ __forceinline__ double dd_rkd_warp_sum(double v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/*
 * sum_b v[b] over n values, by one warp (all 32 lanes call it): lane l adds b = l, l + 32, ... in order, then the
 * shuffle tree. Independent of the block size, so every kernel gets the same bits for the same array.
 */
__device__ __forceinline__ double dd_rkd_warp_total(const double *v, int64_t n) {
    double a = 0.0;
    for (int64_t b = threadIdx.x & 31; b < n; b += 32) a += v[b];
    return dd_rkd_warp_sum(a);
}

/*
 * Block-wide sum of two values per thread into out[0..1] (shared; read by every thread afterwards). Every thread
 * of the block calls it; blockDim.x is a multiple of 32. Order: the shuffle tree, then the warps in order.
 */
__device__ __forceinline__ void dd_rkd_block_sum2(double a, double b, double (*red)[DD_RKD_THREADS / 32], double *out) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    a = dd_rkd_warp_sum(a);
    b = dd_rkd_warp_sum(b);
    if (lane == 0) {
        red[0][warp] = a;
        red[1][warp] = b;
    }
    __syncthreads();
    if (threadIdx.x < 2) {
        double r = red[threadIdx.x][0];
        for (int w = 1; w < nwarps; w++) r += red[threadIdx.x][w];
        out[threadIdx.x] = r;
    }
    __syncthreads();
}

/* Records the first data error of the launch; later ones leave it alone. */
__device__ __forceinline__ void dd_rkd_flag(int32_t *flag, int32_t status) {
    if (flag) atomicCAS(flag, 0, status);
}

/* Kernel 1: P[i, j] = |e_i - e_j|^2, blockIdx.z = 0 for the student, 1 for the teacher. */
template <typename T>
__global__ void __launch_bounds__(DD_RKD_THREADS)
    dd_rkd_pdist(const T *student, const T *teacher, int64_t B, int64_t Ds, int64_t Dt, double *ps, double *pt) {
    const int64_t i = blockIdx.x;
    const int64_t j = (int64_t)blockIdx.y * (DD_RKD_THREADS / 32) + (threadIdx.x >> 5);
    if (j >= B) return; /* a whole warp leaves together: no barrier or shuffle is skipped */
    const bool teach = blockIdx.z == 1;
    const T *e = teach ? teacher : student;
    const int64_t D = teach ? Dt : Ds;
    const T *ei = e + i * D, *ej = e + j * D;
    double acc = 0.0;
    for (int64_t d = threadIdx.x & 31; d < D; d += 32) {
        const double v = dd_rkd_load(ei, d) - dd_rkd_load(ej, d);
        acc += v * v;
    }
    acc = dd_rkd_warp_sum(acc);
    if ((threadIdx.x & 31) == 0) (teach ? pt : ps)[i * B + j] = acc;
}

/* Kernel 2: row i of the inverse distances and its distance sums; the finiteness check. */
__global__ void __launch_bounds__(DD_RKD_THREADS) dd_rkd_dist(dd_rkd_ws ws, int64_t B, double eps, int32_t *flag) {
    __shared__ double red[2][DD_RKD_THREADS / 32];
    __shared__ double tot[2];
    const int64_t i = blockIdx.x;
    double ss = 0.0, st = 0.0;
    for (int64_t j = threadIdx.x; j < B; j += blockDim.x) {
        if (j == i) {
            ws.rds[i * B + j] = 0.0;
            ws.rdt[i * B + j] = 0.0;
            continue;
        }
        const double ds = dd_rkd_dist(ws.ps[i * B + j], eps), dt = dd_rkd_dist(ws.pt[i * B + j], eps);
        ws.rds[i * B + j] = 1.0 / ds;
        ws.rdt[i * B + j] = 1.0 / dt;
        ss += ds;
        st += dt;
    }
    dd_rkd_block_sum2(ss, st, red, tot);
    if (threadIdx.x == 0) {
        /* P_ii is exactly 0 for a finite row and NaN otherwise (inf - inf, NaN - NaN) */
        const bool finite = ws.ps[i * B + i] == 0.0 && ws.pt[i * B + i] == 0.0;
        if (!finite) dd_rkd_flag(flag, DD_ERR_NONFINITE_INPUT);
        ws.sumds[i] = finite ? tot[0] : (double)NAN;
        ws.sumdt[i] = finite ? tot[1] : (double)NAN;
    }
}

/*
 * Kernel 3: block j. Dynamic shared memory: nw rows of B doubles (the warps' shares of W's row j), or none when
 * `shared_w` is 0 (then blockDim.x is 32 and the warp accumulates into global W directly).
 */
__global__ void __launch_bounds__(DD_RKD_MAX_WARPS * 32)
    dd_rkd_angle(dd_rkd_ws ws, int64_t B, double eps, int shared_w) {
    extern __shared__ double dd_rkd_wpart[];
    __shared__ double red[2][DD_RKD_THREADS / 32];
    __shared__ double tot[2];
    __shared__ double mu[2];
    const int64_t j = blockIdx.x;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    const double np = (double)B * (double)(B - 1);

    if (warp == 0) {
        const double a = dd_rkd_warp_total(ws.sumds, B), b = dd_rkd_warp_total(ws.sumdt, B);
        if (lane == 0) {
            mu[0] = a / np;
            mu[1] = b / np;
        }
    }
    __syncthreads();
    const double mu_s = mu[0], mu_t = mu[1];

    /* row j's distance terms */
    {
        double l = 0.0, sg = 0.0;
        for (int64_t b = threadIdx.x; b < B; b += blockDim.x) {
            if (b == j) continue;
            const double ds = dd_rkd_dist(ws.ps[j * B + b], eps);
            const double x = ds / mu_s - dd_rkd_dist(ws.pt[j * B + b], eps) / mu_t;
            l += dd_rkd_huber(x);
            sg += dd_rkd_huber_grad(x) * ds;
        }
        dd_rkd_block_sum2(l, sg, red, tot);
        if (threadIdx.x == 0) {
            ws.ld[j] = tot[0];
            ws.sp[j] = tot[1];
        }
    }

    /* the angle terms with middle index j */
    double *wacc = shared_w ? dd_rkd_wpart + (int64_t)warp * B : ws.w + j * B;
    for (int64_t k = lane; k < B; k += 32) wacc[k] = 0.0; /* the same lane owns the same k below: no barrier */
    const double *psj = ws.ps + j * B, *ptj = ws.pt + j * B;
    double loss = 0.0;
    for (int64_t i = warp; i < B; i += nw) {
        if (i == j) continue; /* uniform over the warp */
        const double *psi = ws.ps + i * B, *pti = ws.pt + i * B, *rsi = ws.rds + i * B, *rti = ws.rdt + i * B;
        const double ps0 = psi[j], pt0 = pti[j], rsij = rsi[j], rtij = rti[j];
        double r = 0.0, q = 0.0;
        for (int64_t k = lane; k < B; k += 32) {
            if (k == i) continue;
            const double as = rsij * rsi[k], at = rtij * rti[k];
            const double cs = (ps0 + psi[k] - psj[k]) * (0.5 * as);
            const double ct = (pt0 + pti[k] - ptj[k]) * (0.5 * at);
            const double x = cs - ct;
            const double hp = dd_rkd_huber_grad(x);
            const double A = hp * as;
            r += A;
            q += hp * cs;
            loss += dd_rkd_huber(x);
            wacc[k] += A;
        }
        r = dd_rkd_warp_sum(r);
        q = dd_rkd_warp_sum(q);
        if (lane == 0) {
            ws.r[i * B + j] = r;
            ws.q[i * B + j] = q;
        }
    }
    dd_rkd_block_sum2(loss, 0.0, red, tot); /* its barriers also publish every warp's wacc */
    if (threadIdx.x == 0) ws.la[j] = tot[0];
    if (shared_w) {
        for (int64_t k = threadIdx.x; k < B; k += blockDim.x) {
            double v = dd_rkd_wpart[k];
            for (int w = 1; w < nw; w++) v += dd_rkd_wpart[(int64_t)w * B + k];
            ws.w[j * B + k] = v;
        }
    }
}

/* Kernel 4: row a of K = 2 (dL/dP + dL/dP^T), written over rd_t (no longer read by anyone). */
__global__ void __launch_bounds__(DD_RKD_THREADS)
    dd_rkd_kmat(dd_rkd_ws ws, int64_t B, double eps, double kd, double sa) {
    __shared__ double sc[3];
    const int64_t a = blockIdx.x;
    const double np = (double)B * (double)(B - 1);
    if ((threadIdx.x >> 5) == 0) {
        const double s = dd_rkd_warp_total(ws.sumds, B), t = dd_rkd_warp_total(ws.sumdt, B);
        const double S = dd_rkd_warp_total(ws.sp, B);
        if (threadIdx.x == 0) {
            sc[0] = s / np;
            sc[1] = t / np;
            sc[2] = S;
        }
    }
    __syncthreads();
    const double mu_s = sc[0], mu_t = sc[1], S = sc[2];
    double *ka = ws.rdt + a * B;
    for (int64_t b = threadIdx.x; b < B; b += blockDim.x) {
        if (b == a) {
            ka[b] = 0.0;
            continue;
        }
        const double cab = dd_rkd_pair_grad(ws.ps, ws.pt, ws.rds, ws.q, B, a, b, eps, mu_s, mu_t, S, kd, sa, np);
        const double cba = dd_rkd_pair_grad(ws.ps, ws.pt, ws.rds, ws.q, B, b, a, eps, mu_s, mu_t, S, kd, sa, np);
        ka[b] = sa * (2.0 * (ws.r[a * B + b] + ws.r[b * B + a]) - ws.w[a * B + b] - ws.w[b * B + a]) + 2.0 * (cab + cba);
    }
}

/* Kernel 5: dL/de_a[d] = sum_{b != a} K_ab (e_a[d] - e_b[d]); block (column tile, a). */
template <typename T>
__global__ void __launch_bounds__(DD_RKD_THREADS)
    dd_rkd_grad(const T *student, const double *K, int64_t B, int64_t Ds, T *grad, double gmax, int32_t *flag) {
    const int64_t a = blockIdx.y;
    const int64_t d = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (d >= Ds) return;
    const double xa = dd_rkd_load(student, a * Ds + d);
    const double *ka = K + a * B;
    double acc = 0.0;
    for (int64_t b = 0; b < B; b++) {
        if (b == a) continue;
        acc += ka[b] * (xa - dd_rkd_load(student, b * Ds + d));
    }
    /* finite inputs, but a gradient beyond the dtype's range (huge weights, tiny distances): an overflow (NaN
     * means a non-finite input, flagged by dd_rkd_dist) */
    if (isfinite(acc) && !(fabs(acc) <= gmax)) dd_rkd_flag(flag, DD_STATUS_OVERFLOW);
    dd_rkd_store(grad, a * Ds + d, acc);
}

/* Kernel 6: loss = (lambda_D L_D + lambda_A L_A, L_D, L_A) from the per-row partials; one warp. */
__global__ void dd_rkd_loss(dd_rkd_ws ws, int64_t B, float distance_weight, float angle_weight, float *loss,
                            int32_t *flag) {
    const double np = (double)B * (double)(B - 1), nt = np * (double)(B - 1);
    const double ld = dd_rkd_warp_total(ws.ld, B) / np;
    const double la = dd_rkd_warp_total(ws.la, B) / nt;
    if (threadIdx.x == 0) {
        const double total = (double)distance_weight * ld + (double)angle_weight * la;
        /* the terms are scale-free; only the weights can push a finite loss past float32 */
        if (isfinite(total) && !dd_fits_float(total)) dd_rkd_flag(flag, DD_STATUS_OVERFLOW);
        loss[1] = (float)ld;
        loss[2] = (float)la;
        loss[0] = (float)total;
    }
}

// kernel launchers

template <typename T>
static void dd_rkd_launch(const dd_rkd_params *p, const dd_rkd_ws &ws, cudaStream_t stream) {
    const int64_t B = p->batch, Ds = p->student_dim, Dt = p->teacher_dim;
    const double eps = (double)p->eps;
    const double np = (double)B * (double)(B - 1), nt = np * (double)(B - 1);
    const int warps1 = DD_RKD_THREADS / 32;
    dd_rkd_pdist<T><<<dim3((unsigned)B, (unsigned)((B + warps1 - 1) / warps1), 2), DD_RKD_THREADS, 0, stream>>>(
        (const T *)p->student, (const T *)p->teacher, B, Ds, Dt, ws.ps, ws.pt);
    dd_rkd_dist<<<(unsigned)B, DD_RKD_THREADS, 0, stream>>>(ws, B, eps, p->error_flag);

    /* as many warps as fit their W rows in DD_RKD_SMEM_BYTES of shared memory, at most DD_RKD_MAX_WARPS */
    int64_t nw = DD_RKD_SMEM_BYTES / (B * (int64_t)sizeof(double));
    if (nw > DD_RKD_MAX_WARPS) nw = DD_RKD_MAX_WARPS;
    const int shared_w = nw >= 1;
    if (!shared_w) nw = 1;
    dd_rkd_angle<<<(unsigned)B, (unsigned)(32 * nw), shared_w ? (size_t)(nw * B) * sizeof(double) : 0, stream>>>(
        ws, B, eps, shared_w);

    if (p->grad_student) {
        dd_rkd_kmat<<<(unsigned)B, DD_RKD_THREADS, 0, stream>>>(ws, B, eps, (double)p->distance_weight / np,
                                                                 (double)p->angle_weight / nt);
        dd_rkd_grad<T><<<dim3((unsigned)((Ds + DD_RKD_THREADS - 1) / DD_RKD_THREADS), (unsigned)B), DD_RKD_THREADS, 0,
                         stream>>>((const T *)p->student, ws.rdt, B, Ds, (T *)p->grad_student,
                                   p->dtype == DD_FLOAT16 ? 65504.0 : DD_FLT_MAX_D, p->error_flag);
    }
    dd_rkd_loss<<<1, 32, 0, stream>>>(ws, B, p->distance_weight, p->angle_weight, p->loss, p->error_flag);
}

extern "C" int64_t dd_rkd_workspace_floats(int64_t batch) {
    return dd_rkd_ws_floats(batch);
}

extern "C" dd_status dd_rkd_cuda(const dd_rkd_params *p) {
    const dd_status st = dd_rkd_check(p);
    if (st != DD_OK) return st;
    /* grid limits: y of kernel 1 and of kernel 5 (B <= 32768 < 65536 already), x of kernel 5 */
    if ((p->student_dim + DD_RKD_THREADS - 1) / DD_RKD_THREADS > 0x7fffffffLL) return DD_ERR_BAD_SHAPE;
    const dd_rkd_ws ws = dd_rkd_layout(p->workspace, p->batch);
    cudaStream_t stream = (cudaStream_t)p->stream;
    (void)cudaGetLastError(); /* an error left by an earlier call is not ours to report */
    switch (p->dtype) {
    case DD_FLOAT32: dd_rkd_launch<float>(p, ws, stream); break;
    case DD_FLOAT16: dd_rkd_launch<__half>(p, ws, stream); break;
    default: dd_rkd_launch<__nv_bfloat16>(p, ws, stream); break;
    }
    const cudaError_t err = cudaGetLastError();
    if (err == cudaErrorNoDevice || err == cudaErrorInsufficientDriver) return DD_ERR_CUDA_UNAVAILABLE;
    return err == cudaSuccess ? DD_OK : DD_ERR_CUDA_LAUNCH;
}
