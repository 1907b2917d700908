/*
 * DATW + KD + CE on the GPU: the CUDA twin of cpu/datw.c. It computes the same function with the same pass
 * structure (teacher entropy, confidence and camkd CE in double; log-sum-exps of s/T, s and z/T;
 * KL = E_q[((z - mz) - (s - ms))/T] - log Sz + log SsT; CE with label smoothing; dL/ds), so both backends agree
 * to rounding.
 *
 * Design
 *  - One thread block per row (sample), DD_ROW_THREADS threads. The threads stride over the classes
 *    (c = threadIdx.x + i * blockDim.x), so any C >= 2 works, including C smaller than the block. Partial
 *    results are combined by block-wide reductions: a warp-shuffle tree, then one shared-memory slot per warp,
 *    summed in warp order into a shared array of row statistics that every thread then reads.
 *  - Passes over the row, each needing the reductions of the one before: (A) maxima, dot products s.s, t.t,
 *    s.t and sum(s); (B) teacher exp sums in double (entropy; camkd CE) and the student's exp sums of s/T and
 *    s; then the teacher weights, computed by thread 0 with dd_datw_weights and shared; (C) fused target
 *    z = sum_k w_k t_k and its maximum; (D) exp sum of z/T and E_q[(z - s)/T]; (E) the gradient. That is four
 *    block reductions per row, each reducing all its values at once (two barriers), plus one barrier for the
 *    weights.
 *  - When the row converted to float ((K + 2) * C floats: s, the K teachers and z) fits in DD_CACHE_BYTES of
 *    dynamic shared memory, pass A stores it there and the later passes read it back; otherwise every pass
 *    re-reads global memory (a row is small and stays in L1/L2) and recomputes z. A thread only ever reads
 *    back the classes it wrote itself, so the cache needs no barrier of its own.
 *  - Two launches on the caller's stream, no allocation, no synchronization: kernel 1 writes the per-row
 *    (kd_b, ce_b) into row_loss plus the optional weights/confidence/discrepancy; kernel 2, a single block,
 *    reduces row_loss into loss[3].
 *  - Deterministic: no atomics touch the numbers. Every sum has a fixed association order (per thread in class
 *    order, a fixed shuffle tree, the warp partials in warp order), and kernel 2 reduces the rows in a fixed
 *    order too, so the same inputs give bit-identical outputs run after run, whatever the scheduling.
 *  - Range: finite logits of any float32 magnitude give finite results (sums of squares in double, softmaxes and
 *    the KL on max-shifted logits); a loss or gradient beyond float32 flags DD_STATUS_OVERFLOW (dd_common.h).
 *  - Errors the host cannot see without a sync (a label outside 0..C-1, a NaN or infinite logit) are reported
 *    through *error_flag: the first one wins (atomicCAS from 0). Such a row writes a zero gradient and NaN into
 *    its row_loss, weights, confidence and discrepancy (so the loss turns NaN rather than silently wrong), and
 *    a bad label is never used as an index.
 */
#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <float.h>
#include <math.h>
#include <stdint.h>

#include "dd_common.h"

#define DD_ROW_THREADS 256                            /* kernel 1: threads per row */
#define DD_ROW_MIN_BLOCKS 2                           /* kernel 1: resident blocks per SM to budget registers for */
#define DD_REDUCE_THREADS 1024                        /* kernel 2: threads of its single block */
#define DD_MAX_WARPS 32                               /* 1024 threads / 32 */
#define DD_RED_SLOTS (3 * DD_MAX_TEACHERS + 3)        /* widest reduction: pass A (1 + K maxima, 2 + 2K sums) */
#define DD_CACHE_BYTES (32 * 1024)                    /* row cache limit: keeps several blocks per SM */

// CUDA kernels

__device__ __forceinline__ float dd_to_float(float x) { return x; }
__device__ __forceinline__ float dd_to_float(__half x) { return __half2float(x); }
__device__ __forceinline__ float dd_to_float(__nv_bfloat16 x) { return __bfloat162float(x); }

template <typename T> __device__ __forceinline__ T dd_from_float(float x);
template <> __device__ __forceinline__ float dd_from_float<float>(float x) { return x; }
template <> __device__ __forceinline__ __half dd_from_float<__half>(float x) { return __float2half_rn(x); }
template <> __device__ __forceinline__ __nv_bfloat16 dd_from_float<__nv_bfloat16>(float x) {
    return __float2bfloat16_rn(x);
}

