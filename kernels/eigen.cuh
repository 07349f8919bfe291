// Dense double-precision eigensolver and SVD on the device, for PCA (engine/cuda_pca_solver.cpp):
// cuSOLVER under nvcc (cusolverDnDsyevd, cusolverDnDgesvd), LAPACK (engine/lapack.hpp: dsyevd,
// dgesvd) under the CUDA emulation, so the same calls, buffers and orderings run in the CPU
// tests, on the cuSOLVER handle of `libraries` (kernels/library_handles.hpp) and its stream.
// Row-major like the rest of twp; the column-major mapping is spelled out in eigen.cu.
// Every cuSOLVER call is checked, and so is its devInfo: both calls therefore wait for the stream
// (devInfo is copied to the host) and cannot be captured in a CUDA graph. Plain C++ declarations.
#pragma once

#include <cstdint>

#include "kernels/library_handles.hpp"

namespace twp::kernels {

// All eigenpairs of the symmetric a[n, n] (device, row-major; only the lower triangle is read):
// eigenvalues[n] (device) in ascending order, and a overwritten with the eigenvectors, row i the
// unit eigenvector of eigenvalues[i]. Divide and conquer (cusolverDnDsyevd), FP64.
void symmetric_eigen_all(int64_t n, double* a, double* eigenvalues, const LibraryHandles& libraries);

// Thin SVD of the column-major a[m, n] (device, m >= n, leading dimension lda >= m): the n
// singular values (device) in decreasing order and the left singular vectors u[m, n]
// (column-major, leading dimension ldu >= m); a is destroyed. cusolverDnDgesvd, jobu 'S', jobvt
// 'N'. A row-major [n, m] array is the column-major [m, n] one, so for centered snapshots
// Xc [n, d] the rows of u (read row-major [n, d]) are the principal axes.
void svd_left(int64_t m, int64_t n, double* a, int64_t lda, double* singular_values, double* u,
              int64_t ldu, const LibraryHandles& libraries);

}  // namespace twp::kernels
