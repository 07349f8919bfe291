// LAPACKE calls for engine/lapack.hpp. Sizes are checked to fit lapack_int before each call.
#include "engine/lapack.hpp"

#include <lapacke.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "engine/error.hpp"

namespace twp::lapack {
namespace {

lapack_int to_lapack_int(int64_t value, const char* what) {
    TWP_CHECK(value >= 0 && value <= std::numeric_limits<lapack_int>::max(),
              "LAPACK " << what << " = " << value << " does not fit a LAPACK int");
    return static_cast<lapack_int>(value);
}

}  // namespace

void symmetric_eigen_largest(int64_t n, double* a, int64_t count, double* eigenvalues,
                             double* eigenvectors) {
    TWP_CHECK(n >= 1 && count >= 1 && count <= n,
              "symmetric_eigen_largest: count " << count << " must be in 1.." << n);
    const lapack_int size = to_lapack_int(n, "n");
    const lapack_int first = size - to_lapack_int(count, "count") + 1;  // 1-based, ascending order
    lapack_int found = 0;
    std::vector<double> ascending(n);
    std::vector<lapack_int> support(2 * count);
    // Column-major z[n, count] is row-major [count, n]: eigenvector j is contiguous.
    const lapack_int info = LAPACKE_dsyevr(
        LAPACK_COL_MAJOR, 'V', 'I', 'U', size, a, size, 0.0, 0.0, first, size,
        LAPACKE_dlamch('S'), &found, ascending.data(), eigenvectors, size, support.data());
    TWP_CHECK(info == 0, "LAPACKE_dsyevr on a " << n << " x " << n << " matrix failed with info "
                                                << info << " (< 0: bad argument; > 0: internal "
                                                   "error); check the input for NaN or Inf");
    TWP_CHECK(found == count, "LAPACKE_dsyevr returned " << found << " eigenpairs, asked for "
                                                         << count);
    // LAPACK returns them in ascending order; we want the largest first.
    for (int64_t i = 0; i < count; ++i) eigenvalues[i] = ascending[count - 1 - i];
    for (int64_t i = 0; i < count / 2; ++i)
        std::swap_ranges(eigenvectors + i * n, eigenvectors + (i + 1) * n,
                         eigenvectors + (count - 1 - i) * n);
}

void symmetric_eigen_all(int64_t n, double* a, double* eigenvalues) {
    TWP_CHECK(n >= 1, "symmetric_eigen_all: empty " << n << " x " << n << " matrix");
    const lapack_int size = to_lapack_int(n, "n");
    // Column-major 'U' is the row-major lower triangle; the eigenvectors come back as columns of
    // the column-major matrix, which are the rows of the row-major one.
    const lapack_int info = LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'V', 'U', size, a, size, eigenvalues);
    TWP_CHECK(info == 0, "LAPACKE_dsyevd on a " << n << " x " << n << " matrix failed with info "
                                                << info << " (< 0: bad argument; > 0: did not "
                                                   "converge); check the input for NaN or Inf");
}

void svd_left(int64_t m, int64_t n, double* a, int64_t lda, double* singular_values, double* u,
              int64_t ldu) {
    TWP_CHECK(n >= 1 && m >= n && lda >= m && ldu >= m,
              "svd_left: needs m >= n >= 1, lda >= m, ldu >= m; got m " << m << ", n " << n
                                                                        << ", lda " << lda << ", ldu " << ldu);
    std::vector<double> superb(std::max<int64_t>(n - 1, 1));
    double vt = 0;  // not referenced with jobvt 'N'
    const lapack_int info = LAPACKE_dgesvd(LAPACK_COL_MAJOR, 'S', 'N', to_lapack_int(m, "m"),
                                           to_lapack_int(n, "n"), a, to_lapack_int(lda, "lda"),
                                           singular_values, u, to_lapack_int(ldu, "ldu"), &vt, 1,
                                           superb.data());
    TWP_CHECK(info == 0, "LAPACKE_dgesvd on a " << m << " x " << n << " matrix failed with info "
                                                << info << " (< 0: bad argument; > 0: did not "
                                                   "converge)");
}

bool cholesky_lower(int64_t n, double* a) {
    const lapack_int size = to_lapack_int(n, "n");
    // Column-major 'U' gives u with a = uᵀu; read row-major, u is l = uᵀ, lower triangular.
    const lapack_int info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'U', size, a, size);
    TWP_CHECK(info >= 0, "LAPACKE_dpotrf: bad argument " << -info);
    return info == 0;
}

}  // namespace twp::lapack
