// LAPACK through LAPACKE (Debian's liblapacke over OpenBLAS's LAPACK): the symmetric
// eigensolver and the Cholesky factorization PCA needs, in double, on row-major arrays. The one
// place where LAPACK argument order and the row-/column-major mapping are spelled out.
//
// A symmetric row-major matrix's lower triangle is, read column-major, the upper triangle of the
// same matrix, so both calls pass the row-major buffer as column-major 'U' and LAPACKE makes no
// transposed copy (which would be 200 MB for PCA's 5000 x 5000 Gram matrix).
#pragma once

#include <cstdint>

namespace twp::lapack {

// The `count` largest eigenpairs of the symmetric a[n, n] (row-major; only the lower triangle,
// a[i, j] with j <= i, is read; a is destroyed), by LAPACK's dsyevr (MRRR, computing only the
// eigenvectors asked for). eigenvalues[count] come out in decreasing order; eigenvectors[count, n]
// row i is the unit eigenvector of eigenvalues[i]. 1 <= count <= n. Throws twp::Error when LAPACK
// reports a failure.
void symmetric_eigen_largest(int64_t n, double* a, int64_t count, double* eigenvalues,
                             double* eigenvectors);

// Cholesky factorization in place: a[n, n] (row-major, symmetric, lower triangle read) becomes the
// lower-triangular l with a = l · lᵀ; the strict upper triangle is left as it was. Returns false,
// without throwing, when a is not (numerically) positive definite.
bool cholesky_lower(int64_t n, double* a);

}  // namespace twp::lapack
