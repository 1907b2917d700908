/*
 * Depthwise Conv3d on the CPU: forward, input gradient and weight gradient (float32, contiguous NCDHW).
 *
 * Work split: every (n, c) plane is independent for the forward and the input gradient, so OpenMP splits the
 * N * C planes; the weight gradient splits the C channels and sums each channel's N planes in order n = 0..N-1
 * (each plane's taps accumulate in double), so it is the same for any thread count and schedule. The plane loops
 * (dwconv_plane.inc) are compiled for AVX2+FMA and for baseline x86-64, and picked at run time from the CPU's
 * features, so the library loads and runs on a CPU without AVX2. A third copy for AVX-512 (512-bit vectors) runs
 * X3D's conv_b geometry only: there it was 0-45% faster than the AVX2 copy and gives bit-identical results (every
 * sum keeps its order; DwConvIsaTest checks it), while on the stem's 5x1x1 weight gradient it was 2x slower and
 * rounds differently (benchmarks/RESULTS.md, issue 15 fifth round). Environment DUALDISTILL_CPU_ISA=avx2 or base
 * caps the copy used (read on every call; for tests and comparisons).
 *
 * A kt x 1 x 1 kernel with unit spatial stride and no spatial padding (X3D's stem conv_xy) runs each frame as
 * one row of H * W elements; the 3-wide "same" rows (3x3x3 with padding 1 and unit width stride) run fused; every
 * other geometry goes through the general per-tap loops.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>

#include "dd_common.h"

typedef struct dwgeom {
    int64_t T, H, W, To, Ho, Wo;
    int64_t kt, kh, kw, st, sh, sw, pt, ph, pw;
} dwgeom;

/* The output columns [lo, hi) whose input column wo * s + off lies inside [0, w). */
static inline void dw_range(int64_t w, int64_t wo, int64_t s, int64_t off, int64_t *lo, int64_t *hi) {
    int64_t l = off >= 0 ? 0 : (-off + s - 1) / s;         /* first wo with wo * s + off >= 0 */
    int64_t h = w - off <= 0 ? 0 : (w - off - 1) / s + 1;  /* one past the last wo with wo * s + off <= w - 1 */
    if (h > wo) h = wo;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* The conv_b fast path's plane layout (see dwconv_plane.inc). */
typedef struct dwfast {
    int64_t T, H, W, To, Ho, Wo;
    int64_t s, Hq, Wq, Fq, phase, nq;
} dwfast;

/* 1 when the geometry is X3D's conv_b (3x3x3, padding 1, stride (1, s, s), s = 1 or 2) */
static int dw_fast_applies(const dwgeom *g) {
    return g->kt == 3 && g->kh == 3 && g->kw == 3 && g->pt == 1 && g->ph == 1 && g->pw == 1 && g->st == 1 &&
           g->sh == g->sw && (g->sh == 1 || g->sh == 2) && g->H >= 2 && g->W >= 2;
}

static dwfast dw_fast_geom(const dwgeom *g) {
    dwfast f;
    f.T = g->T; f.H = g->H; f.W = g->W; f.To = g->To; f.Ho = g->Ho; f.Wo = g->Wo;
    f.s = g->sh;
    f.Hq = f.s == 1 ? g->H + 2 : g->Ho + 1;
    f.Wq = f.s == 1 ? g->W + 2 : g->Wo + 1;
    f.Fq = f.Hq * f.Wq;
    f.nq = f.To * f.Fq;
    f.phase = (f.T + 2) * f.Fq + 2 * f.Wq + 66; /* every tap stream of every q stays inside */
    return f;
}

/* GCC vectors of the copy's native width (a wider generic vector than the target has is lowered badly): the conv_b
 * loops keep their accumulators in these so they stay in registers; with -ffp-contract=fast (GNU C's default)
 * a += b * c is one FMA per lane where the copy's target has FMA, exactly as in the scalar loops. Per copy:
 * DD_VEC / DD_VECU (unaligned) / DD_VW lanes, DD_FWD_VECS accumulators in taps_forward, DD_DOT_TAPS taps per pass
 * in taps_dot, and DD_KEEP_IN_REGISTER, which keeps g's vectors in registers where there are 32 of them instead of
 * letting GCC fold a fresh load of g into every FMA. None of them changes a value. */
typedef float dd_v4 __attribute__((vector_size(16)));
typedef float dd_v4u __attribute__((vector_size(16), aligned(4), may_alias));
typedef float dd_v8 __attribute__((vector_size(32)));
typedef float dd_v8u __attribute__((vector_size(32), aligned(4), may_alias));
typedef float dd_v16 __attribute__((vector_size(64)));
typedef float dd_v16u __attribute__((vector_size(64), aligned(4), may_alias));
#define DD_VLOAD(p) (*(const DD_VECU *)(p))
#define DD_VSTORE(p, v) (*(DD_VECU *)(p) = (v))

#define DD_VEC dd_v8
#define DD_VECU dd_v8u
#define DD_VW 8
#define DD_FWD_VECS 8
#define DD_DOT_TAPS 1
#define DD_KEEP_IN_REGISTER(v) ((void)0)
#define DD_ISA_NAME(x) x##_avx2
#define DD_CL_WB 8
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#include "dwconv_plane.inc"
#include "dwconv_cl.inc"
#pragma GCC pop_options
#undef DD_ISA_NAME

#undef DD_VEC
#undef DD_VECU
#undef DD_VW
#define DD_VEC dd_v4
#define DD_VECU dd_v4u
#define DD_VW 4
#undef DD_FWD_VECS
#define DD_FWD_VECS 4
#define DD_ISA_NAME(x) x##_base
#undef DD_CL_WB
#define DD_CL_WB 4
#include "dwconv_plane.inc"
#include "dwconv_cl.inc"
#undef DD_ISA_NAME

/* only the conv_b entry points of this copy are called */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#undef DD_VEC
#undef DD_VECU
#undef DD_VW
#define DD_VEC dd_v16
#define DD_VECU dd_v16u
#define DD_VW 16
#undef DD_FWD_VECS
#define DD_FWD_VECS 4
#undef DD_DOT_TAPS
#define DD_DOT_TAPS 3
#undef DD_KEEP_IN_REGISTER
#define DD_KEEP_IN_REGISTER(v) __asm__("" : "+v"(v))
#define DD_ISA_NAME(x) x##_avx512
#undef DD_CL_WB
#define DD_CL_WB 8
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx2,fma,prefer-vector-width=512")
#include "dwconv_plane.inc"
#include "dwconv_cl.inc"
#pragma GCC pop_options
#undef DD_ISA_NAME
#pragma GCC diagnostic pop

typedef void (*fwd_fn)(const dwgeom *, const float *, const float *, float *);
typedef void (*gw_fn)(const dwgeom *, const float *, const float *, double *);

enum { ISA_BASE = 0, ISA_AVX2 = 1, ISA_AVX512 = 2 };

/* The widest copy this CPU runs, capped by DUALDISTILL_CPU_ISA (avx2 | base) when set. */
static int isa_level(void) {
    __builtin_cpu_init();
    int level = ISA_BASE;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        level = ISA_AVX2;
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")) level = ISA_AVX512;
    }
    const char *cap = getenv("DUALDISTILL_CPU_ISA");
    if (cap != 0) {
        if (strcmp(cap, "base") == 0) level = ISA_BASE;
        else if (strcmp(cap, "avx2") == 0 && level > ISA_AVX2) level = ISA_AVX2;
    }
    return level;
}

