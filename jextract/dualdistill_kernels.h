/*
 * dualdistill_kernels.h -- the C ABI of dualdistill's hand-fused kernels.
 *
 * This header is the single source of truth: native/ includes it, and jextract/regen.sh generates the Java
 * bindings (org.dualdistill.internal.ffm.DualdistillNative) from it. Change it, bump DD_ABI_VERSION, rerun regen.sh.
 *
 * Contract for every kernel:
 *  - inputs and outputs are caller-owned raw pointers (host memory for *_cpu, device memory for *_cuda);
 *  - sizes and strides are explicit, in elements; the innermost dimension is always contiguous;
 *  - the library never allocates memory the caller cannot free, never prints, never exits;
 *  - *_cuda functions only enqueue work on params->stream (a cudaStream_t, NULL = legacy default stream):
 *    no allocation, no synchronization. Input errors the host cannot see (non-finite values, labels out of
 *    range) are reported through the optional device flag params->error_flag (0 = fine, else a dd_status).
 *  - every function returns a dd_status; dd_status_string() names it.
 *
 * Portable types only (int32_t, int64_t, float, pointers), so the layout is identical for C, CUDA and Java.
 */
#ifndef DUALDISTILL_KERNELS_H
#define DUALDISTILL_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on every change to a struct layout, an enum value or a function signature. */
#define DD_ABI_VERSION 1

/* Largest number of teachers one DATW call fuses. */
#define DD_MAX_TEACHERS 8

/* ---- status codes --------------------------------------------------------------------------------------- */
typedef int32_t dd_status;
enum {
    DD_OK = 0,
    DD_ERR_NULL_POINTER = 1,       /* a required pointer is NULL */
    DD_ERR_BAD_SHAPE = 2,          /* a size is out of range (B < 1, C < 2, ...) */
    DD_ERR_BAD_DTYPE = 3,          /* dtype is not one of dd_dtype */
    DD_ERR_BAD_TEACHER_COUNT = 4,  /* K outside 1..DD_MAX_TEACHERS, or a weighting that needs more teachers */
    DD_ERR_LABEL_OUT_OF_RANGE = 5, /* a label is < 0 or >= C */
    DD_ERR_NONFINITE_INPUT = 6,    /* NaN or infinity in the student or teacher logits */
    DD_ERR_BAD_MODE = 7,           /* unknown weighting, score or normalization mode */
    DD_ERR_BAD_PARAMETER = 8,      /* a scalar knob is out of range (temperature <= 0, ...) */
    DD_ERR_BAD_STRIDE = 9,         /* a row stride is smaller than the row */
    DD_ERR_LABELS_REQUIRED = 10,   /* the weighting (camkd) or a CE weight needs labels */
    DD_ERR_CUDA_UNAVAILABLE = 11,  /* no CUDA driver or device */
    DD_ERR_CUDA_LAUNCH = 12        /* a kernel launch failed */
};

/* ---- element types ---------------------------------------------------------------------------------------- */
typedef int32_t dd_dtype;
enum {
    DD_FLOAT32 = 0,
    DD_FLOAT16 = 1,  /* IEEE binary16 */
    DD_BFLOAT16 = 2  /* bfloat16 */
};

/* ---- DATW weighting modes --------------------------------------------------------------------------------- */
enum {
    DD_WEIGHTING_DATW = 0,    /* score from confidence and discrepancy, then normalized (the paper's method) */
    DD_WEIGHTING_UNIFORM = 1, /* w_k = 1/K */
    DD_WEIGHTING_EBKD = 2,    /* w_k proportional to 1 - H_k / sum_j H_j */
    DD_WEIGHTING_CAMKD = 3    /* w_k = (1 - softmax_k(CE(t_k, y))) / (K - 1), K >= 2, labels required */
};
enum {
    DD_SCORE_PRODUCT = 0, /* e_k = conf_k * disc_k */
    DD_SCORE_SUM = 1      /* e_k = lambda * conf_k + (1 - lambda) * disc_k */
};
enum {
    DD_NORM_SOFTMAX = 0, /* w = softmax_k(e / tau_weight) */
    DD_NORM_LINEAR = 1   /* w_k = (e_k + eps) / sum_j (e_j + eps) */
};

