// Gathers: grid-stride loops over the destination, one element per thread per step. For
// gather_rows, consecutive threads copy consecutive floats of a row (MNIST rows are 784 floats),
// so reads and writes coalesce; the row index is read once per element but it is the same for a
// whole warp almost always, so it is one cached load.
#include "kernels/cuda_compat.hpp"
#include "kernels/launch.hpp"
#include "kernels/grid.hpp"

#include <algorithm>
#include <cmath>

#include "engine/op_checks.hpp"
#include "kernels/gather.cuh"

namespace twp::kernels {
namespace {

constexpr int kBlock = kElementwiseBlock;

__global__ void gather_rows_kernel(const float* __restrict__ src /* [src_rows, row_size] */,
                                   const int32_t* __restrict__ rows /* [count / row_size] */,
                                   float* __restrict__ dst /* [count / row_size, row_size] */,
                                   int64_t count, int64_t row_size, int64_t src_rows) {
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
        const int64_t row = rows[i / row_size];
        dst[i] = (row >= 0 && row < src_rows) ? src[row * row_size + i % row_size] : NAN;
    }
}

__global__ void gather_labels_kernel(const int32_t* __restrict__ src /* [src_count] */,
                                     const int32_t* __restrict__ rows /* [count] */,
                                     int32_t* __restrict__ dst /* [count] */, int64_t count,
                                     int64_t src_count) {
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
        const int64_t row = rows[i];
        dst[i] = (row >= 0 && row < src_count) ? src[row] : -1;
    }
}

}  // namespace

void gather_rows(Tensor src, IndexTensor rows, Tensor dst, Stream stream) {
    const int64_t row_size = checks::gather_rows(src, rows, dst);
    const int64_t count = dst.numel();
    if (count == 0) return;
    launch("gather_rows", gather_rows_kernel, dim3(elementwise_grid(count)), dim3(kBlock), 0, stream,
           static_cast<const float*>(src.data), static_cast<const int32_t*>(rows.data), dst.data,
           count, row_size, src.dim(0));
}

void gather_labels(IndexTensor src, IndexTensor rows, IndexTensor dst, Stream stream) {
    checks::gather_labels(rows, dst);
    const int64_t count = rows.numel();
    if (count == 0) return;
    launch("gather_labels", gather_labels_kernel, dim3(elementwise_grid(count)), dim3(kBlock), 0, stream,
           static_cast<const int32_t*>(src.data), static_cast<const int32_t*>(rows.data),
           dst.data, count, src.numel());
}

}  // namespace twp::kernels
