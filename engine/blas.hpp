// Row-major GEMM on the CPU through OpenBLAS's CBLAS, in float and double (the double version
// serves the gradient checks). The one place where BLAS argument order is spelled out.
#pragma once

#include <cstdint>

namespace twp::blas {

// c[m, n] = alpha * op(a) · op(b) + beta * c, all row-major; op(a) is [m, k], op(b) is [k, n].
// lda/ldb/ldc are the row strides of a, b, c as stored (before op).
void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha,
          const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
          int64_t ldc);
void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, double alpha,
          const double* a, int64_t lda, const double* b, int64_t ldb, double beta, double* c,
          int64_t ldc);

// Our own OpenMP loops parallelize over images; OpenBLAS's threads would fight them for the two
// cores, so they are pinned to one. Returns a description for logs ("OpenBLAS 0.3.21 ...").
void use_single_threaded_blas();
const char* blas_description();

}  // namespace twp::blas
