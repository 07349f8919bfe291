// ReLU forward and backward: grid-stride loops, one element per thread per step. Elementwise and
// memory-bound, so nothing is staged in shared memory; the grid is capped so that large tensors
// reuse resident threads. No __restrict__ on the pointers: the output may alias an input, which is
// harmless here because each element is read and written by the same thread.
#include "kernels/cuda_compat.hpp"
#include "kernels/launch.hpp"
#include "kernels/grid.hpp"

#include <algorithm>

#include "engine/op_checks.hpp"
#include "kernels/relu.cuh"

namespace twp::kernels {
namespace {

constexpr int kBlock = kElementwiseBlock;

__global__ void relu_forward_kernel(const float* x /* [count] */, float* y /* [count] */,
                                    int64_t count) {
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
        const float v = x[i];
        y[i] = (v > 0.0f || v != v) ? v : 0.0f;  // v != v: NaN propagates
    }
}

__global__ void relu_backward_kernel(const float* y /* [count] */, const float* dy /* [count] */,
                                     float* dx /* [count] */, int64_t count) {
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride)
        dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

}  // namespace

void relu_forward(Tensor x, Tensor y, Stream stream) {
    checks::same_size(x, y, "relu_forward");
    const int64_t count = x.numel();
    if (count == 0) return;
    launch("relu_forward", relu_forward_kernel, dim3(elementwise_grid(count)), dim3(kBlock), 0, stream,
           static_cast<const float*>(x.data), y.data, count);
}

void relu_backward(Tensor y, Tensor dy, Tensor dx, Stream stream) {
    checks::relu_backward(y, dy, dx);
    const int64_t count = y.numel();
    if (count == 0) return;
    launch("relu_backward", relu_backward_kernel, dim3(elementwise_grid(count)), dim3(kBlock), 0, stream,
           static_cast<const float*>(y.data), static_cast<const float*>(dy.data), dx.data, count);
}

}  // namespace twp::kernels
