// LAPACK through LAPACKE (Debian's liblapacke over OpenBLAS's LAPACK): the symmetric
// eigensolvers, the SVD and the Cholesky factorization PCA needs, in double, on row-major arrays. The one
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

// All eigenpairs of the symmetric a[n, n] (row-major; only the lower triangle is read) by LAPACK's
// dsyevd (divide and conquer): the CPU twin of cusolverDnDsyevd, which kernels/eigen.cu calls on
// a GPU and this under the CUDA emulation. eigenvalues[n] come out in ascending order (as LAPACK
// and cuSOLVER return them) and a is overwritten with the eigenvectors: row i is the unit
// eigenvector of eigenvalues[i]. Throws twp::Error when LAPACK reports a failure.
void symmetric_eigen_all(int64_t n, double* a, double* eigenvalues);

// Thin SVD of the column-major a[m, n] (m >= n, leading dimension lda >= m) by dgesvd: the n
// singular values in decreasing order and the left singular vectors u[m, n] (column-major,
// leading dimension ldu >= m); a is destroyed. The CPU twin of cusolverDnDgesvd with jobu 'S',
// jobvt 'N' (kernels/eigen.cu, for the PCA benchmark's comparison).
void svd_left(int64_t m, int64_t n, double* a, int64_t lda, double* singular_values, double* u,
              int64_t ldu);

// Cholesky factorization in place: a[n, n] (row-major, symmetric, lower triangle read) becomes the
// lower-triangular l with a = l · lᵀ; the strict upper triangle is left as it was. Returns false,
// without throwing, when a is not (numerically) positive definite.
bool cholesky_lower(int64_t n, double* a);

}  // namespace twp::lapack
