// Row-major GEMM on the CPU through OpenBLAS's CBLAS, in float and double (the double version
// serves the gradient checks), and the double SYRK and triangular solve of PCA (engine/pca.cpp).
// The one place where BLAS argument order is spelled out.
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

// c[n, n] = alpha * a · aᵀ + beta * c in double, row-major; a is [n, k] with row stride lda. Only the
// lower triangle of c (c[i, j], j <= i) is written and meaningful: PCA's Gram matrix.
void syrk_lower(int64_t n, int64_t k, double alpha, const double* a, int64_t lda, double beta,
                double* c, int64_t ldc);
// b[m, n] = l⁻¹ · b in double, row-major; l is [m, m] lower triangular (the upper part is not read).
void solve_lower(int64_t m, int64_t n, const double* l, int64_t ldl, double* b, int64_t ldb);

// Our own OpenMP loops parallelize over images; OpenBLAS's threads would fight them for the two
// cores, so they are pinned to one. Returns a description for logs ("OpenBLAS 0.3.21 ...").
void use_single_threaded_blas();
// The opposite, for work that is one big BLAS call after another (PCA): `threads` OpenBLAS threads.
void set_blas_threads(int threads);
int blas_threads();

// OpenBLAS threads raised for one scope (a run of big serial BLAS calls such as a PCA fit), and
// put back as they were after it.
class ScopedBlasThreads {
public:
    explicit ScopedBlasThreads(int threads) : previous_(blas_threads()) { set_blas_threads(threads); }
    ~ScopedBlasThreads() { set_blas_threads(previous_); }
    ScopedBlasThreads(const ScopedBlasThreads&) = delete;
    ScopedBlasThreads& operator=(const ScopedBlasThreads&) = delete;

private:
    int previous_;
};
const char* blas_description();

}  // namespace twp::blas
