// Elementwise additions (kernels/add.cuh): grid-stride loops, one element per thread per step;
// memory-bound, nothing staged. add_row_broadcast takes the row's entry by the element's column
// (i % width); the row (a few thousand floats at most) stays in cache. No __restrict__ on the
// pointers: the output may alias an input, which is harmless because each element is read and
// written by the same thread.
#include "kernels/cuda_compat.hpp"
#include "kernels/launch.hpp"
#include "kernels/grid.hpp"

#include "engine/op_checks.hpp"
#include "kernels/add.cuh"

namespace twp::kernels {
namespace {

constexpr int kBlock = kElementwiseBlock;

__global__ void add_kernel(const float* a /* [count] */, const float* b /* [count] */,
                           float* y /* [count] */, int64_t count) {
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride)
        y[i] = a[i] + b[i];
}

__global__ void add_row_broadcast_kernel(const float* x /* [count / width, width] */,
                                         const float* row /* [width] */,
                                         float* y /* [count / width, width] */, int64_t count,
                                         int64_t width) {
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride)
        y[i] = x[i] + row[i % width];
}

}  // namespace

void add(Tensor a, Tensor b, Tensor y, Stream stream) {
    checks::add(a, b, y);
    const int64_t count = a.numel();
    if (count == 0) return;
    launch("add", add_kernel, dim3(elementwise_grid(count)), dim3(kBlock), 0, stream,
           static_cast<const float*>(a.data), static_cast<const float*>(b.data), y.data, count);
}

void add_row_broadcast(Tensor x, Tensor row, Tensor y, Stream stream) {
    checks::row_broadcast(x, row, y);
    const int64_t count = x.numel();
    if (count == 0) return;
    launch("add_row_broadcast", add_row_broadcast_kernel, dim3(elementwise_grid(count)),
           dim3(kBlock), 0, stream, static_cast<const float*>(x.data),
           static_cast<const float*>(row.data), y.data, count, row.numel());
}

}  // namespace twp::kernels
