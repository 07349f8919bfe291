// Row-major single-precision GEMM on the device, for the layers whose products are plain matrix
// products (LeNet-5's fully connected layers; the transformer's projections later). Plain C++:
// callers need no CUDA header. Row-major is handled here, once: cuBLAS is column-major, and a
// row-major C = op(A) op(B) is the column-major C^T = op(B)^T op(A)^T, so the operands are swapped
// rather than transposed. Under nvcc it is cublasSgemm on the given stream (FP32 math: TF32 tensor
// cores are never enabled here, so the GPU agrees with the CPU in fp32); under the CUDA emulation
// it is the CPU BLAS (engine/blas.hpp), as kernels/README.md says. TF32 tensor-core math is an
// opt-in per call (twp --tf32): about 8x the FP32 rate on an H200, with 10-bit mantissas in the
// products, so the GPU then no longer agrees with the CPU to fp32 rounding.
#pragma once

#include <cstdint>

#include "kernels/stream.hpp"

namespace twp::kernels {

enum class GemmMath {
    kFp32,  // pedantic FP32 (the default): what the CPU computes, up to summation order
    kTf32,  // TF32 tensor cores, FP32 accumulation (the emulation computes FP32 anyway)
};

// C[m, n] = alpha * op(A) * op(B) + beta * C, row-major: op(A) [m, k], op(B) [k, n]; lda, ldb, ldc
// are the row strides of A, B, C as stored (A is [k, m] when transpose_a).
void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha,
          const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
          int64_t ldc, Stream stream, GemmMath math = GemmMath::kFp32);

}  // namespace twp::kernels
