// kernels/gemm.cuh: cuBLAS under nvcc, the CPU BLAS under the CUDA emulation.
#include "kernels/gemm.cuh"

#include <limits>

#include "engine/error.hpp"
#include "kernels/cuda_compat.hpp"

#if defined(__CUDACC__)
#include <cublas_v2.h>
#else
#include "engine/blas.hpp"
#include "kernels/emu/capture.hpp"
#endif

namespace twp::kernels {

namespace {

void check_gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, int64_t lda,
                int64_t ldb, int64_t ldc) {
    TWP_CHECK(m >= 0 && n >= 0 && k >= 0, "gemm with negative sizes m " << m << ", n " << n << ", k " << k);
    // Stored shapes: A is [m, k] or [k, m] (transposed), B is [k, n] or [n, k].
    TWP_CHECK(lda >= (transpose_a ? m : k) && ldb >= (transpose_b ? k : n) && ldc >= n,
              "gemm leading dimensions lda " << lda << ", ldb " << ldb << ", ldc " << ldc
                                              << " too small for m " << m << ", n " << n << ", k " << k);
    constexpr int64_t kIntMax = std::numeric_limits<int>::max();
    TWP_CHECK(m <= kIntMax && n <= kIntMax && k <= kIntMax && lda <= kIntMax && ldb <= kIntMax && ldc <= kIntMax,
              "gemm sizes beyond 32-bit BLAS indices: m " << m << ", n " << n << ", k " << k);
}

void check_syrk(int64_t n, int64_t k, int64_t lda, int64_t ldc) {
    TWP_CHECK(n >= 0 && k >= 0, "syrk with negative sizes n " << n << ", k " << k);
    TWP_CHECK(lda >= k && ldc >= n, "syrk leading dimensions lda " << lda << ", ldc " << ldc
                                                                   << " too small for n " << n << ", k " << k);
    constexpr int64_t kIntMax = std::numeric_limits<int>::max();
    TWP_CHECK(n <= kIntMax && k <= kIntMax && lda <= kIntMax && ldc <= kIntMax,
              "syrk sizes beyond 32-bit BLAS indices: n " << n << ", k " << k);
}

#if defined(__CUDACC__)

const char* cublas_status_name(cublasStatus_t status) {
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

#define TWP_CUBLAS_CHECK(call)                                                                 \
    do {                                                                                       \
        const cublasStatus_t twp_cublas_status_ = (call);                                      \
        if (twp_cublas_status_ != CUBLAS_STATUS_SUCCESS)                                       \
            TWP_FAIL(#call " failed: " << cublas_status_name(twp_cublas_status_));             \
    } while (0)

// One cuBLAS handle per host thread and device, created on first use and kept for the process
// (creating one costs milliseconds; cuBLAS allocates its workspace once per handle, which also
// keeps GEMMs capturable in a CUDA graph).
cublasHandle_t handle_for_current_device() {
    struct Handles {
        cublasHandle_t handles[64] = {};
        ~Handles() {
            for (cublasHandle_t h : handles)
                if (h) cublasDestroy(h);
        }
    };
    thread_local Handles cache;
    int device = 0;
    TWP_CUDA_CHECK(cudaGetDevice(&device));
    TWP_CHECK(device >= 0 && device < 64, "CUDA device index " << device << " out of range");
    cublasHandle_t& handle = cache.handles[device];
    if (!handle) {
        TWP_CUBLAS_CHECK(cublasCreate(&handle));
        // FP32 GEMMs stay FP32: no TF32 tensor-core math, whatever NVIDIA_TF32_OVERRIDE says.
        TWP_CUBLAS_CHECK(cublasSetMathMode(handle, CUBLAS_PEDANTIC_MATH));
    }
    return handle;
}

#endif

// Runs `call` now, or records it when the emulation is capturing a graph (as a GPU would).
template <class Call>
void run_or_record(const Call& call) {
#if defined(__CUDACC__)
    call();
#else
    if (emu::capturing())
        emu::record(call);
    else
        call();
#endif
}

}  // namespace

void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha,
          const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
          int64_t ldc, Stream stream, GemmMath math) {
    check_gemm(transpose_a, transpose_b, m, n, k, lda, ldb, ldc);
    if (m == 0 || n == 0) return;
#if defined(__CUDACC__)
    cublasHandle_t handle = handle_for_current_device();
    TWP_CUBLAS_CHECK(cublasSetStream(handle, static_cast<cudaStream_t>(stream)));
    // The handle is shared by every caller on this thread: the math mode is set for each call.
    TWP_CUBLAS_CHECK(cublasSetMathMode(
        handle, math == GemmMath::kTf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_PEDANTIC_MATH));
    // Row-major C = op(A) op(B)  <=>  column-major C^T = op(B)^T op(A)^T: B first, then A.
    TWP_CUBLAS_CHECK(cublasSgemm(handle, transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                                 transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N, int(n), int(m), int(k), &alpha,
                                 b, int(ldb), a, int(lda), &beta, c, int(ldc)));
#else
    (void)stream;  // the emulation is synchronous
    (void)math;    // and computes in FP32 (TF32 rounding is not emulated)
    const auto run = [=] { blas::gemm(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); };
    if (emu::capturing())
        emu::record(run);
    else
        run();
#endif
}

void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, double alpha,
          const double* a, int64_t lda, const double* b, int64_t ldb, double beta, double* c,
          int64_t ldc, Stream stream) {
    check_gemm(transpose_a, transpose_b, m, n, k, lda, ldb, ldc);
    if (m == 0 || n == 0) return;
#if defined(__CUDACC__)
    cublasHandle_t handle = handle_for_current_device();
    TWP_CUBLAS_CHECK(cublasSetStream(handle, static_cast<cudaStream_t>(stream)));
    // Row-major C = op(A) op(B)  <=>  column-major C^T = op(B)^T op(A)^T: B first, then A.
    TWP_CUBLAS_CHECK(cublasDgemm(handle, transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                                 transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N, int(n), int(m), int(k), &alpha,
                                 b, int(ldb), a, int(lda), &beta, c, int(ldc)));
#else
    (void)stream;
    run_or_record([=] { blas::gemm(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); });
#endif
}

void syrk_lower(int64_t n, int64_t k, double alpha, const double* a, int64_t lda, double beta,
                double* c, int64_t ldc, Stream stream) {
    check_syrk(n, k, lda, ldc);
    if (n == 0) return;
#if defined(__CUDACC__)
    cublasHandle_t handle = handle_for_current_device();
    TWP_CUBLAS_CHECK(cublasSetStream(handle, static_cast<cudaStream_t>(stream)));
    // Row-major A [n, k] is column-major Aᶜ [k, n]; row-major A·Aᵀ is column-major Aᶜᵀ·Aᶜ
    // (CUBLAS_OP_T), and the row-major lower triangle is the column-major upper one.
    TWP_CUBLAS_CHECK(cublasDsyrk(handle, CUBLAS_FILL_MODE_UPPER, CUBLAS_OP_T, int(n), int(k), &alpha,
                                 a, int(lda), &beta, c, int(ldc)));
#else
    (void)stream;
    run_or_record([=] { blas::syrk_lower(n, k, alpha, a, lda, beta, c, ldc); });
#endif
}

}  // namespace twp::kernels
