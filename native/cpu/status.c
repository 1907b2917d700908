/* ABI version and status names: the two functions every backend shares. */
#include "dualdistill_kernels.h"

int32_t dd_abi_version(void) { return DD_ABI_VERSION; }

const char *dd_status_string(dd_status status) {
    switch (status) {
    case DD_OK: return "ok";
    case DD_ERR_NULL_POINTER: return "a required pointer is NULL";
    case DD_ERR_BAD_SHAPE: return "a size is out of range (need batch >= 1, classes >= 2)";
    case DD_ERR_BAD_DTYPE: return "unsupported dtype (float32, float16, bfloat16)";
    case DD_ERR_BAD_TEACHER_COUNT: return "teacher count out of range for this weighting";
    case DD_ERR_LABEL_OUT_OF_RANGE: return "a label is outside 0..classes-1";
    case DD_ERR_NONFINITE_INPUT: return "NaN or infinity in an input";
    case DD_ERR_BAD_MODE: return "unknown weighting, score or normalization mode";
    case DD_ERR_BAD_PARAMETER: return "a scalar parameter is out of range";
    case DD_ERR_BAD_STRIDE: return "a row stride is smaller than the number of classes";
    case DD_ERR_LABELS_REQUIRED: return "labels are required (cross-entropy weight > 0 or camkd weighting)";
    case DD_ERR_CUDA_UNAVAILABLE: return "CUDA is unavailable (no driver or no device)";
    case DD_ERR_CUDA_LAUNCH: return "a CUDA kernel launch failed";
    case DD_ERR_OUT_OF_MEMORY: return "a host scratch allocation failed";
    default: return "unknown dd_status";
    }
}