/*
 * Block-wide reduction of three groups of per-thread values: mx[0..nm) by max, a[0..na) and b[0..nb) by sum,
 * into out[0..nm + na + nb) in that order (out is shared memory, read by every thread afterwards). Every thread
 * of the block must call it; blockDim.x is a multiple of 32 and at least nm + na + nb <= DD_RED_SLOTS. The
 * counts are runtime values but the loops run to the compile-time sizes, so the arrays stay in registers.
 * Order of the sums: a fixed xor-shuffle tree inside each warp, then the warp partials in warp order.
 */
template <int NM, int NA, int NB>
__device__ __forceinline__ void dd_block_reduce(double (&mx)[NM], int nm, double (&a)[NA], int na, double (&b)[NB],
                                                int nb, double (*red)[DD_MAX_WARPS], double *out) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
#pragma unroll
    for (int i = 0; i < NM; i++) {
        if (i < nm) {
            for (int o = 16; o > 0; o >>= 1) mx[i] = fmax(mx[i], __shfl_xor_sync(0xffffffffu, mx[i], o));
            if (lane == 0) red[i][warp] = mx[i];
        }
    }
#pragma unroll
    for (int i = 0; i < NA; i++) {
        if (i < na) {
            for (int o = 16; o > 0; o >>= 1) a[i] += __shfl_xor_sync(0xffffffffu, a[i], o);
            if (lane == 0) red[nm + i][warp] = a[i];
        }
    }
#pragma unroll
    for (int i = 0; i < NB; i++) {
        if (i < nb) {
            for (int o = 16; o > 0; o >>= 1) b[i] += __shfl_xor_sync(0xffffffffu, b[i], o);
            if (lane == 0) red[nm + na + i][warp] = b[i];
        }
    }
    __syncthreads();
    const int i = threadIdx.x;
    if (i < nm + na + nb) {
        double r = red[i][0];
        if (i < nm) {
            for (int w = 1; w < nwarps; w++) r = fmax(r, red[i][w]);
        } else {
            for (int w = 1; w < nwarps; w++) r += red[i][w];
        }
        out[i] = r;
    }
    __syncthreads(); /* out is ready, and red free for the next reduction */
}

/* z is a convex combination of finite logits: only rounding (sum_k w_k = 1 + ulp) can push it past FLT_MAX */
__device__ __forceinline__ float dd_clamp_finite(float v) { return fminf(fmaxf(v, -FLT_MAX), FLT_MAX); }

/* Records the first data error of the launch; later ones leave it alone. */
__device__ __forceinline__ void dd_flag_error(int32_t *flag, int32_t status) {
    if (flag) atomicCAS(flag, 0, status);
}

/* Logit c of row r: from the shared-memory cache when there is one, else from global memory. */
template <typename T>
__device__ __forceinline__ float dd_logit(const float *cache, const T *row, int c) {
    return cache ? cache[c] : dd_to_float(row[c]);
}

/*
 * Kernel 1: one block per row b = blockIdx.x. cached != 0 means the dynamic shared memory holds (K + 2) * C
 * floats: the row of s, then of each teacher, then z.
 */
