// bias_activation: a grid-stride loop over y, one element per thread per step; the bias index is
// the element's column (i % C), and the bias vector (at most a few hundred floats) stays in cache.
//
// bias_gradient: one block per group of 32 columns, blockDim (32, 8). Lane x owns column
// 32 * blockIdx.x + x (consecutive lanes read consecutive addresses of a row: coalesced); the 8
// rows of threads (threadIdx.y) split the rows r = y, y + 8, y + 16, ... and each sums its share
// in order; then thread (x, 0) adds the 8 partial sums in order y = 0..7. Every sum has a fixed
// order whatever the scheduling, so the result is the same bits run to run, with no atomics.
#include "kernels/cuda_compat.hpp"
#include "kernels/launch.hpp"
#include "kernels/grid.hpp"

#include <algorithm>

#include "engine/op_checks.hpp"
#include "kernels/bias.cuh"

namespace twp::kernels {
namespace {

constexpr int kBlock = kElementwiseBlock;
constexpr int kColumnsPerBlock = 32;  // one warp across the columns
constexpr int kRowSlices = 8;         // warps down the rows

__global__ void bias_activation_kernel(float* __restrict__ y /* [rows * columns] */,
                                       const float* __restrict__ b /* [columns] */,
                                       int64_t count, int64_t columns, bool relu) {
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
        const float v = y[i] + b[i % columns];
        y[i] = (!relu || v > 0.0f || v != v) ? v : 0.0f;
    }
}

__global__ void bias_gradient_kernel(const float* __restrict__ dy /* [rows, columns] */,
                                     float* __restrict__ db /* [columns] */, int64_t rows,
                                     int64_t columns) {
    __shared__ float partial[kRowSlices][kColumnsPerBlock];
    const int64_t column = int64_t(blockIdx.x) * kColumnsPerBlock + threadIdx.x;
    float sum = 0.0f;
    if (column < columns)
        for (int64_t r = threadIdx.y; r < rows; r += kRowSlices) sum += dy[r * columns + column];
    partial[threadIdx.y][threadIdx.x] = sum;
    __syncthreads();  // every slice's partial is in shared memory before row 0 adds them
    if (threadIdx.y == 0 && column < columns) {
        float total = partial[0][threadIdx.x];
        for (int s = 1; s < kRowSlices; ++s) total += partial[s][threadIdx.x];
        db[column] = total;
    }
}

}  // namespace

void bias_activation(Tensor y, Tensor b, Activation activation, Stream stream) {
    checks::row_broadcast(y, b, y);
    const int64_t count = y.numel();
    if (count == 0) return;
    const unsigned blocks = elementwise_grid(count);
    launch("bias_activation", bias_activation_kernel, dim3(blocks), dim3(kBlock), 0, stream,
           y.data, static_cast<const float*>(b.data), count, b.numel(),
           activation == Activation::kRelu);
}

void bias_gradient(Tensor dy, Tensor db, Stream stream) {
    const int64_t rows = checks::row_broadcast(dy, db, dy);
    const int64_t columns = db.numel();
    const unsigned blocks = unsigned((columns + kColumnsPerBlock - 1) / kColumnsPerBlock);
    launch("bias_gradient", bias_gradient_kernel, dim3(blocks), dim3(kColumnsPerBlock, kRowSlices),
           0, stream, static_cast<const float*>(dy.data), db.data, rows, columns);
}

}  // namespace twp::kernels
