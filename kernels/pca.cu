// kernels/pca.cuh. Memory-bound helpers, each a grid-stride loop of kElementwiseBlock threads,
// except the column means (a thread per column walks down the rows: consecutive threads read
// consecutive floats, and each column's sum keeps the CPU's order) and the trace (one block and a
// fixed tree, as kernels/reduce_sum.cu). Shapes are checked here, on the host.
#include "kernels/cuda_compat.hpp"
#include "kernels/launch.hpp"
#include "kernels/grid.hpp"

#include "engine/error.hpp"
#include "kernels/pca.cuh"

namespace twp::kernels {
namespace {

constexpr int kBlock = kElementwiseBlock;
constexpr int kTraceBlock = 256;  // a power of two, for the tree

__global__ void column_means_kernel(const float* __restrict__ x /* [n, d] */, int64_t n, int64_t d,
                                    double* __restrict__ mean /* [d] */) {
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    for (int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < d; j += stride) {
        double sum = 0;
        for (int64_t i = 0; i < n; ++i) sum += double(x[i * d + j]);
        mean[j] = sum / double(n);
    }
}

__global__ void center_columns_kernel(const float* __restrict__ x /* [rows, d] */, int64_t rows,
                                      int64_t d, int64_t c0, int64_t width,
                                      const double* __restrict__ mean /* [d] or null */,
                                      double* __restrict__ block /* [rows, width] */) {
    const int64_t count = rows * width, stride = int64_t(gridDim.x) * blockDim.x;
    for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < count; e += stride) {
        const int64_t i = e / width, j = e % width;
        const double value = double(x[i * d + c0 + j]);
        block[e] = mean ? value - mean[c0 + j] : value;
    }
}

__global__ void store_columns_kernel(const double* __restrict__ block /* [rows, width] */,
                                     int64_t rows, int64_t width,
                                     const double* __restrict__ mean /* [d] or null */,
                                     float* __restrict__ x /* [rows, d] */, int64_t d, int64_t c0) {
    const int64_t count = rows * width, stride = int64_t(gridDim.x) * blockDim.x;
    for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < count; e += stride) {
        const int64_t i = e / width, j = e % width;
        x[i * d + c0 + j] = float(mean ? block[e] + mean[c0 + j] : block[e]);
    }
}

__global__ void trace_kernel(const double* __restrict__ a /* [n, n] */, int64_t n,
                             double* __restrict__ trace /* [1] */) {
    __shared__ double partial[kTraceBlock];
    double sum = 0;
    for (int64_t i = threadIdx.x; i < n; i += kTraceBlock) sum += a[i * n + i];
    partial[threadIdx.x] = sum;
    for (int half = kTraceBlock / 2; half > 0; half /= 2) {
        __syncthreads();  // the partials of the previous level are written before they are read
        if (int(threadIdx.x) < half) partial[threadIdx.x] += partial[threadIdx.x + half];
    }
    if (threadIdx.x == 0) trace[0] = partial[0];
}

__global__ void scaled_top_eigenvectors_kernel(const double* __restrict__ eigenvectors /* [n, n] */,
                                               const double* __restrict__ eigenvalues /* [n] */,
                                               int64_t n, int64_t rank,
                                               double* __restrict__ scaled /* [rank, n] */) {
    const int64_t count = rank * n, stride = int64_t(gridDim.x) * blockDim.x;
    for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < count; e += stride) {
        const int64_t i = e / n, s = e % n, source = n - 1 - i;
        // 1/sigma first, then the product: the CPU fit's two roundings (engine/pca.cpp).
        const double inverse_sigma = 1.0 / sqrt(eigenvalues[source]);
        scaled[e] = eigenvectors[source * n + s] * inverse_sigma;
    }
}

void check_columns(const char* op, int64_t rows, int64_t d, int64_t c0, int64_t width) {
    TWP_CHECK(rows >= 0 && d >= 0 && c0 >= 0 && width >= 0 && c0 + width <= d,
              op << ": columns " << c0 << " .. " << c0 + width - 1 << " of " << rows << " x " << d
                 << " do not fit (negative size, or past the last column)");
}

}  // namespace

void pca_column_means(const float* x, int64_t n, int64_t d, double* mean, Stream stream) {
    TWP_CHECK(n >= 1 && d >= 0, "pca_column_means: needs at least one row, got " << n << " x " << d);
    launch("pca_column_means", column_means_kernel, dim3(elementwise_grid(d)), dim3(kBlock), 0, stream, x, n, d,
           mean);
}

void pca_center_columns(const float* x, int64_t rows, int64_t d, int64_t c0, int64_t width,
                        const double* mean, double* block, Stream stream) {
    check_columns("pca_center_columns", rows, d, c0, width);
    launch("pca_center_columns", center_columns_kernel, dim3(elementwise_grid(rows * width)), dim3(kBlock), 0,
           stream, x, rows, d, c0, width, mean, block);
}

void pca_store_columns(const double* block, int64_t rows, int64_t width, const double* mean,
                       float* x, int64_t d, int64_t c0, Stream stream) {
    check_columns("pca_store_columns", rows, d, c0, width);
    launch("pca_store_columns", store_columns_kernel, dim3(elementwise_grid(rows * width)), dim3(kBlock), 0,
           stream, block, rows, width, mean, x, d, c0);
}

void pca_trace(const double* a, int64_t n, double* trace, Stream stream) {
    TWP_CHECK(n >= 0, "pca_trace: negative size " << n);
    launch("pca_trace", trace_kernel, dim3(1), dim3(kTraceBlock), 0, stream, a, n, trace);
}

void pca_scaled_top_eigenvectors(const double* eigenvectors, const double* eigenvalues, int64_t n,
                                 int64_t rank, double* scaled, Stream stream) {
    TWP_CHECK(rank >= 1 && rank <= n,
              "pca_scaled_top_eigenvectors: rank " << rank << " must be in 1.." << n);
    launch("pca_scaled_top_eigenvectors", scaled_top_eigenvectors_kernel, dim3(elementwise_grid(rank * n)),
           dim3(kBlock), 0, stream, eigenvectors, eigenvalues, n, rank, scaled);
}

}  // namespace twp::kernels
