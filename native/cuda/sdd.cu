/*
 * SDD loss on the GPU: the CUDA twin of cpu/sdd.c. Same function: r = n(a) - n(b) with
 * n(x)[:, p] = x[:, p] / max(|x[:, p]|, eps) along the D channels, L = mean (r_hat - r)^2, dL/dr_hat = 2 (r_hat - r) / N.
 *
 * Design
 *  - Kernel 1: one thread block of SDD_THREADS threads per sample. The block walks the sample's P positions in
 *    tiles of `tile` positions (128, 64 or 32, chosen from P on the host) and splits the D channels into
 *    groups = SDD_THREADS / tile interleaved sets: thread (g, t) owns position p0 + t and channels g, g + groups, ...
 *    A warp always covers 32 consecutive positions of one channel row, so every global access is coalesced.
 *    Per tile: (1) each thread sums a^2 and b^2 over its channels in double; (2) after a barrier, the threads of
 *    group 0 add the groups' partial sums in group order and store the per-position reciprocals 1 / max(|x|, eps)
 *    in shared memory; (3) after a second barrier every thread re-reads its a, b (now in L1/L2) and r_hat, writes
 *    dL/dr_hat and accumulates (r_hat - r)^2 in double. At the end a block reduction gives the sample's sum of
 *    squared errors, written to partial[b].
 *  - Kernel 2: a single block reduces partial[0..B) into loss[0] = sum / N.
 *  - Two launches on the caller's stream; no allocation, no synchronization.
 *  - Deterministic: no atomics touch the numbers. Each thread sums its channels in channel order, the groups are
 *    added in group order, the block reductions use a fixed xor-shuffle tree and then the warps in warp order,
 *    and kernel 2 reduces the samples the same way, so the same input gives bit-identical output every run.
 *  - Non-finite input (the host cannot see it without a sync) is reported through *error_flag as
 *    DD_ERR_NONFINITE_INPUT (the first error of the launch wins, atomicCAS from 0). Squares are summed in double,
 *    so finite float data cannot overflow and a non-finite sample sum means a NaN or infinity in r_hat, a or b of
 *    that sample; its partial and therefore the loss become NaN/inf rather than silently wrong.
 */
#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <math.h>
#include <stdint.h>

#include "dd_common.h"
#include "dd_sdd.h"

#define SDD_THREADS 1024       /* kernel 1: threads per sample block */
#define SDD_MAX_TILE 128       /* kernel 1: widest position tile */
/* Tuning knobs (-D for experiments). On an H100 at [16, 192, 13, 5, 5]: unroll 8 with 128-wide tiles took 28 us,
 * unroll 4 38 us, narrower tiles 36-48 us, unroll 16 32 us. */
#ifndef SDD_TILE_CAP
#define SDD_TILE_CAP 128       /* kernel 1: widest tile the launcher picks (32, 64 or 128) */
#endif
#ifndef SDD_UNROLL
#define SDD_UNROLL 8           /* channel loops unrolled: loads in flight per thread and tensor */
#endif
#define SDD_REDUCE_THREADS 256 /* kernel 2: threads of its single block */

namespace {

constexpr int kUnroll = SDD_UNROLL;

__device__ __forceinline__ float sdd_to_float(float x) { return x; }
__device__ __forceinline__ float sdd_to_float(__half x) { return __half2float(x); }
__device__ __forceinline__ float sdd_to_float(__nv_bfloat16 x) { return __bfloat162float(x); }

template <typename T> __device__ __forceinline__ T sdd_from_float(float x);
template <> __device__ __forceinline__ float sdd_from_float<float>(float x) { return x; }
template <> __device__ __forceinline__ __half sdd_from_float<__half>(float x) { return __float2half_rn(x); }
template <> __device__ __forceinline__ __nv_bfloat16 sdd_from_float<__nv_bfloat16>(float x) {
    return __float2bfloat16_rn(x);
}

/*
 * Sum of one double per thread over the block, in a fixed order (xor-shuffle tree in each warp, then the warps in
 * warp order). Every thread must call it; blockDim.x is a multiple of 32. The result is valid in thread 0 only;
 * warp_sums may be reused after the next __syncthreads().
 */
__device__ __forceinline__ double sdd_block_sum(double v, double *warp_sums) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if (lane == 0) warp_sums[warp] = v;
    __syncthreads();
    double t = 0.0;
    if (threadIdx.x == 0)
        for (int w = 0; w < nwarps; w++) t += warp_sums[w];
    return t;
}