template <typename T>
__global__ void __launch_bounds__(DD_ROW_THREADS, DD_ROW_MIN_BLOCKS)
    dd_datw_row_kernel(const __grid_constant__ dd_datw_params p, int cached) {
    extern __shared__ float dd_row_cache[];
    __shared__ double red[DD_RED_SLOTS][DD_MAX_WARPS];
    /* reduced row statistics:
     *   sa = ms, mt[K], ss, sum_s, (tt_k, st_k)[K]         (pass A)
     *   sb = SsT, Ss1, (S_k, U_k)[K], S1[K] (camkd only)    (pass B)
     *   sc = mz; sd = Sz, uq                                (passes C, D) */
    __shared__ double sa[DD_RED_SLOTS], sb[DD_RED_SLOTS], sc[1], sd[2];
    __shared__ float sw[DD_MAX_TEACHERS]; /* teacher weights */

    const int64_t row = blockIdx.x;
    const int C = (int)p.classes;
    const int K = p.teachers;
    const int tid = threadIdx.x, nt = blockDim.x;
    const T *srow = (const T *)p.student + row * p.student_stride;
    const T *trow[DD_MAX_TEACHERS];
#pragma unroll
    for (int k = 0; k < DD_MAX_TEACHERS; k++)
        trow[k] = k < K ? (const T *)p.teacher[k] + row * p.teacher_stride[k] : (const T *)0;
    T *grow = p.grad_student ? (T *)p.grad_student + row * p.grad_stride : (T *)0;
    float *cache = cached ? dd_row_cache : (float *)0;
    /* cache of teacher k's row, and of z */
#define DD_TCACHE(k) (cache ? cache + (int64_t)((k) + 1) * C : (float *)0)
    float *zcache = DD_TCACHE(K);
    double none[1] = {0.0};

    int64_t label = -1;
    bool bad = false;
    if (p.labels) {
        label = p.labels[row];
        if (label < 0 || label >= C) {
            bad = true;
            if (tid == 0) dd_flag_error(p.error_flag, DD_ERR_LABEL_OUT_OF_RANGE);
        }
    }

    /* pass A: maxima, dot products (finiteness through the squared norms) and sum(s) */
    if (!bad) {
        double mx[1 + DD_MAX_TEACHERS];     /* ms, mt_k */
        double da[2 + 2 * DD_MAX_TEACHERS]; /* ss, sum_s, then (tt_k, st_k) */
        float ms = -INFINITY, mt[DD_MAX_TEACHERS];
#pragma unroll
        for (int k = 0; k < DD_MAX_TEACHERS; k++) mt[k] = -INFINITY;
#pragma unroll
        for (int i = 0; i < 2 + 2 * DD_MAX_TEACHERS; i++) da[i] = 0.0;
        for (int c = tid; c < C; c += nt) {
            const float sv = dd_to_float(srow[c]);
            if (cache) cache[c] = sv;
            ms = fmaxf(ms, sv);
            da[0] += (double)sv * (double)sv;
            da[1] += (double)sv;
#pragma unroll
            for (int k = 0; k < DD_MAX_TEACHERS; k++) {
                if (k < K) {
                    const float tv = dd_to_float(trow[k][c]);
                    if (cache) cache[(k + 1) * C + c] = tv;
                    mt[k] = fmaxf(mt[k], tv);
                    da[2 + 2 * k] += (double)tv * (double)tv;
                    da[3 + 2 * k] += (double)sv * (double)tv;
                }
            }
        }
        mx[0] = ms;
#pragma unroll
        for (int k = 0; k < DD_MAX_TEACHERS; k++) mx[1 + k] = mt[k];
        dd_block_reduce(mx, 1 + K, da, 2 + 2 * K, none, 0, red, sa);
        bool finite = isfinite(sa[1 + K]);
        for (int k = 0; k < K; k++) finite = finite && isfinite(sa[3 + K + 2 * k]);
        if (!finite) {
            bad = true;
            if (tid == 0) dd_flag_error(p.error_flag, DD_ERR_NONFINITE_INPUT);
        }
    }
    if (bad) { /* uniform over the block: every thread saw the same label and the same reduced sums */
        if (tid == 0) {
            p.row_loss[2 * row] = NAN;
            p.row_loss[2 * row + 1] = NAN;
            for (int k = 0; k < K; k++) {
                if (p.weights) p.weights[row * K + k] = NAN;
                if (p.confidence) p.confidence[row * K + k] = NAN;
                if (p.discrepancy) p.discrepancy[row * K + k] = NAN;
            }
        }
        if (grow)
            for (int c = tid; c < C; c += nt) grow[c] = dd_from_float<T>(0.0f);
        return;
    }
    const float ms = (float)sa[0];

    /* pass B: teacher exp sums in double (entropy of softmax(t/tau_conf); camkd CE), student exp sums */
    const float T_ = p.temperature, invT = 1.0f / p.temperature;
    const double invc = 1.0 / (double)p.tau_conf;
    const bool camkd = p.weighting == DD_WEIGHTING_CAMKD;
    {
        double db[2 + 2 * DD_MAX_TEACHERS]; /* SsT, Ss1, then (S_k, U_k) */
        double dc[DD_MAX_TEACHERS];         /* camkd: S1_k = sum exp(t_k - mt_k) */
#pragma unroll
        for (int i = 0; i < 2 + 2 * DD_MAX_TEACHERS; i++) db[i] = 0.0;
#pragma unroll
        for (int k = 0; k < DD_MAX_TEACHERS; k++) dc[k] = 0.0;
        for (int c = tid; c < C; c += nt) {
            const float sv = dd_logit(cache, srow, c);
            db[0] += (double)expf((sv - ms) * invT);
            db[1] += (double)expf(sv - ms);
#pragma unroll
            for (int k = 0; k < DD_MAX_TEACHERS; k++) {
                if (k < K) {
                    const double d = (double)dd_logit(DD_TCACHE(k), trow[k], c) - sa[1 + k];
                    const double v = d * invc;
                    const double e = exp(v);
                    db[2 + 2 * k] += e;
                    db[3 + 2 * k] += e * v;
                    if (camkd) dc[k] += exp(d);
                }
            }
        }
        dd_block_reduce(none, 0, db, 2 + 2 * K, dc, camkd ? K : 0, red, sb);
    }

    /* teacher statistics and weights: thread 0 computes them and writes the row's outputs */
    if (tid == 0) {
        float conf[DD_MAX_TEACHERS], disc[DD_MAX_TEACHERS], ent[DD_MAX_TEACHERS], ce_t[DD_MAX_TEACHERS];
        double ce_d[DD_MAX_TEACHERS];
        float w[DD_MAX_TEACHERS];
        const double logC = log((double)C);
        const double ss = sa[1 + K];
        for (int k = 0; k < K; k++) {
            disc[k] = dd_discrepancy(sa[4 + K + 2 * k], ss, sa[3 + K + 2 * k]);
            const double S = sb[2 + 2 * k], U = sb[3 + 2 * k];
            const double H = log(S) - U / S;
            ent[k] = (float)H;
            const double cf = 1.0 - H / logC;
            conf[k] = (float)(cf < 0.0 ? 0.0 : (cf > 1.0 ? 1.0 : cf));
            if (camkd) { /* CE(t_k, y) = lse(t_k) - t_k[y]; (re)computes the row pointer so trow stays in registers */
                const T *tk = (const T *)p.teacher[k] + row * p.teacher_stride[k];
                ce_d[k] = (sa[1 + k] - (double)dd_to_float(tk[label])) + log(sb[2 + 2 * K + k]);
            } else {
                ce_d[k] = 0.0;
            }
        }
        /* camkd's softmax over the CEs is shift-invariant: shifted by the largest, CEs beyond float stay usable */
        double cmax = ce_d[0];
        for (int k = 1; k < K; k++) cmax = fmax(cmax, ce_d[k]);
        for (int k = 0; k < K; k++) ce_t[k] = (float)fmax(ce_d[k] - cmax, -DD_FLT_MAX_D);
        dd_datw_weights(&p, conf, disc, ent, ce_t, w);
        for (int k = 0; k < K; k++) {
            sw[k] = w[k];
            if (p.weights) p.weights[row * K + k] = w[k];
            if (p.confidence) p.confidence[row * K + k] = conf[k];
            if (p.discrepancy) p.discrepancy[row * K + k] = disc[k];
        }
    }
    __syncthreads();
    float wr[DD_MAX_TEACHERS];
#pragma unroll
    for (int k = 0; k < DD_MAX_TEACHERS; k++) wr[k] = k < K ? sw[k] : 0.0f;

    /* pass C: fused target z = sum_k w_k t_k and its maximum */
    {
        float mz = -INFINITY;
        for (int c = tid; c < C; c += nt) {
            float z = wr[0] * dd_logit(DD_TCACHE(0), trow[0], c);
#pragma unroll
            for (int k = 1; k < DD_MAX_TEACHERS; k++)
                if (k < K) z += wr[k] * dd_logit(DD_TCACHE(k), trow[k], c);
            z = dd_clamp_finite(z);
            if (zcache) zcache[c] = z;
            mz = fmaxf(mz, z);
        }
        double dz[1] = {(double)mz};
        dd_block_reduce(dz, 1, none, 0, none, 0, red, sc);
    }
    const float mz = (float)sc[0];

    /* pass D: exp sum of z/T and sum_c e_c ((z_c - mz) - (s_c - ms))/T, for
     *   KL(q||p) = E_q[((z - mz) - (s - ms))/T] - log Sz + log SsT
     * on shifted logits (no term of the logits' own size, so nothing cancels at any magnitude); the log-ratio is
     * formed in double, where logits spanning more than FLT_MAX cannot overflow, and an exp of 0 drops it exactly */
    {
        double de[2] = {0.0, 0.0}; /* Sz, uq */
        for (int c = tid; c < C; c += nt) {
            float z;
            if (zcache) {
                z = zcache[c];
            } else {
                z = wr[0] * dd_to_float(trow[0][c]);
#pragma unroll
                for (int k = 1; k < DD_MAX_TEACHERS; k++)
                    if (k < K) z += wr[k] * dd_to_float(trow[k][c]);
                z = dd_clamp_finite(z);
            }
            const float sv = dd_logit(cache, srow, c);
            const float e = expf((z - mz) * invT);
            de[0] += (double)e;
            if (e != 0.0f) de[1] += (double)e * ((((double)z - (double)mz) - ((double)sv - (double)ms)) * (double)invT);
        }
        dd_block_reduce(none, 0, de, 2, none, 0, red, sd);
    }
    const double SsT = sb[0], Ss1 = sb[1], Sz = sd[0];

    const float ls = p.label_smoothing;
    if (tid == 0) {
        double kl = sd[1] / Sz - log(Sz) + log(SsT);
        if (kl < 0.0) kl = 0.0; /* KL >= 0; rounding can leave -1e-9 */
        const double kd_row = (double)T_ * (double)T_ * kl;
        if (!dd_fits_float(kd_row)) dd_flag_error(p.error_flag, DD_STATUS_OVERFLOW);
        p.row_loss[2 * row] = (float)kd_row;
        if (label >= 0) {
            /* -(1 - ls) log p_y - (ls / C) sum_c log p_c = log Ss1 + (1 - ls)(ms - s_y) + ls (ms - mean_c s_c) */
            double ce = log(Ss1) + (1.0 - ls) * ((double)ms - (double)dd_to_float(srow[label]));
            if (ls > 0.0f) ce += (double)ls * ((double)ms - sa[2 + K] / (double)C);
            if (!dd_fits_float(ce)) dd_flag_error(p.error_flag, DD_STATUS_OVERFLOW);
            p.row_loss[2 * row + 1] = (float)ce;
        } else {
            p.row_loss[2 * row + 1] = 0.0f;
        }
    }

    /* pass E: dL/ds = alpha_kd T / B (p - q) + alpha_ce / B (softmax(s) - y~) */
    if (grow) {
        /* |g| <= |ckd| + 2 |cce|; coefficients from double so that alpha T cannot overflow before the division by B.
         * Where that bound passes the output dtype's range (huge alphas), each class is checked. */
        const double ckd_d = (double)p.alpha_kd * (double)T_ / (double)p.batch;
        const double cce_d = label >= 0 ? (double)p.alpha_ce / (double)p.batch : 0.0;
        const double gmax = p.dtype == DD_FLOAT16 ? 65504.0 : DD_FLT_MAX_D;
        const bool risky = !(fabs(ckd_d) + 2.0 * fabs(cce_d) <= gmax);
        const float ckd = (float)ckd_d;
        const float cce = (float)cce_d;
        const float iSsT = (float)(1.0 / SsT), iSz = (float)(1.0 / Sz), iSs1 = (float)(1.0 / Ss1);
        const float off = ls / (float)C;
        for (int c = tid; c < C; c += nt) {
            float z;
            if (zcache) {
                z = zcache[c];
            } else {
                z = wr[0] * dd_to_float(trow[0][c]);
#pragma unroll
                for (int k = 1; k < DD_MAX_TEACHERS; k++)
                    if (k < K) z += wr[k] * dd_to_float(trow[k][c]);
                z = dd_clamp_finite(z);
            }
            const float sv = dd_logit(cache, srow, c);
            const float pT = expf((sv - ms) * invT) * iSsT;
            const float qT = expf((z - mz) * invT) * iSz;
            const float p1 = expf(sv - ms) * iSs1;
            float g = ckd * (pT - qT) + cce * (p1 - off);
            if (c == label) g -= cce * (1.0f - ls);
            if (risky) {
                double gd = ckd_d * ((double)pT - (double)qT) + cce_d * ((double)p1 - (double)off);
                if (c == label) gd -= cce_d * (1.0 - (double)ls);
                if (!(fabs(gd) <= gmax)) dd_flag_error(p.error_flag, DD_STATUS_OVERFLOW);
                g = (float)gd;
            }
            grow[c] = dd_from_float<T>(g);
        }
    }
#undef DD_TCACHE
}

