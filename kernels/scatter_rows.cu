// scatter_rows kernel (kernels/scatter_rows.cuh): a grid-stride loop over the B x row_size source
// elements, one per thread per step; element e belongs to source row i = e / row_size, which goes
// to dst row rows[i] at the same column. Consecutive threads copy consecutive floats of a row, so
// reads and writes are coalesced. An index outside dst is skipped, never written out of bounds.
#include "kernels/cuda_compat.hpp"
#include "kernels/launch.hpp"
#include "kernels/grid.hpp"

#include "engine/op_checks.hpp"
#include "kernels/scatter_rows.cuh"

namespace twp::kernels {
namespace {

constexpr int kBlock = kElementwiseBlock;

__global__ void scatter_rows_kernel(const float* __restrict__ src /* [count, row_size] */,
                                    const int32_t* __restrict__ rows /* [count] */,
                                    float* __restrict__ dst /* [dst_rows, row_size] */,
                                    int64_t count, int64_t row_size, int64_t dst_rows) {
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    const int64_t total = count * row_size;
    for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += stride) {
        const int64_t i = e / row_size, column = e - i * row_size;
        const int64_t r = rows[i];
        if (r >= 0 && r < dst_rows) dst[r * row_size + column] = src[e];
    }
}

}  // namespace

void scatter_rows(Tensor src, IndexTensor rows, Tensor dst, Stream stream) {
    const int64_t row_size = checks::scatter_rows(src, rows, dst);
    const int64_t count = rows.numel(), total = count * row_size;
    if (total == 0) return;
    launch("scatter_rows", scatter_rows_kernel, dim3(elementwise_grid(total)), dim3(kBlock), 0,
           stream, static_cast<const float*>(src.data), static_cast<const int32_t*>(rows.data),
           dst.data, count, row_size, dst.dim(0));
}

}  // namespace twp::kernels