/* Kernel 1: sample blockIdx.x; tile divides SDD_THREADS and is a multiple of 32. */
template <typename T>
__global__ void __launch_bounds__(SDD_THREADS) sdd_sample_kernel(const __grid_constant__ dd_sdd_params p, int tile) {
    __shared__ double part_a[SDD_THREADS], part_b[SDD_THREADS]; /* per-thread squared-norm partials of a tile */
    __shared__ float inv_a[SDD_MAX_TILE], inv_b[SDD_MAX_TILE];  /* 1 / max(|x|, eps) per position of the tile */
    __shared__ double warp_sums[SDD_THREADS / 32];

    const int64_t D = p.channels, P = p.positions;
    const int64_t base = (int64_t)blockIdx.x * D * P;
    const T *rh = (const T *)p.r_hat + base;
    const T *a = (const T *)p.a + base;
    const T *b = (const T *)p.b + base;
    T *grad = p.grad_r_hat ? (T *)p.grad_r_hat + base : (T *)0;
    const int groups = SDD_THREADS / tile;
    const int g = threadIdx.x / tile, t = threadIdx.x % tile;
    const float scale = (float)(2.0 / (double)(p.batch * D * P));
    const double eps = (double)p.eps;

    double acc = 0.0;
    for (int64_t p0 = 0; p0 < P; p0 += tile) {
        const int64_t pos = p0 + t;
        const bool live = pos < P;

        /* (1) squared norms of this thread's channels */
        double sa = 0.0, sb = 0.0;
        if (live) {
#pragma unroll kUnroll
            for (int64_t d = g; d < D; d += groups) {
                const double va = (double)sdd_to_float(a[d * P + pos]);
                const double vb = (double)sdd_to_float(b[d * P + pos]);
                sa += va * va;
                sb += vb * vb;
            }
        }
        part_a[threadIdx.x] = sa;
        part_b[threadIdx.x] = sb;
        __syncthreads();

        /* (2) group 0 adds the groups in order and stores the reciprocals of the floored norms */
        if (g == 0) {
            double ta = 0.0, tb = 0.0;
            for (int k = 0; k < groups; k++) {
                ta += part_a[k * tile + t];
                tb += part_b[k * tile + t];
            }
            double na = sqrt(ta), nb = sqrt(tb);
            na = na > eps ? na : eps;
            nb = nb > eps ? nb : eps;
            inv_a[t] = (float)(1.0 / na);
            inv_b[t] = (float)(1.0 / nb);
        }
        __syncthreads(); /* inv_* ready; part_* free for the next tile */

        /* (3) residual, squared error, gradient */
        if (live) {
            const float ia = inv_a[t], ib = inv_b[t];
#pragma unroll kUnroll
            for (int64_t d = g; d < D; d += groups) {
                const int64_t o = d * P + pos;
                const float diff = sdd_to_float(rh[o]) - (sdd_to_float(a[o]) * ia - sdd_to_float(b[o]) * ib);
                acc += (double)diff * (double)diff;
                if (grad) grad[o] = sdd_from_float<T>(scale * diff);
            }
        }
        /* the next tile's step (1) writes part_*, which step (2) finished reading before the barrier above, and
         * its step (2) writes inv_* only after the next barrier, which every thread reaches after its step (3) */
    }

    const double total = sdd_block_sum(acc, warp_sums);
    if (threadIdx.x == 0) {
        if (!isfinite(total) && p.error_flag) atomicCAS(p.error_flag, 0, DD_ERR_NONFINITE_INPUT);
        /* finite data (double squares of floats cannot overflow) whose sum does not fit the float32 output */
        else if (!dd_fits_float(total) && p.error_flag) atomicCAS(p.error_flag, 0, DD_STATUS_OVERFLOW);
        p.partial[blockIdx.x] = (float)total;
    }
}

/* Kernel 2: loss[0] = sum_b partial[b] / N, one block, fixed order. */
__global__ void __launch_bounds__(SDD_REDUCE_THREADS)
    sdd_reduce_kernel(const float *partial, int64_t B, double n, float *loss) {
    __shared__ double warp_sums[SDD_REDUCE_THREADS / 32];
    double acc = 0.0;
    for (int64_t i = threadIdx.x; i < B; i += blockDim.x) acc += (double)partial[i];
    const double total = sdd_block_sum(acc, warp_sums);
    if (threadIdx.x == 0) loss[0] = (float)(total / n);
}

template <typename T>
void sdd_launch(const dd_sdd_params *p, cudaStream_t stream) {
    /* the widest tile that P fills, so small P does not leave most of the block idle */
    const int tile = p->positions >= 128 && SDD_TILE_CAP >= 128 ? 128
                     : (p->positions >= 64 && SDD_TILE_CAP >= 64 ? 64 : 32);
    sdd_sample_kernel<T><<<(unsigned)p->batch, SDD_THREADS, 0, stream>>>(*p, tile);
}

} // namespace

extern "C" dd_status dd_sdd_cuda(const dd_sdd_params *p) {
    const dd_status st = dd_sdd_check(p);
    if (st != DD_OK) return st;
    if (p->batch > 0x7fffffffLL) return DD_ERR_BAD_SHAPE; /* one block per sample */
    cudaStream_t stream = (cudaStream_t)p->stream;
    (void)cudaGetLastError(); /* an error left by an earlier call is not ours to report */
    switch (p->dtype) {
    case DD_FLOAT32: sdd_launch<float>(p, stream); break;
    case DD_FLOAT16: sdd_launch<__half>(p, stream); break;
    default: sdd_launch<__nv_bfloat16>(p, stream); break;
    }
    sdd_reduce_kernel<<<1, SDD_REDUCE_THREADS, 0, stream>>>(p->partial, p->batch,
                                                             (double)(p->batch * p->channels * p->positions), p->loss);
    const cudaError_t err = cudaGetLastError();
    if (err == cudaErrorNoDevice || err == cudaErrorInsufficientDriver) return DD_ERR_CUDA_UNAVAILABLE;
    return err == cudaSuccess ? DD_OK : DD_ERR_CUDA_LAUNCH;
}