/* conv_b plane calls: the widest copy */
#define DD_FAST_CALL(fn, ...)                               \
    do {                                                    \
        if (isa == ISA_AVX512) fn##_avx512(__VA_ARGS__);    \
        else if (isa == ISA_AVX2) fn##_avx2(__VA_ARGS__);   \
        else fn##_base(__VA_ARGS__);                        \
    } while (0)

typedef void (*cl_row_fn)(const dwgeom *, int64_t, const float *, const float *, const float *, float *, int64_t,
                          int64_t);

/* DD_LAYOUT_NDHWC forward (dwconv_cl.inc): OpenMP over the N * To * Ho output rows. The tap rows of one output row
 * live in two stack lists of 64, so kt * kh <= 64 (X3D: 9 and 5). */
static dd_status dw_cl_forward(const dd_dwconv3d_params *p, const dwgeom g, int isa) {
    if (g.kt * g.kh > 64) return DD_ERR_BAD_PARAMETER;
    const cl_row_fn f = isa == ISA_AVX512 ? cl_forward_row_avx512 : isa == ISA_AVX2 ? cl_forward_row_avx2 : cl_forward_row_base;
    const int64_t N = p->batch, C = p->channels, rows_per_clip = g.To * g.Ho, rows = N * rows_per_clip;
    const int64_t in_clip = g.T * g.H * g.W * C, out_clip = rows_per_clip * g.Wo * C;
    const float *x = (const float *)p->input, *w = (const float *)p->weight, *b = (const float *)p->bias;
    float *y = (float *)p->output;
    const int team = p->num_threads > 0 ? p->num_threads : omp_get_max_threads();
#pragma omp parallel for schedule(static) num_threads(team) if (rows > 1)
    for (int64_t r = 0; r < rows; r++) {
        const int64_t n = r / rows_per_clip, rem = r % rows_per_clip, to = rem / g.Ho, ho = rem % g.Ho;
        f(&g, C, x + n * in_clip, w, b, y + n * out_clip + rem * g.Wo * C, to, ho);
    }
    return DD_OK;
}

