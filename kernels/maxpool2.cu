// 2x2 max pooling: one thread per output (window) per step of a grid-stride loop. Forward reads
// the window's four inputs and writes the maximum and its position; backward writes all four
// inputs' gradients of its window (dy at the argmax, zero at the other three), so every element
// of dx is written exactly once (windows tile the plane) with no zeroing pass and no atomics.
// Consecutive threads take consecutive windows of a row: their reads are two 8-byte-strided
// streams, which coalesce well enough for an op this small.
#include "kernels/cuda_compat.hpp"
#include "kernels/launch.hpp"
#include "kernels/grid.hpp"

#include <algorithm>

#include "engine/op_checks.hpp"
#include "kernels/maxpool2.cuh"

namespace twp::kernels {
namespace {

constexpr int kBlock = kElementwiseBlock;

// outputs = B * C * (H/2) * (W/2); out_width = W/2.
__global__ void maxpool2_forward_kernel(const float* __restrict__ x /* [B, C, H, W] */,
                                        float* __restrict__ y /* [B, C, H/2, W/2] */,
                                        int32_t* __restrict__ argmax /* [B, C, H/2, W/2] */,
                                        int64_t outputs, int64_t out_width) {
    const int64_t width = 2 * out_width;
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < outputs; i += stride) {
        // Output row i / out_width covers input rows 2 * (i / out_width) and the next one.
        const int64_t out_row = i / out_width, out_col = i % out_width;
        const float* top = x + 2 * out_row * width + 2 * out_col;
        const float candidates[3] = {top[1], top[width], top[width + 1]};
        float best = top[0];
        int32_t where = 0;
        // The CPU op's rule: a later value wins if it is strictly greater, or if it is NaN and
        // the best so far is not (so the first maximum wins and the first NaN propagates).
        for (int32_t c = 0; c < 3; ++c) {
            const float v = candidates[c];
            if (v > best || (v != v && best == best)) {
                best = v;
                where = c + 1;
            }
        }
        y[i] = best;
        argmax[i] = where;
    }
}

__global__ void maxpool2_backward_kernel(const float* __restrict__ dy /* [B, C, H/2, W/2] */,
                                         const int32_t* __restrict__ argmax /* like dy */,
                                         float* __restrict__ dx /* [B, C, H, W] */,
                                         int64_t outputs, int64_t out_width) {
    const int64_t width = 2 * out_width;
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < outputs; i += stride) {
        const int64_t out_row = i / out_width, out_col = i % out_width;
        float* top = dx + 2 * out_row * width + 2 * out_col;
        const float g = dy[i];
        const int32_t where = argmax[i];
        top[0] = where == 0 ? g : 0.0f;
        top[1] = where == 1 ? g : 0.0f;
        top[width] = where == 2 ? g : 0.0f;
        top[width + 1] = where == 3 ? g : 0.0f;
    }
}

}  // namespace

void maxpool2_forward(Tensor x, Tensor y, IndexTensor argmax, Stream stream) {
    checks::maxpool2(x, y, argmax);
    const int64_t outputs = y.numel();
    if (outputs == 0) return;
    launch("maxpool2_forward", maxpool2_forward_kernel, dim3(elementwise_grid(outputs)), dim3(kBlock), 0,
           stream, static_cast<const float*>(x.data), y.data, argmax.data, outputs, y.dim(3));
}

void maxpool2_backward(Tensor dy, IndexTensor argmax, Tensor dx, Stream stream) {
    checks::maxpool2(dx, dy, argmax);
    const int64_t outputs = dy.numel();
    if (outputs == 0) return;
    launch("maxpool2_backward", maxpool2_backward_kernel, dim3(elementwise_grid(outputs)), dim3(kBlock), 0,
           stream, static_cast<const float*>(dy.data), static_cast<const int32_t*>(argmax.data),
           dx.data, outputs, dy.dim(3));
}

}  // namespace twp::kernels
