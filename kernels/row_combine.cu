// row_combine kernels (kernels/row_combine.cuh).
//
// Forward, and the backward's dx and dy: grid-stride loops, one element per thread per step; every
// product and the sum rounded on its own (__fmul_rn, __fadd_rn: nvcc would otherwise fuse them
// into an FMA), as the CPU computes them with contraction off: the same bits.
//
// The backward's da and dc: one block of 256 threads per row (blocks stride over the rows); thread
// t sums dout . x and dout . y over columns t, t + 256, ... in double, then a tree over shared
// memory halves the partials to one. A fixed order, no atomics: the same bits every run, and equal
// to the CPU's double sum to float rounding.
#include "kernels/cuda_compat.hpp"
#include "kernels/launch.hpp"
#include "kernels/grid.hpp"

#include <algorithm>

#include "engine/op_checks.hpp"
#include "kernels/row_combine.cuh"

namespace twp::kernels {
namespace {

constexpr int kBlock = kElementwiseBlock;
constexpr int kSumBlock = 256;  // a power of two, for the tree
constexpr int64_t kMaxRowBlocks = 4096;

__global__ void row_combine_forward_kernel(const float* a /* [rows] */, const float* x /* [rows, width] */,
                                           const float* c /* [rows] */, const float* y /* [rows, width] */,
                                           float* out /* [rows, width], may alias x or y */, int64_t rows,
                                           int64_t width) {
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < rows * width; e += stride) {
        const int64_t r = e / width;
        out[e] = __fadd_rn(__fmul_rn(a[r], x[e]), __fmul_rn(c[r], y[e]));
    }
}

__global__ void row_combine_input_gradients_kernel(const float* __restrict__ a /* [rows] */,
                                                   const float* __restrict__ c /* [rows] */,
                                                   const float* __restrict__ dout /* [rows, width] */,
                                                   float* __restrict__ dx /* [rows, width] or null */,
                                                   float* __restrict__ dy /* [rows, width] or null */,
                                                   int64_t rows, int64_t width) {
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < rows * width; e += stride) {
        const int64_t r = e / width;
        if (dx) dx[e] = __fmul_rn(a[r], dout[e]);
        if (dy) dy[e] = __fmul_rn(c[r], dout[e]);
    }
}

__global__ void row_combine_coefficient_gradients_kernel(const float* __restrict__ x /* [rows, width] */,
                                                         const float* __restrict__ y /* [rows, width] */,
                                                         const float* __restrict__ dout /* [rows, width] */,
                                                         float* __restrict__ da /* [rows] or null */,
                                                         float* __restrict__ dc /* [rows] or null */,
                                                         int64_t rows, int64_t width) {
    __shared__ double partial_x[kSumBlock], partial_y[kSumBlock];
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        double sum_x = 0, sum_y = 0;
        for (int64_t j = threadIdx.x; j < width; j += kSumBlock) {
            const double g = dout[r * width + j];
            sum_x += g * double(x[r * width + j]);
            sum_y += g * double(y[r * width + j]);
        }
        partial_x[threadIdx.x] = sum_x;
        partial_y[threadIdx.x] = sum_y;
        for (int half = kSumBlock / 2; half > 0; half /= 2) {
            __syncthreads();  // the partials of the previous level are written before they are read
            if (int(threadIdx.x) < half) {
                partial_x[threadIdx.x] += partial_x[threadIdx.x + half];
                partial_y[threadIdx.x] += partial_y[threadIdx.x + half];
            }
        }
        if (threadIdx.x == 0) {
            if (da) da[r] = float(partial_x[0]);
            if (dc) dc[r] = float(partial_y[0]);
        }
        __syncthreads();  // thread 0 has read the sums before the next row's partials overwrite them
    }
}

}  // namespace

void row_combine_forward(Tensor a, Tensor x, Tensor c, Tensor y, Tensor out, Stream stream) {
    const int64_t width = checks::row_combine(a, x, c, y, out, "row_combine_forward");
    const int64_t rows = x.dim(0);
    if (rows * width == 0) return;
    launch("row_combine_forward", row_combine_forward_kernel, dim3(elementwise_grid(rows * width)), dim3(kBlock), 0,
           stream, static_cast<const float*>(a.data), static_cast<const float*>(x.data),
           static_cast<const float*>(c.data), static_cast<const float*>(y.data), out.data, rows, width);
}

void row_combine_backward(Tensor a, Tensor x, Tensor c, Tensor y, Tensor dout, Tensor dx, Tensor dy, Tensor da,
                          Tensor dc, Stream stream) {
    const int64_t width = checks::row_combine(a, x, c, y, dout, "row_combine_backward");
    checks::row_combine_gradients(a, x, dx, dy, da, dc);
    const int64_t rows = x.dim(0);
    if (rows == 0) return;
    if ((!dx.empty() || !dy.empty()) && width > 0)
        launch("row_combine_backward", row_combine_input_gradients_kernel, dim3(elementwise_grid(rows * width)),
               dim3(kBlock), 0, stream, static_cast<const float*>(a.data), static_cast<const float*>(c.data),
               static_cast<const float*>(dout.data), dx.data, dy.data, rows, width);
    if (!da.empty() || !dc.empty())
        launch("row_combine_backward", row_combine_coefficient_gradients_kernel,
               dim3(unsigned(std::min(rows, kMaxRowBlocks))), dim3(kSumBlock), 0, stream,
               static_cast<const float*>(x.data), static_cast<const float*>(y.data),
               static_cast<const float*>(dout.data), da.data, dc.data, rows, width);
}

}  // namespace twp::kernels