/*
 * Kernel 2: one block reduces row_loss over the batch in a fixed order into
 * loss = (alpha_kd L_kd + alpha_ce L_ce, L_kd, L_ce), L_* = mean over rows; no CE term without labels.
 */
__global__ void __launch_bounds__(DD_REDUCE_THREADS)
    dd_datw_reduce_kernel(const float *row_loss, int64_t B, float alpha_kd, float alpha_ce, int has_labels,
                          float *loss, int32_t *error_flag) {
    __shared__ double red[DD_RED_SLOTS][DD_MAX_WARPS];
    __shared__ double tot[2];
    double acc[2] = {0.0, 0.0}; /* sum kd_b, sum ce_b */
    double none[1] = {0.0};
    for (int64_t b = threadIdx.x; b < B; b += blockDim.x) {
        acc[0] += (double)row_loss[2 * b];
        acc[1] += (double)row_loss[2 * b + 1];
    }
    dd_block_reduce(none, 0, acc, 2, none, 0, red, tot);
    if (threadIdx.x == 0) {
        const double kd = tot[0] / (double)B, ce = tot[1] / (double)B;
        const double total = (double)alpha_kd * kd + (has_labels ? (double)alpha_ce * ce : 0.0);
        /* finite rows, but the weighted total beyond float32 (NaN rows are already flagged) */
        if (isfinite(total) && !dd_fits_float(total)) dd_flag_error(error_flag, DD_STATUS_OVERFLOW);
        loss[1] = (float)kd;
        loss[2] = has_labels ? (float)ce : 0.0f;
        loss[0] = (float)total;
    }
}