dd_status dd_dwconv3d_cpu(const dd_dwconv3d_params *p) {
    dd_status st = dd_dwconv3d_check(p);
    if (st != DD_OK) return st;
    if (p->dtype != DD_FLOAT32) return DD_ERR_BAD_DTYPE;
    dwgeom g = {p->in_t, p->in_h, p->in_w, p->out_t, p->out_h, p->out_w, p->k_t, p->k_h, p->k_w,
                p->stride_t, p->stride_h, p->stride_w, p->pad_t, p->pad_h, p->pad_w};
    const int isa = isa_level();
    if (p->layout == DD_LAYOUT_NDHWC) return dw_cl_forward(p, g, isa);
    if (g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0) {
        /* kt x 1 x 1: a frame is one contiguous row of H * W */
        g.W = g.H * g.W;
        g.Wo = g.W;
        g.H = g.Ho = 1;
    }
    const int avx2 = isa >= ISA_AVX2; /* the general paths have no AVX-512 copy */
    const int64_t N = p->batch, C = p->channels;
    const int64_t in_plane = g.T * g.H * g.W, out_plane = g.To * g.Ho * g.Wo, taps = g.kt * g.kh * g.kw;
    const int64_t planes = N * C;
    const int team = p->num_threads > 0 ? p->num_threads : omp_get_max_threads();
    int failed = 0;

    if (dw_fast_applies(&g)) {
        const dwfast f = dw_fast_geom(&g);
        const size_t scratch_floats = (size_t)(f.s * f.s * f.phase + f.nq + 64);
        if (p->mode == DD_DWCONV_GRAD_WEIGHT) {
            const float *go = (const float *)p->grad_output, *x = (const float *)p->input;
            float *gw = (float *)p->grad_weight;
#pragma omp parallel num_threads(team) if (C > 1)
            {
                float *scratch = (float *)malloc(scratch_floats * sizeof(float));
                if (scratch == 0) {
#pragma omp atomic write
                    failed = 1;
                }
#pragma omp for schedule(static)
                for (int64_t c = 0; c < C; c++) {
                    if (scratch == 0) continue;
                    double acc[27] = {0};
                    for (int64_t n = 0; n < N; n++) {
                        DD_FAST_CALL(fast_grad_weight_plane, &f, go + (n * C + c) * out_plane, x + (n * C + c) * in_plane, acc, scratch);
                    }
                    for (int k = 0; k < 27; k++) gw[c * 27 + k] = (float)acc[k];
                }
                free(scratch);
            }
            return failed ? DD_ERR_OUT_OF_MEMORY : DD_OK;
        }
#pragma omp parallel num_threads(team) if (planes > 1)
        {
            float *scratch = (float *)malloc(scratch_floats * sizeof(float));
            if (scratch == 0) {
#pragma omp atomic write
                failed = 1;
            }
#pragma omp for schedule(static)
            for (int64_t q = 0; q < planes; q++) {
                if (scratch == 0) continue;
                const float *w = (const float *)p->weight + (q % C) * 27;
                if (p->mode == DD_DWCONV_FORWARD) {
                    const float *x = (const float *)p->input + q * in_plane;
                    float *y = (float *)p->output + q * out_plane;
                    DD_FAST_CALL(fast_forward_plane, &f, x, w, y, scratch, 0);
                } else if (f.s == 1) {
                    /* stride 1: the input gradient is the forward of grad_output with the filter flipped */
                    const float *go = (const float *)p->grad_output + q * out_plane;
                    float *gx = (float *)p->grad_input + q * in_plane;
                    DD_FAST_CALL(fast_forward_plane, &f, go, w, gx, scratch, 1);
                } else {
                    const float *go = (const float *)p->grad_output + q * out_plane;
                    float *gx = (float *)p->grad_input + q * in_plane;
                    DD_FAST_CALL(fast_grad_input_s2_plane, &f, go, w, gx, scratch);
                }
            }
            free(scratch);
        }
        return failed ? DD_ERR_OUT_OF_MEMORY : DD_OK;
    }

    if (p->mode == DD_DWCONV_FORWARD) {
        const fwd_fn f = avx2 ? dw_forward_plane_avx2 : dw_forward_plane_base;
        const float *x = (const float *)p->input, *w = (const float *)p->weight;
        float *y = (float *)p->output;
#pragma omp parallel for schedule(static) num_threads(team) if (planes > 1)
        for (int64_t q = 0; q < planes; q++) f(&g, x + q * in_plane, w + (q % C) * taps, y + q * out_plane);
        return DD_OK;
    }
    if (p->mode == DD_DWCONV_GRAD_INPUT) {
        const fwd_fn f = avx2 ? dw_grad_input_plane_avx2 : dw_grad_input_plane_base;
        const float *go = (const float *)p->grad_output, *w = (const float *)p->weight;
        float *gx = (float *)p->grad_input;
#pragma omp parallel for schedule(static) num_threads(team) if (planes > 1)
        for (int64_t q = 0; q < planes; q++) f(&g, go + q * out_plane, w + (q % C) * taps, gx + q * in_plane);
        return DD_OK;
    }
    /* DD_DWCONV_GRAD_WEIGHT: per channel, planes n = 0..N-1 in order */
    const gw_fn f = avx2 ? dw_grad_weight_plane_avx2 : dw_grad_weight_plane_base;
    const float *go = (const float *)p->grad_output, *x = (const float *)p->input;
    float *gw = (float *)p->grad_weight;
#pragma omp parallel num_threads(team) if (C > 1)
    {
        double small[128];
        double *acc = taps <= 128 ? small : (double *)malloc((size_t)taps * sizeof(double));
        if (acc == 0) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(static)
        for (int64_t c = 0; c < C; c++) {
            if (acc == 0) continue;
            memset(acc, 0, (size_t)taps * sizeof(double));
            for (int64_t n = 0; n < N; n++) f(&g, go + (n * C + c) * out_plane, x + (n * C + c) * in_plane, acc);
            for (int64_t k = 0; k < taps; k++) gw[c * taps + k] = (float)acc[k];
        }
        if (acc != small) free(acc);
    }
    return failed ? DD_ERR_OUT_OF_MEMORY : DD_OK;
}
