/*
 * Depthwise Conv3d on the GPU: the CUDA twin of cpu/dwconv.c (same ABI, same three passes), in float32, float16 and
 * bfloat16 storage with float32 arithmetic.
 *
 * Design (direct, gather-only, deterministic: no atomics touch the numbers)
 *  - forward: one thread per output element sums its kt * kh * kw taps;
 *  - input gradient: one thread per input element gathers the output positions whose window covers it (the taps
 *    whose offset divides by the stride), so no two threads write one element;
 *  - weight gradient: one block per (channel, tap) walks the N * To * Ho * Wo output positions with its threads in
 *    a fixed interleaving, then a fixed shared-memory tree adds the threads' sums;
 *  - one launch per call on params->stream; no allocation, no synchronization.
 * Not tuned: it was written to give X3D's CUDA path the same route as the CPU one and compiles here, but this
 * machine has no GPU, so it has not been timed or run (native/dev/gpu_check.sh and the `gpu` tests check it).
 */
#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <stdint.h>

#include "dd_common.h"

namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float dw_to_float(float x) { return x; }
__device__ __forceinline__ float dw_to_float(__half x) { return __half2float(x); }
__device__ __forceinline__ float dw_to_float(__nv_bfloat16 x) { return __bfloat162float(x); }

template <typename T> __device__ __forceinline__ T dw_from_float(float x);
template <> __device__ __forceinline__ float dw_from_float<float>(float x) { return x; }
template <> __device__ __forceinline__ __half dw_from_float<__half>(float x) { return __float2half_rn(x); }
template <> __device__ __forceinline__ __nv_bfloat16 dw_from_float<__nv_bfloat16>(float x) {
    return __float2bfloat16_rn(x);
}

struct Geom {
    int64_t N, C, T, H, W, To, Ho, Wo;
    int kt, kh, kw, st, sh, sw, pt, ph, pw;
};

template <typename T>
__global__ void dw_forward(Geom g, const T *__restrict__ x, const T *__restrict__ w, T *__restrict__ y) {
    const int64_t total = g.N * g.C * g.To * g.Ho * g.Wo;
    for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < total;
         idx += (int64_t)gridDim.x * blockDim.x) {
        int64_t r = idx;
        const int64_t wo = r % g.Wo; r /= g.Wo;
        const int64_t ho = r % g.Ho; r /= g.Ho;
        const int64_t to = r % g.To; r /= g.To;
        const int64_t plane = r; /* n * C + c */
        const int64_t c = plane % g.C;
        const T *xp = x + plane * g.T * g.H * g.W;
        const T *wp = w + c * g.kt * g.kh * g.kw;
        float acc = 0.f;
        for (int i = 0; i < g.kt; i++) {
            const int64_t ti = to * g.st - g.pt + i;
            if (ti < 0 || ti >= g.T) continue;
            for (int j = 0; j < g.kh; j++) {
                const int64_t hi = ho * g.sh - g.ph + j;
                if (hi < 0 || hi >= g.H) continue;
                for (int k = 0; k < g.kw; k++) {
                    const int64_t wi = wo * g.sw - g.pw + k;
                    if (wi < 0 || wi >= g.W) continue;
                    acc += dw_to_float(wp[(i * g.kh + j) * g.kw + k]) * dw_to_float(xp[(ti * g.H + hi) * g.W + wi]);
                }
            }
        }
        y[idx] = dw_from_float<T>(acc);
    }
}

template <typename T>
__global__ void dw_grad_input(Geom g, const T *__restrict__ go, const T *__restrict__ w, T *__restrict__ gx) {
    const int64_t total = g.N * g.C * g.T * g.H * g.W;
    for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < total;
         idx += (int64_t)gridDim.x * blockDim.x) {
        int64_t r = idx;
        const int64_t wi = r % g.W; r /= g.W;
        const int64_t hi = r % g.H; r /= g.H;
        const int64_t ti = r % g.T; r /= g.T;
        const int64_t plane = r;
        const int64_t c = plane % g.C;
        const T *gp = go + plane * g.To * g.Ho * g.Wo;
        const T *wp = w + c * g.kt * g.kh * g.kw;
        float acc = 0.f;
        for (int i = 0; i < g.kt; i++) {
            const int64_t tn = ti + g.pt - i; /* = to * st */
            if (tn < 0 || tn % g.st != 0) continue;
            const int64_t to = tn / g.st;
            if (to >= g.To) continue;
            for (int j = 0; j < g.kh; j++) {
                const int64_t hn = hi + g.ph - j;
                if (hn < 0 || hn % g.sh != 0) continue;
                const int64_t ho = hn / g.sh;
                if (ho >= g.Ho) continue;
                for (int k = 0; k < g.kw; k++) {
                    const int64_t wn = wi + g.pw - k;
                    if (wn < 0 || wn % g.sw != 0) continue;
                    const int64_t wo = wn / g.sw;
                    if (wo >= g.Wo) continue;
                    acc += dw_to_float(wp[(i * g.kh + j) * g.kw + k]) * dw_to_float(gp[(to * g.Ho + ho) * g.Wo + wo]);
                }
            }
        }
        gx[idx] = dw_from_float<T>(acc);
    }
}

