/*
 * The GEMM epilogue y = act(y + bias + residual) on a row-major float32 matrix (see dd_bias_act_params).
 *
 * Memory-bound: one read of y (and of the residual), one write. The row loop is compiled for AVX-512, AVX2 and
 * baseline x86-64 (GCC target_clones, picked by the loader from the CPU's features); each element's operations are
 * the same scalar ones in every copy (no reassociation), so the copies agree bit for bit.
 */
#include <stdint.h>
#include <omp.h>

#include "dualdistill_kernels.h"

__attribute__((target_clones("avx512f", "avx2", "default")))
static void bias_act_row(float *restrict y, const float *restrict bias, const float *restrict res, int64_t cols,
                         int relu) {
    if (bias != 0 && res != 0) {
        for (int64_t c = 0; c < cols; c++) y[c] = (y[c] + bias[c]) + res[c];
    } else if (bias != 0) {
        for (int64_t c = 0; c < cols; c++) y[c] = y[c] + bias[c];
    } else if (res != 0) {
        for (int64_t c = 0; c < cols; c++) y[c] = y[c] + res[c];
    }
    if (relu) {
        for (int64_t c = 0; c < cols; c++) y[c] = y[c] < 0.f ? 0.f : y[c]; /* NaN < 0 is false: NaN stays */
    }
}

dd_status dd_bias_act_cpu(const dd_bias_act_params *p) {
    if (p == 0 || p->y == 0) return DD_ERR_NULL_POINTER;
    if (p->rows < 1 || p->cols < 1 || (double)p->rows * (double)p->cols >= 4.0e18) return DD_ERR_BAD_SHAPE;
    if (p->act != DD_ACT_NONE && p->act != DD_ACT_RELU) return DD_ERR_BAD_MODE;
    if (p->num_threads < 0) return DD_ERR_BAD_PARAMETER;
    const int64_t rows = p->rows, cols = p->cols;
    const int relu = p->act == DD_ACT_RELU;
    float *y = p->y;
    const float *b = p->bias, *r = p->residual;
    /* chunks of rows of at least ~64 KiB, so small matrices do not pay for waking the team */
    const int64_t chunk = cols >= 16384 ? 1 : 16384 / cols;
    const int64_t chunks = (rows + chunk - 1) / chunk;
    const int team = p->num_threads > 0 ? p->num_threads : omp_get_max_threads();
#pragma omp parallel for schedule(static) num_threads(team) if (chunks > 1)
    for (int64_t k = 0; k < chunks; k++) {
        const int64_t r0 = k * chunk, r1 = r0 + chunk < rows ? r0 + chunk : rows;
        for (int64_t i = r0; i < r1; i++) bias_act_row(y + i * cols, b, r == 0 ? 0 : r + i * cols, cols, relu);
    }
    return DD_OK;
}
