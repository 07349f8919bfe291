// normal_fill kernel (kernels/normal_fill.cuh): a grid-stride loop, element i drawn from its own
// Philox counter (offset + i) by the very function the CPU runs (engine/random.hpp, host and
// device), so the draws do not depend on the launch geometry.
#include "kernels/cuda_compat.hpp"
#include "kernels/launch.hpp"
#include "kernels/grid.hpp"

#include "engine/random.hpp"
#include "kernels/normal_fill.cuh"

namespace twp::kernels {
namespace {

constexpr int kBlock = kElementwiseBlock;

__global__ void normal_fill_kernel(float* __restrict__ x /* [count] */, int64_t count, uint64_t seed,
                                   uint64_t offset) {
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride)
        x[i] = standard_normal(seed, offset + uint64_t(i));
}

}  // namespace

void normal_fill(Tensor x, uint64_t seed, uint64_t offset, Stream stream) {
    const int64_t count = x.numel();
    if (count == 0) return;
    launch("normal_fill", normal_fill_kernel, dim3(elementwise_grid(count)), dim3(kBlock), 0, stream, x.data, count,
           seed, offset);
}

}  // namespace twp::kernels