// kernel launchers

template <typename T>
static void dd_launch_datw(const dd_datw_params *p, cudaStream_t stream) {
    const int64_t cache_bytes = (int64_t)(p->teachers + 2) * p->classes * (int64_t)sizeof(float);
    const int cached = cache_bytes <= DD_CACHE_BYTES;
    dd_datw_row_kernel<T><<<(unsigned)p->batch, DD_ROW_THREADS, cached ? (size_t)cache_bytes : 0, stream>>>(*p, cached);
}

extern "C" dd_status dd_cuda_device_count(int32_t *count) {
    if (count == 0) return DD_ERR_NULL_POINTER;
    int n = 0;
    const cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess) {
        (void)cudaGetLastError(); /* clear it, so a later launch check does not see it */
        *count = 0;
        return DD_ERR_CUDA_UNAVAILABLE;
    }
    *count = n;
    return DD_OK;
}

extern "C" dd_status dd_datw_cuda(const dd_datw_params *p) {
    const dd_status st = dd_datw_check(p);
    if (st != DD_OK) return st;
    /* the grid is one block per row; classes are indexed with int */
    if (p->batch > 0x7fffffffLL || p->classes > 0x7fffffffLL) return DD_ERR_BAD_SHAPE;
    cudaStream_t stream = (cudaStream_t)p->stream;
    (void)cudaGetLastError(); /* an error left by an earlier call is not ours to report */
    switch (p->dtype) {
    case DD_FLOAT32: dd_launch_datw<float>(p, stream); break;
    case DD_FLOAT16: dd_launch_datw<__half>(p, stream); break;
    default: dd_launch_datw<__nv_bfloat16>(p, stream); break;
    }
    dd_datw_reduce_kernel<<<1, DD_REDUCE_THREADS, 0, stream>>>(p->row_loss, p->batch, p->alpha_kd, p->alpha_ce,
                                                                p->labels != 0, p->loss, p->error_flag);
    const cudaError_t err = cudaGetLastError();
    if (err == cudaErrorNoDevice || err == cudaErrorInsufficientDriver) return DD_ERR_CUDA_UNAVAILABLE;
    return err == cudaSuccess ? DD_OK : DD_ERR_CUDA_LAUNCH;
}
