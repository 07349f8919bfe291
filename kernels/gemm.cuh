// Row-major single-precision GEMM on the device, for the layers whose products are plain matrix
// products (LeNet-5's fully connected layers; the transformer's projections later). Plain C++:
// callers need no CUDA header. Row-major is handled here, once: cuBLAS is column-major, and a
// row-major C = op(A) op(B) is the column-major C^T = op(B)^T op(A)^T, so the operands are swapped
// rather than transposed. Under nvcc it is cublasSgemm on the given stream (FP32 math: TF32 tensor
// cores are never enabled here, so the GPU agrees with the CPU in fp32); under the CUDA emulation
// it is the CPU BLAS (engine/blas.hpp), as kernels/README.md says.
#pragma once

#include <cstdint>

#include "kernels/stream.hpp"

namespace twp::kernels {

// C[m, n] = alpha * op(A) * op(B) + beta * C, row-major: op(A) [m, k], op(B) [k, n]; lda, ldb, ldc
// are the row strides of A, B, C as stored (A is [k, m] when transpose_a).
void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha,
          const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
          int64_t ldc, Stream stream);

}  // namespace twp::kernels
