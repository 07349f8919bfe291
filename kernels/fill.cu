// fill: a grid-stride loop, one element per thread per step (a memory-bound store stream; the
// grid is capped so that a large tensor reuses resident threads instead of launching millions).
#include "kernels/cuda_compat.hpp"
#include "kernels/launch.hpp"
#include "kernels/grid.hpp"

#include <algorithm>

#include "kernels/fill.cuh"

namespace twp::kernels {
namespace {

constexpr int kBlock = kElementwiseBlock;

__global__ void fill_kernel(float* __restrict__ x /* [count] */, float value, int64_t count) {
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride)
        x[i] = value;
}

}  // namespace

void fill(Tensor x, float value, Stream stream) {
    const int64_t count = x.numel();
    if (count == 0) return;
    const int64_t blocks = elementwise_grid(count);
    launch("fill", fill_kernel, dim3(unsigned(blocks)), dim3(kBlock), 0, stream, x.data, value,
           count);
}

}  // namespace twp::kernels
