// CBLAS calls for engine/blas.hpp. Sizes are checked to fit CBLAS's int before the call.
#include "engine/blas.hpp"

#include <cblas.h>

#include <limits>

#include "engine/error.hpp"

namespace twp::blas {
namespace {

int to_blas_int(int64_t value, const char* what) {
    TWP_CHECK(value >= 0 && value <= std::numeric_limits<int>::max(),
              "GEMM " << what << " = " << value << " does not fit a BLAS int");
    return static_cast<int>(value);
}

}  // namespace

void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha,
          const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
          int64_t ldc) {
    cblas_sgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans,
                transpose_b ? CblasTrans : CblasNoTrans, to_blas_int(m, "m"), to_blas_int(n, "n"),
                to_blas_int(k, "k"), alpha, a, to_blas_int(lda, "lda"), b, to_blas_int(ldb, "ldb"),
                beta, c, to_blas_int(ldc, "ldc"));
}

void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, double alpha,
          const double* a, int64_t lda, const double* b, int64_t ldb, double beta, double* c,
          int64_t ldc) {
    cblas_dgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans,
                transpose_b ? CblasTrans : CblasNoTrans, to_blas_int(m, "m"), to_blas_int(n, "n"),
                to_blas_int(k, "k"), alpha, a, to_blas_int(lda, "lda"), b, to_blas_int(ldb, "ldb"),
                beta, c, to_blas_int(ldc, "ldc"));
}

void syrk_lower(int64_t n, int64_t k, double alpha, const double* a, int64_t lda, double beta,
                double* c, int64_t ldc) {
    cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, to_blas_int(n, "n"), to_blas_int(k, "k"),
                alpha, a, to_blas_int(lda, "lda"), beta, c, to_blas_int(ldc, "ldc"));
}

void solve_lower(int64_t m, int64_t n, const double* l, int64_t ldl, double* b, int64_t ldb) {
    cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit,
                to_blas_int(m, "m"), to_blas_int(n, "n"), 1.0, l, to_blas_int(ldl, "ldl"), b,
                to_blas_int(ldb, "ldb"));
}

void use_single_threaded_blas() { openblas_set_num_threads(1); }

void set_blas_threads(int threads) { openblas_set_num_threads(threads); }

int blas_threads() { return openblas_get_num_threads(); }

const char* blas_description() { return openblas_get_config(); }

}  // namespace twp::blas
