// kernels/gemm.cuh: cuBLAS under nvcc, the CPU BLAS under the CUDA emulation.
#include "kernels/gemm.cuh"

#include <limits>

#include "engine/error.hpp"
#include "kernels/cuda_compat.hpp"

#if defined(__CUDACC__)
#include "kernels/library_status.hpp"
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

#if !defined(__CUDACC__)
// Runs `call` now, or records it when the emulation is capturing a graph (as a GPU would).
template <class Call>
void run_or_record(const Call& call) {
    if (emu::capturing())
        emu::record(call);
    else
        call();
}
#endif

}  // namespace

void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha,
          const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
          int64_t ldc, const LibraryHandles& libraries, GemmMath math) {
    check_gemm(transpose_a, transpose_b, m, n, k, lda, ldb, ldc);
    if (m == 0 || n == 0) return;
    // The handle is shared by every GEMM of the backend: the math mode is set for each call.
    libraries.set_math_mode(math == GemmMath::kTf32 ? MathMode::kTf32 : MathMode::kPedantic);
#if defined(__CUDACC__)
    const auto handle = static_cast<cublasHandle_t>(libraries.cublas());
    // Row-major C = op(A) op(B)  <=>  column-major C^T = op(B)^T op(A)^T: B first, then A.
    TWP_CUBLAS_CHECK(cublasSgemm(handle, transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                                 transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N, int(n), int(m), int(k), &alpha,
                                 b, int(ldb), a, int(lda), &beta, c, int(ldc)));
#else
    // The emulation is synchronous and computes in FP32 (TF32 rounding is not emulated).
    run_or_record([=] { blas::gemm(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); });
#endif
}

void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, double alpha,
          const double* a, int64_t lda, const double* b, int64_t ldb, double beta, double* c,
          int64_t ldc, const LibraryHandles& libraries) {
    check_gemm(transpose_a, transpose_b, m, n, k, lda, ldb, ldc);
    if (m == 0 || n == 0) return;
    // FP64 has no reduced-precision path to forbid: cuBLAS's default mode, not the float
    // GEMMs' pedantic one (which is about FP32 agreement with the CPU).
    libraries.set_math_mode(MathMode::kDefault);
#if defined(__CUDACC__)
    const auto handle = static_cast<cublasHandle_t>(libraries.cublas());
    // Row-major C = op(A) op(B)  <=>  column-major C^T = op(B)^T op(A)^T: B first, then A.
    TWP_CUBLAS_CHECK(cublasDgemm(handle, transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                                 transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N, int(n), int(m), int(k), &alpha,
                                 b, int(ldb), a, int(lda), &beta, c, int(ldc)));
#else
    run_or_record([=] { blas::gemm(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); });
#endif
}

void syrk_lower(int64_t n, int64_t k, double alpha, const double* a, int64_t lda, double beta,
                double* c, int64_t ldc, const LibraryHandles& libraries) {
    check_syrk(n, k, lda, ldc);
    if (n == 0) return;
    libraries.set_math_mode(MathMode::kDefault);
#if defined(__CUDACC__)
    const auto handle = static_cast<cublasHandle_t>(libraries.cublas());
    // Row-major A [n, k] is column-major Aᶜ [k, n]; row-major A·Aᵀ is column-major Aᶜᵀ·Aᶜ
    // (CUBLAS_OP_T), and the row-major lower triangle is the column-major upper one.
    TWP_CUBLAS_CHECK(cublasDsyrk(handle, CUBLAS_FILL_MODE_UPPER, CUBLAS_OP_T, int(n), int(k), &alpha,
                                 a, int(lda), &beta, c, int(ldc)));
#else
    run_or_record([=] { blas::syrk_lower(n, k, alpha, a, lda, beta, c, ldc); });
#endif
}

}  // namespace twp::kernels
