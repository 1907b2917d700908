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
#define DD_ABI_VERSION 4

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
    DD_ERR_CUDA_LAUNCH = 12,       /* a kernel launch failed */
    DD_ERR_OUT_OF_MEMORY = 13      /* a host scratch allocation failed */
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

/*
 * SDD (structure discrepancy-aware distillation) loss, forward and backward in one pass.
 *
 * r_hat, a and b are [B, D, P] with P = T*H*W positions (channel-major, as LibTorch lays out [B, D, T, H, W]);
 * a = phi_ViT(f_ViT) and b = phi_CNN(f_CNN) are the projected, resampled teacher features (constants).
 *   n(x)[:, p] = x[:, p] / max(||x[:, p]||_2, eps)            (per position, along the D channels)
 *   r          = n(a) - n(b)                                  (constant target)
 *   L          = 1 / (B D P) sum (r_hat - r)^2,  dL/dr_hat = 2 (r_hat - r) / (B D P)
 */
typedef struct dd_sdd_params {
    int64_t batch;                               /* B >= 1 */
    int64_t channels;                            /* D >= 1 */
    int64_t positions;                           /* P >= 1 */
    dd_dtype dtype;                              /* of r_hat, a, b and grad_r_hat */
    int32_t num_threads;                         /* CPU only: 0 = runtime default */
    const void *r_hat;                           /* [B, D, P] contiguous: the structure discrepancy branch's output */
    const void *a;                               /* [B, D, P] contiguous: projected ViT-teacher features */
    const void *b;                               /* [B, D, P] contiguous: projected CNN-teacher features */
    float eps;                                   /* > 0, normalization floor (1e-6) */
    int32_t reserved0;
    void *grad_r_hat;                            /* [B, D, P] of dtype, dL/dr_hat; NULL = loss only */
    float *partial;                              /* [B] per-sample sums of squared error: scratch and output; required */
    float *loss;                                 /* [1] = L; required */
    int32_t *error_flag;                         /* CUDA only: device int32 set to a dd_status on NaN/inf; or NULL */
    int32_t reserved1;
    void *stream;                                /* CUDA only: cudaStream_t */
} dd_sdd_params;

/*
 * RKD (relational knowledge distillation, Park et al. 2019) loss on embeddings, forward and backward.
 *
 * e_s = student embeddings [B, Ds], e_t = teacher embeddings [B, Dt] (constant). With d_ij = sqrt(max(|e_i - e_j|^2,
 * eps)) and mu = mean of d_ij over pairs i != j:
 *   L_D = mean over i != j of SmoothL1(d^s_ij / mu_s - d^t_ij / mu_t)                    (beta = 1)
 *   L_A = mean over (i, j, k), j != i, k != i, of SmoothL1(cos^s_ijk - cos^t_ijk),
 *         cos_ijk = <e_j - e_i, e_k - e_i> / (d_ij d_ik)
 *   L   = distance_weight L_D + angle_weight L_A
 * computed from the B x B squared distances alone (one O(B^2 D) pass): <e_j - e_i, e_k - e_i> =
 * (d_ij^2 + d_ik^2 - d_jk^2) / 2, the Gram identity written in distances, which stays accurate when the points
 * sit far from the origin (G = E E^T itself cancels there); no B x B x D tensor is formed, and
 * dL/de_a = sum_b K_ab (e_a - e_b) for the B x B matrix K of distance-level derivatives.
 */
typedef struct dd_rkd_params {
    int64_t batch;                               /* B >= 2 */
    int64_t student_dim;                         /* Ds >= 1 */
    int64_t teacher_dim;                         /* Dt >= 1 */
    dd_dtype dtype;                              /* of student, teacher and grad_student */
    int32_t num_threads;                         /* CPU only: 0 = runtime default */
    const void *student;                         /* [B, Ds] contiguous */
    const void *teacher;                         /* [B, Dt] contiguous */
    float distance_weight;                       /* lambda_D (25) */
    float angle_weight;                          /* lambda_A (50) */
    float eps;                                   /* > 0, floor of squared distances (1e-12) */
    int32_t reserved0;
    void *grad_student;                          /* [B, Ds] of dtype, dL/de_s; NULL = loss only */
    float *workspace;                            /* dd_rkd_workspace_floats(B) floats; required */
    int64_t workspace_floats;                    /* floats available at workspace */
    float *loss;                                 /* [3] = (L, L_D, L_A); required */
    int32_t *error_flag;                         /* CUDA only: device int32 set to a dd_status on NaN/inf; or NULL */
    int32_t reserved1;
    void *stream;                                /* CUDA only: cudaStream_t */
} dd_rkd_params;