/*
 * DATW + KD + CE, forward and backward in one pass over each row.
 *
 * Per sample b (row), with s = student logits, t_k = teacher logits, all in float32 arithmetic:
 *   conf_k = 1 - H(softmax(t_k / tau_conf)) / log C
 *   disc_k = (1 - <s,t_k> / (max(|s|,1e-8) max(|t_k|,1e-8))) / 2
 *   w      = weighting(conf, disc)                       (constants for the gradient)
 *   z      = sum_k w_k t_k,  q = softmax(z / T),  p = softmax(s / T)
 *   kd_b   = T^2 KL(q || p)
 *   ce_b   = -sum_c y~_c log softmax(s)_c,  y~ = (1 - ls) onehot(y) + ls / C
 *   L_kd = mean_b kd_b, L_ce = mean_b ce_b, L = alpha_ce L_ce + alpha_kd L_kd
 *   dL/ds  = alpha_kd T / B (p - q) + alpha_ce / B (softmax(s) - y~)
 */
typedef struct dd_datw_params {
    int64_t batch;                               /* B >= 1 */
    int64_t classes;                             /* C >= 2 */
    int32_t teachers;                            /* K, 1..DD_MAX_TEACHERS */
    dd_dtype dtype;                              /* of student, teacher and grad_student */

    const void *student;                         /* [B, C] */
    int64_t student_stride;                      /* elements between rows, >= C */
    const void *teacher[DD_MAX_TEACHERS];        /* K pointers to [B, C]; the rest unused */
    int64_t teacher_stride[DD_MAX_TEACHERS];     /* elements between rows, >= C */
    const int64_t *labels;                       /* [B] in 0..C-1, or NULL (then alpha_ce must be 0) */

    int32_t weighting;                           /* DD_WEIGHTING_* */
    int32_t score_mode;                          /* DD_SCORE_* (DATW only) */
    int32_t norm_mode;                           /* DD_NORM_* (DATW only) */
    int32_t num_threads;                         /* CPU only: worker threads, 0 = runtime default */
    float temperature;                           /* T > 0 */
    float tau_conf;                              /* > 0, temperature of the confidence softmax */
    float tau_weight;                            /* > 0, temperature of the weight softmax */
    float lambda;                                /* in [0, 1], DD_SCORE_SUM mixing */
    float linear_eps;                            /* >= 0, DD_NORM_LINEAR smoothing */
    float alpha_ce;                              /* weight of L_ce in the gradient and total */
    float alpha_kd;                              /* weight of L_kd in the gradient and total */
    float label_smoothing;                       /* in [0, 1) */

    void *grad_student;                          /* [B, C] of dtype, dL/ds; NULL = loss only */
    int64_t grad_stride;                         /* elements between rows, >= C */
    float *weights;                              /* [B, K] teacher weights, or NULL */
    float *confidence;                           /* [B, K], or NULL */
    float *discrepancy;                          /* [B, K], or NULL */
    float *row_loss;                             /* [B, 2] per-row (kd_b, ce_b) scratch and output; required */
    float *loss;                                 /* [3] = (L, L_kd, L_ce); required */
    int32_t *error_flag;                         /* CUDA only: device int32, set to a dd_status on bad data; or NULL */
    int32_t reserved;
    void *stream;                                /* CUDA only: cudaStream_t */
} dd_datw_params;

/* ---- functions --------------------------------------------------------------------------------------------- */

/* The DD_ABI_VERSION the library was compiled with. */
int32_t dd_abi_version(void);

/* A static, human-readable name for a status code (never NULL). */
const char *dd_status_string(dd_status status);

/* CPU kernel: validates every input (shapes, labels, finiteness), then computes; synchronous. */
dd_status dd_datw_cpu(const dd_datw_params *params);

/* Number of visible CUDA devices into *count; DD_ERR_CUDA_UNAVAILABLE (and *count = 0) when the driver is missing.
 * Provided by the CUDA library (libdualdistill_kernels_cuda.so). */
dd_status dd_cuda_device_count(int32_t *count);

/* CUDA kernel: host-side validation of sizes and modes, then enqueued on params->stream. */
dd_status dd_datw_cuda(const dd_datw_params *params);

#ifdef __cplusplus
}
#endif

#endif /* DUALDISTILL_KERNELS_H */
