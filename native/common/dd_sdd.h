/*
 * SDD loss: the host-side parameter checks shared by cpu/sdd.c and cuda/sdd.cu, so both backends refuse the same
 * inputs with the same dd_status. Internal to native/; the ABI is jextract/dualdistill_kernels.h.
 */
#ifndef DD_SDD_H
#define DD_SDD_H

#include <math.h>
#include "dualdistill_kernels.h"

/* Checks pointers, sizes (each >= 1, B * D * P representable), dtype, eps and thread count. Finiteness of the data
 * is checked by the kernels themselves. */
static inline dd_status dd_sdd_check(const dd_sdd_params *p) {
    if (p == 0 || p->r_hat == 0 || p->a == 0 || p->b == 0 || p->partial == 0 || p->loss == 0) return DD_ERR_NULL_POINTER;
    if (p->batch < 1 || p->channels < 1 || p->positions < 1) return DD_ERR_BAD_SHAPE;
    /* B * D * P elements must be addressable with int64 (and in bytes): cap at 2^60 elements */
    const int64_t cap = (int64_t)1 << 60;
    if (p->channels > cap / p->positions || p->batch > cap / (p->channels * p->positions)) return DD_ERR_BAD_SHAPE;
    if (p->dtype != DD_FLOAT32 && p->dtype != DD_FLOAT16 && p->dtype != DD_BFLOAT16) return DD_ERR_BAD_DTYPE;
    if (!(p->eps > 0.0f) || !isfinite(p->eps) || p->num_threads < 0) return DD_ERR_BAD_PARAMETER;
    return DD_OK;
}

#endif /* DD_SDD_H */