/* ---- depthwise Conv3d ------------------------------------------------------------------------------------ */
enum {
    DD_DWCONV_FORWARD = 0,     /* output = conv(input, weight) */
    DD_DWCONV_GRAD_INPUT = 1,  /* grad_input = dL/dinput from grad_output and weight (overwritten, not accumulated) */
    DD_DWCONV_GRAD_WEIGHT = 2  /* grad_weight = dL/dweight from grad_output and input (overwritten) */
};

/* Memory layouts of a depthwise Conv3d call's activations (and weight). */
enum {
    DD_LAYOUT_NCDHW = 0,       /* input/output [N, C, T, H, W], weight [C, 1, kt, kh, kw]: all three passes */
    DD_LAYOUT_NDHWC = 1        /* channels-last: input/output [N, T, H, W, C], weight [kt, kh, kw, C]; FORWARD on
                                * the CPU only (the fused inference path: optional bias) */
};

/*
 * Depthwise 3D convolution (groups = channels, one filter per channel, no bias, no dilation), as LibTorch's
 * conv3d(input, weight, stride, padding, groups = C) computes it:
 *   out[n, c, t, h, w] = sum_{i, j, k} weight[c, 0, i, j, k] * in[n, c, t*st - pt + i, h*sh - ph + j, w*sw - pw + k]
 * (zero outside the input), plus bias[c] when a bias is given. All tensors are contiguous in dtype, in the call's
 * layout (DD_LAYOUT_NCDHW: NCDHW / [C, 1, kt, kh, kw]; DD_LAYOUT_NDHWC: NDHWC / [kt, kh, kw, C], float32 forward on
 * the CPU only). One call runs one of the three DD_DWCONV_* passes; the output sizes are the caller's and must
 * equal (in + 2 pad - k) / stride + 1. The weight gradient sums over the batch in a fixed order, so it does not
 * depend on the thread count.
 */
typedef struct dd_dwconv3d_params {
    int64_t batch;                               /* N >= 1 */
    int64_t channels;                            /* C >= 1 */
    int64_t in_t;                                /* input frames >= 1 */
    int64_t in_h;                                /* input height >= 1 */
    int64_t in_w;                                /* input width >= 1 */
    int64_t out_t;                               /* output sizes, each >= 1 and consistent with the rest */
    int64_t out_h;
    int64_t out_w;
    int32_t k_t;                                 /* kernel sizes, each 1..4096 */
    int32_t k_h;
    int32_t k_w;
    int32_t stride_t;                            /* strides, each 1..4096 */
    int32_t stride_h;
    int32_t stride_w;
    int32_t pad_t;                               /* zero padding, each 0..4096 */
    int32_t pad_h;
    int32_t pad_w;
    int32_t mode;                                /* DD_DWCONV_* */
    dd_dtype dtype;                              /* CPU: DD_FLOAT32 only; CUDA: any dd_dtype */
    int32_t num_threads;                         /* CPU only: worker threads, 0 = runtime default */
    const void *input;                           /* [N, C, in_t, in_h, in_w]: FORWARD, GRAD_WEIGHT */
    const void *weight;                          /* [C, 1, k_t, k_h, k_w]: FORWARD, GRAD_INPUT */
    const void *grad_output;                     /* [N, C, out_t, out_h, out_w]: GRAD_INPUT, GRAD_WEIGHT */
    void *output;                                /* [N, C, out_t, out_h, out_w]: FORWARD */
    void *grad_input;                            /* [N, C, in_t, in_h, in_w]: GRAD_INPUT */
    void *grad_weight;                           /* [C, 1, k_t, k_h, k_w]: GRAD_WEIGHT */
    void *stream;                                /* CUDA only: cudaStream_t */
    int32_t layout;                              /* DD_LAYOUT_*; 0 = NCDHW */
    int32_t reserved0;
    const void *bias;                            /* [C] added to every output (FORWARD, NDHWC only), or NULL */
} dd_dwconv3d_params;

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

/* SDD loss and gradient on the CPU (validates shapes and finiteness) / enqueued on params->stream. */
dd_status dd_sdd_cpu(const dd_sdd_params *params);
dd_status dd_sdd_cuda(const dd_sdd_params *params);

/* Floats of workspace the RKD kernels need for a batch of B (same for CPU and CUDA). */
int64_t dd_rkd_workspace_floats(int64_t batch);

/* RKD loss and gradient on the CPU / enqueued on params->stream. */
dd_status dd_rkd_cpu(const dd_rkd_params *params);
dd_status dd_rkd_cuda(const dd_rkd_params *params);

/* Depthwise Conv3d pass on the CPU (synchronous) / enqueued on params->stream. */
dd_status dd_dwconv3d_cpu(const dd_dwconv3d_params *params);
dd_status dd_dwconv3d_cuda(const dd_dwconv3d_params *params);

#ifdef __cplusplus
}
#endif

#endif /* DUALDISTILL_KERNELS_H */
