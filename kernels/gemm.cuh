// Row-major GEMM on the device, for the layers whose products are plain matrix products (LeNet-5's
// fully connected layers; the transformer's projections) in float, and PCA's products (Gram
// matrix, components, transforms: kernels/pca.cuh, engine/cuda_pca_solver.cpp) in double. Plain C++:
// callers need no CUDA header. Row-major is handled here, once: cuBLAS is column-major, and a
// row-major C = op(A) op(B) is the column-major C^T = op(B)^T op(A)^T, so the operands are swapped
// rather than transposed. Every call runs on the cuBLAS handle of `libraries` (kernels/library_handles.hpp),
// queued on its stream. Under nvcc the float call is cublasSgemm, in pedantic
// FP32 unless the caller asks for TF32 tensor cores (twp --tf32: about 8x the FP32 rate on an
// H200, with 10-bit mantissas in the products, so the GPU then no longer agrees with the CPU to
// fp32 rounding); the double calls are cublasDgemm / cublasDsyrk (FP64, no emulated or reduced
// precision; cuBLAS's default math mode). Under the CUDA emulation it is the CPU BLAS (engine/blas.hpp), as kernels/README.md says.
#pragma once

#include <cstdint>

#include "kernels/library_handles.hpp"

namespace twp::kernels {

enum class GemmMath {
    kFp32,  // pedantic FP32 (the default): what the CPU computes, up to summation order
    kTf32,  // TF32 tensor cores, FP32 accumulation (the emulation computes FP32 anyway)
};

// C[m, n] = alpha * op(A) * op(B) + beta * C, row-major: op(A) [m, k], op(B) [k, n]; lda, ldb, ldc
// are the row strides of A, B, C as stored (A is [k, m] when transpose_a).
void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha,
          const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
          int64_t ldc, const LibraryHandles& libraries, GemmMath math = GemmMath::kFp32);
// The same in double (cublasDgemm).
void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, double alpha,
          const double* a, int64_t lda, const double* b, int64_t ldb, double beta, double* c,
          int64_t ldc, const LibraryHandles& libraries);

// C[n, n] = alpha * A · Aᵀ + beta * C in double, row-major, A [n, k] with row stride lda: only the
// lower triangle of C (C[i, j], j <= i) is written and meaningful, as engine/blas.hpp's
// syrk_lower (cublasDsyrk on the column-major upper triangle, which is the same memory).
void syrk_lower(int64_t n, int64_t k, double alpha, const double* a, int64_t lda, double beta,
                double* c, int64_t ldc, const LibraryHandles& libraries);

}  // namespace twp::kernels