/* one block per (c, tap): sum over n, to, ho, wo of go[n, c, to, ho, wo] * x[n, c, ti, hi, wi] */
template <typename T>
__global__ void dw_grad_weight(Geom g, const T *__restrict__ go, const T *__restrict__ x, T *__restrict__ gw) {
    __shared__ float part[kThreads];
    const int taps = g.kt * g.kh * g.kw;
    const int64_t c = blockIdx.x / taps;
    const int tap = blockIdx.x % taps;
    const int i = tap / (g.kh * g.kw), j = (tap / g.kw) % g.kh, k = tap % g.kw;
    const int64_t per_plane = g.To * g.Ho * g.Wo;
    const int64_t total = g.N * per_plane;
    float acc = 0.f;
    for (int64_t e = threadIdx.x; e < total; e += blockDim.x) {
        const int64_t n = e / per_plane;
        int64_t r = e % per_plane;
        const int64_t wo = r % g.Wo; r /= g.Wo;
        const int64_t ho = r % g.Ho;
        const int64_t to = r / g.Ho;
        const int64_t ti = to * g.st - g.pt + i, hi = ho * g.sh - g.ph + j, wi = wo * g.sw - g.pw + k;
        if (ti < 0 || ti >= g.T || hi < 0 || hi >= g.H || wi < 0 || wi >= g.W) continue;
        const int64_t plane = n * g.C + c;
        acc += dw_to_float(go[plane * per_plane + (to * g.Ho + ho) * g.Wo + wo]) *
               dw_to_float(x[plane * g.T * g.H * g.W + (ti * g.H + hi) * g.W + wi]);
    }
    part[threadIdx.x] = acc;
    __syncthreads();
    for (int s = kThreads / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s) part[threadIdx.x] += part[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) gw[c * taps + tap] = dw_from_float<T>(part[0]);
}

int dw_blocks(int64_t total) {
    int64_t b = (total + kThreads - 1) / kThreads;
    if (b > 65535LL * 8) b = 65535LL * 8;
    return (int)(b < 1 ? 1 : b);
}

template <typename T> void dw_launch(const dd_dwconv3d_params *p, Geom g, cudaStream_t s) {
    switch (p->mode) {
    case DD_DWCONV_FORWARD:
        dw_forward<T><<<dw_blocks(g.N * g.C * g.To * g.Ho * g.Wo), kThreads, 0, s>>>(
            g, (const T *)p->input, (const T *)p->weight, (T *)p->output);
        break;
    case DD_DWCONV_GRAD_INPUT:
        dw_grad_input<T><<<dw_blocks(g.N * g.C * g.T * g.H * g.W), kThreads, 0, s>>>(
            g, (const T *)p->grad_output, (const T *)p->weight, (T *)p->grad_input);
        break;
    default:
        dw_grad_weight<T><<<(unsigned)(g.C * g.kt * g.kh * g.kw), kThreads, 0, s>>>(
            g, (const T *)p->grad_output, (const T *)p->input, (T *)p->grad_weight);
        break;
    }
}

} // namespace

extern "C" dd_status dd_dwconv3d_cuda(const dd_dwconv3d_params *p) {
    dd_status st = dd_dwconv3d_check(p);
    if (st != DD_OK) return st;
    if (p->layout != DD_LAYOUT_NCDHW) return DD_ERR_BAD_MODE; /* the channels-last inference path is CPU-only */
    if (p->mode == DD_DWCONV_GRAD_WEIGHT && p->channels * p->k_t * p->k_h * p->k_w >= (1LL << 31)) return DD_ERR_BAD_SHAPE;
    Geom g = {p->batch, p->channels, p->in_t, p->in_h, p->in_w, p->out_t, p->out_h, p->out_w,
              p->k_t, p->k_h, p->k_w, p->stride_t, p->stride_h, p->stride_w, p->pad_t, p->pad_h, p->pad_w};
    cudaStream_t stream = (cudaStream_t)p->stream;
    (void)cudaGetLastError(); /* an error left by an earlier call is not ours to report */
    switch (p->dtype) {
    case DD_FLOAT32: dw_launch<float>(p, g, stream); break;
    case DD_FLOAT16: dw_launch<__half>(p, g, stream); break;
    default: dw_launch<__nv_bfloat16>(p, g, stream); break;
    }
    const cudaError_t err = cudaGetLastError();
    if (err == cudaErrorNoDevice || err == cudaErrorInsufficientDriver) return DD_ERR_CUDA_UNAVAILABLE;
    return err == cudaSuccess ? DD_OK : DD_ERR_CUDA_LAUNCH;
}
