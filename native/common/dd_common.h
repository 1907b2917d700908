/*
 * Shared by the C and CUDA kernels: parameter validation and the per-row teacher weighting, written once
 * so both backends compute the same function. Internal to native/; the ABI is jextract/dualdistill_kernels.h.
 */
#ifndef DD_COMMON_H
#define DD_COMMON_H

#include <math.h>
#include "dualdistill_kernels.h"

#ifdef __CUDACC__
#define DD_HD __host__ __device__ __forceinline__
#else
#define DD_HD static inline
#endif

/*
 * Finite inputs whose loss or gradient is larger than float32 can hold. The ABI has no code of its own for this yet
 * (proposed for dualdistill_kernels.h: DD_ERR_OVERFLOW = 14, "a result exceeds the float32 range"); until it has,
 * the kernels return DD_ERR_NONFINITE_INPUT for it and the Java layer, which then finds every input finite, reports
 * an overflow. Every kernel writes it through this name, so adopting the new code is this one line.
 */
#define DD_STATUS_OVERFLOW DD_ERR_NONFINITE_INPUT

/* Largest finite float32, as a double. */
#define DD_FLT_MAX_D 3.4028234663852886e38

/* 1 when v (finite or not) rounds to a finite float32: |v| below FLT_MAX plus half an ulp. */
DD_HD int dd_fits_float(double v) {
    return fabs(v) < 3.4028235677973366e38;
}

/* Host-side checks every backend runs before touching memory. Data-dependent checks (labels, finiteness)
 * are done by the kernels themselves. */
static inline dd_status dd_datw_check(const dd_datw_params *p) {
    if (p == 0 || p->student == 0 || p->loss == 0 || p->row_loss == 0) return DD_ERR_NULL_POINTER;
    if (p->batch < 1 || p->classes < 2) return DD_ERR_BAD_SHAPE;
    if (p->teachers < 1 || p->teachers > DD_MAX_TEACHERS) return DD_ERR_BAD_TEACHER_COUNT;
    if (p->dtype != DD_FLOAT32 && p->dtype != DD_FLOAT16 && p->dtype != DD_BFLOAT16) return DD_ERR_BAD_DTYPE;
    if (p->weighting < DD_WEIGHTING_DATW || p->weighting > DD_WEIGHTING_CAMKD) return DD_ERR_BAD_MODE;
    if (p->score_mode != DD_SCORE_PRODUCT && p->score_mode != DD_SCORE_SUM) return DD_ERR_BAD_MODE;
    if (p->norm_mode != DD_NORM_SOFTMAX && p->norm_mode != DD_NORM_LINEAR) return DD_ERR_BAD_MODE;
    if (p->weighting == DD_WEIGHTING_CAMKD && p->teachers < 2) return DD_ERR_BAD_TEACHER_COUNT;
    if ((p->weighting == DD_WEIGHTING_CAMKD || p->alpha_ce != 0.0f) && p->labels == 0) return DD_ERR_LABELS_REQUIRED;
    if (!(p->temperature > 0.0f) || !(p->tau_conf > 0.0f) || !(p->tau_weight > 0.0f)) return DD_ERR_BAD_PARAMETER;
    if (!(p->lambda >= 0.0f && p->lambda <= 1.0f) || !(p->linear_eps >= 0.0f)) return DD_ERR_BAD_PARAMETER;
    if (!(p->label_smoothing >= 0.0f && p->label_smoothing < 1.0f)) return DD_ERR_BAD_PARAMETER;
    if (!isfinite(p->alpha_ce) || !isfinite(p->alpha_kd) || p->num_threads < 0) return DD_ERR_BAD_PARAMETER;
    if (p->student_stride < p->classes) return DD_ERR_BAD_STRIDE;
    if (p->grad_student != 0 && p->grad_stride < p->classes) return DD_ERR_BAD_STRIDE;
    for (int32_t k = 0; k < p->teachers; k++) {
        if (p->teacher[k] == 0) return DD_ERR_NULL_POINTER;
        if (p->teacher_stride[k] < p->classes) return DD_ERR_BAD_STRIDE;
    }
    return DD_OK;
}

/*
 * Teacher weights of one sample from its per-teacher statistics.
 *   conf[k], disc[k]: DATW confidence and discrepancy in [0, 1]
 *   ent[k]:           entropy H_k of softmax(t_k / tau_conf)  (ebkd)
 *   ce[k]:            CE(t_k, y)                              (camkd)
 */
