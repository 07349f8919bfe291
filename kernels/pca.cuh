// The elementwise and reduction kernels of PCA on the device (engine/cuda_pca_solver.cpp), around
// the cuBLAS products (kernels/gemm.cuh: DSYRK, DGEMM) and the cuSOLVER eigensolver
// (kernels/eigen.cuh). All arrays are device memory, row-major; snapshots and the basis are float,
// everything computed is double (fp32 squaring would lose the small components).
// Plain C++ declarations.
#pragma once

#include <cstdint>

#include "kernels/stream.hpp"

namespace twp::kernels {

// mean[d] = column means of x[n, d], summed in double row by row (the CPU fit's order, so the
// same bits: one thread per column).
void pca_column_means(const float* x, int64_t n, int64_t d, double* mean, Stream stream);

// block[rows, width] = x[:, c0 : c0 + width] - mean[c0 : c0 + width], in double; x is
// [rows, d] float; mean [d] double, or nullptr for a plain conversion to double. The centering
// kernel of the fit (one column block at a time) and of transform.
void pca_center_columns(const float* x, int64_t rows, int64_t d, int64_t c0, int64_t width,
                        const double* mean, double* block, Stream stream);

// x[:, c0 : c0 + width] = float(block[rows, width] + mean[c0 : c0 + width]); x is [rows, d];
// mean [d], or nullptr for a plain rounding to float. Stores components and reconstructions.
void pca_store_columns(const double* block, int64_t rows, int64_t width, const double* mean,
                       float* x, int64_t d, int64_t c0, Stream stream);

// trace[1] = sum of the diagonal of a[n, n] (one block, fixed order: the same bits every run).
void pca_trace(const double* a, int64_t n, double* trace, Stream stream);

// From the ascending eigenpairs of an n x n Gram matrix (eigenvectors[n, n], row i the unit
// eigenvector of eigenvalues[i], as kernels::symmetric_eigen_all leaves them): the `rank` largest,
// largest first, each divided by its sigma = sqrt(eigenvalue):
//   scaled[i, :] = eigenvectors[n - 1 - i, :] / sqrt(eigenvalues[n - 1 - i]),  i < rank.
// The caller keeps only eigenvalues > 0 (1 <= rank <= n). scaled is [rank, n].
void pca_scaled_top_eigenvectors(const double* eigenvectors, const double* eigenvalues, int64_t n,
                                 int64_t rank, double* scaled, Stream stream);

}  // namespace twp::kernels
