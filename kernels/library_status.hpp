// TWP_CUBLAS_CHECK and TWP_CUSOLVER_CHECK for the nvcc build (kernels/gemm.cu, kernels/eigen.cu,
// kernels/library_handles.cu): evaluate a library call once; on failure clear the runtime's last
// error (the library's own runtime calls may have left one behind, which the next launch would
// otherwise report as its own) and throw twp::Error with the call, file:line and the status name.
#pragma once

#if defined(__CUDACC__)

#include <cublas_v2.h>
#include <cusolverDn.h>

#include "engine/error.hpp"
#include "kernels/cuda_compat.hpp"

namespace twp::kernels::detail {

inline const char* cublas_status_name(cublasStatus_t status) {
    switch (status) {
        case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
        case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED (out of GPU memory: use --no_cuda)";
        case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
        case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
        case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
        case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
        case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
        case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
        default: return "unknown cuBLAS status";
    }
}

inline const char* cusolver_status_name(cusolverStatus_t status) {
    switch (status) {
        case CUSOLVER_STATUS_NOT_INITIALIZED: return "CUSOLVER_STATUS_NOT_INITIALIZED";
        case CUSOLVER_STATUS_ALLOC_FAILED: return "CUSOLVER_STATUS_ALLOC_FAILED (out of GPU memory: use --no_cuda)";
        case CUSOLVER_STATUS_INVALID_VALUE: return "CUSOLVER_STATUS_INVALID_VALUE";
        case CUSOLVER_STATUS_ARCH_MISMATCH: return "CUSOLVER_STATUS_ARCH_MISMATCH";
        case CUSOLVER_STATUS_MAPPING_ERROR: return "CUSOLVER_STATUS_MAPPING_ERROR";
        case CUSOLVER_STATUS_EXECUTION_FAILED: return "CUSOLVER_STATUS_EXECUTION_FAILED";
        case CUSOLVER_STATUS_INTERNAL_ERROR: return "CUSOLVER_STATUS_INTERNAL_ERROR";
        case CUSOLVER_STATUS_MATRIX_TYPE_NOT_SUPPORTED: return "CUSOLVER_STATUS_MATRIX_TYPE_NOT_SUPPORTED";
        case CUSOLVER_STATUS_NOT_SUPPORTED: return "CUSOLVER_STATUS_NOT_SUPPORTED";
        default: return "unknown cuSOLVER status";
    }
}

}  // namespace twp::kernels::detail

#define TWP_CUBLAS_CHECK(call)                                                                 \
    do {                                                                                       \
        const cublasStatus_t twp_cublas_status_ = (call);                                      \
        if (twp_cublas_status_ != CUBLAS_STATUS_SUCCESS) {                                     \
            ::twp::kernels::detail::clear_last_error();                                        \
            TWP_FAIL(#call " failed: " << ::twp::kernels::detail::cublas_status_name(twp_cublas_status_)); \
        }                                                                                      \
    } while (0)

#define TWP_CUSOLVER_CHECK(call)                                                               \
    do {                                                                                       \
        const cusolverStatus_t twp_cusolver_status_ = (call);                                  \
        if (twp_cusolver_status_ != CUSOLVER_STATUS_SUCCESS) {                                 \
            ::twp::kernels::detail::clear_last_error();                                        \
            TWP_FAIL(#call " failed: " << ::twp::kernels::detail::cusolver_status_name(twp_cusolver_status_)); \
        }                                                                                      \
    } while (0)

#endif