DD_HD void dd_datw_weights(const dd_datw_params *p, const float *conf, const float *disc, const float *ent,
                           const float *ce, float *w) {
    const int32_t K = p->teachers;
    if (p->weighting == DD_WEIGHTING_UNIFORM || K == 1) {
        for (int32_t k = 0; k < K; k++) w[k] = 1.0f / (float)K;
        return;
    }
    if (p->weighting == DD_WEIGHTING_EBKD) {
        float hs = 0.0f, ws = 0.0f;
        for (int32_t k = 0; k < K; k++) hs += ent[k];
        for (int32_t k = 0; k < K; k++) { w[k] = 1.0f - ent[k] / (hs + 1e-12f); ws += w[k]; }
        for (int32_t k = 0; k < K; k++) w[k] /= ws;
        return;
    }
    if (p->weighting == DD_WEIGHTING_CAMKD) {
        float m = -INFINITY, zs = 0.0f;
        for (int32_t k = 0; k < K; k++) m = fmaxf(m, ce[k]);
        for (int32_t k = 0; k < K; k++) { w[k] = expf(ce[k] - m); zs += w[k]; }
        for (int32_t k = 0; k < K; k++) w[k] = (1.0f - w[k] / zs) / (float)(K - 1);
        return;
    }
    /* DATW */
    float e[DD_MAX_TEACHERS];
    for (int32_t k = 0; k < K; k++) {
        e[k] = p->score_mode == DD_SCORE_PRODUCT ? conf[k] * disc[k]
                                                 : p->lambda * conf[k] + (1.0f - p->lambda) * disc[k];
    }
    if (p->norm_mode == DD_NORM_SOFTMAX) {
        float m = -INFINITY, zs = 0.0f;
        for (int32_t k = 0; k < K; k++) m = fmaxf(m, e[k] / p->tau_weight);
        for (int32_t k = 0; k < K; k++) { w[k] = expf(e[k] / p->tau_weight - m); zs += w[k]; }
        for (int32_t k = 0; k < K; k++) w[k] /= zs;
    } else {
        float zs = 0.0f;
        for (int32_t k = 0; k < K; k++) zs += e[k] + p->linear_eps;
        if (zs > 0.0f) {
            for (int32_t k = 0; k < K; k++) w[k] = (e[k] + p->linear_eps) / zs;
        } else { /* every score 0 and eps 0: no preference */
            for (int32_t k = 0; k < K; k++) w[k] = 1.0f / (float)K;
        }
    }
}

/* Discrepancy from the row dot products: (1 - cos) / 2 with norms clamped at 1e-8. */
DD_HD float dd_discrepancy(double st, double ss, double tt) {
    double ns = sqrt(ss), nt = sqrt(tt);
    ns = ns > 1e-8 ? ns : 1e-8;
    nt = nt > 1e-8 ? nt : 1e-8;
    double cs = st / (ns * nt);
    return (float)((1.0 - cs) * 0.5);
}

/* Host-side checks of a depthwise Conv3d call (shared by the C and CUDA backends): sizes positive and below
 * 2^31 each, element counts below 2^62, output sizes consistent, the pointers the mode reads and writes present. */
static inline dd_status dd_dwconv3d_check(const dd_dwconv3d_params *p) {
    if (p == 0) return DD_ERR_NULL_POINTER;
    if (p->mode != DD_DWCONV_FORWARD && p->mode != DD_DWCONV_GRAD_INPUT && p->mode != DD_DWCONV_GRAD_WEIGHT)
        return DD_ERR_BAD_MODE;
    if (p->dtype != DD_FLOAT32 && p->dtype != DD_FLOAT16 && p->dtype != DD_BFLOAT16) return DD_ERR_BAD_DTYPE;
    if (p->num_threads < 0) return DD_ERR_BAD_PARAMETER;
    const int64_t lim = (int64_t)1 << 31;
    const int64_t sz[8] = {p->batch, p->channels, p->in_t, p->in_h, p->in_w, p->out_t, p->out_h, p->out_w};
    for (int i = 0; i < 8; i++)
        if (sz[i] < 1 || sz[i] >= lim) return DD_ERR_BAD_SHAPE;
    const int32_t k[3] = {p->k_t, p->k_h, p->k_w}, s[3] = {p->stride_t, p->stride_h, p->stride_w},
                  pd[3] = {p->pad_t, p->pad_h, p->pad_w};
    const int64_t in[3] = {p->in_t, p->in_h, p->in_w}, out[3] = {p->out_t, p->out_h, p->out_w};
    for (int i = 0; i < 3; i++) {
        if (k[i] < 1 || s[i] < 1 || pd[i] < 0 || k[i] > 4096 || s[i] > 4096 || pd[i] > 4096) return DD_ERR_BAD_PARAMETER;
        if (in[i] + 2 * (int64_t)pd[i] < k[i]) return DD_ERR_BAD_SHAPE;
        if ((in[i] + 2 * (int64_t)pd[i] - k[i]) / s[i] + 1 != out[i]) return DD_ERR_BAD_SHAPE;
    }
    /* element counts: each factor < 2^31, so check the running product stays below 2^62 */
    const double planes = (double)p->batch * (double)p->channels;
    if (planes * (double)p->in_t * (double)p->in_h * (double)p->in_w >= 4.0e18) return DD_ERR_BAD_SHAPE;
    if (planes * (double)p->out_t * (double)p->out_h * (double)p->out_w >= 4.0e18) return DD_ERR_BAD_SHAPE;
    if (p->layout != DD_LAYOUT_NCDHW && p->layout != DD_LAYOUT_NDHWC) return DD_ERR_BAD_MODE;
    if (p->layout == DD_LAYOUT_NDHWC && p->mode != DD_DWCONV_FORWARD) return DD_ERR_BAD_MODE;
    if (p->bias != 0 && p->layout != DD_LAYOUT_NDHWC) return DD_ERR_BAD_PARAMETER;
    switch (p->mode) {
    case DD_DWCONV_FORWARD:
        if (p->input == 0 || p->weight == 0 || p->output == 0) return DD_ERR_NULL_POINTER;
        break;
    case DD_DWCONV_GRAD_INPUT:
        if (p->grad_output == 0 || p->weight == 0 || p->grad_input == 0) return DD_ERR_NULL_POINTER;
        break;
    default:
        if (p->grad_output == 0 || p->input == 0 || p->grad_weight == 0) return DD_ERR_NULL_POINTER;
        break;
    }
    return DD_OK;
}

#endif /* DD_COMMON_H */
