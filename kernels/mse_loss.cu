// MSE kernels (kernels/mse_loss.cuh).
//
// Forward: one block of 512 threads (a prediction batch is a few thousand to a few hundred
// thousand values: 32 windows x up to 4096 components). Thread t sums the squared differences of
// elements t, t + 512, ... in double, in order (a warp reads 32 consecutive floats per step:
// coalesced); then a tree over shared memory halves the partials down to one, and thread 0 divides
// by the count and rounds to float. Both stages have a fixed order, so the loss is the same bits
// every run, with no atomics; the sum is in double like the CPU's, so the two agree to float
// rounding (the order of a double sum of a few million terms moves it by far less than a float ulp).
//
// Backward: a grid-stride loop, dpred[i] = (pred[i] - target[i]) * norm with norm = float(2 / count)
// computed on the host as the CPU computes it. A subtraction then a multiplication: nothing nvcc
// could contract into an FMA, so the result is the CPU's bit for bit.
#include "kernels/cuda_compat.hpp"
#include "kernels/launch.hpp"
#include "kernels/grid.hpp"

#include "engine/op_checks.hpp"
#include "kernels/mse_loss.cuh"

namespace twp::kernels {
namespace {

constexpr int kSumBlock = 512;  // a power of two, for the tree

__global__ void mse_loss_forward_kernel(const float* __restrict__ pred /* [count] */,
                                        const float* __restrict__ target /* [count] */,
                                        float* __restrict__ loss /* [1] */, int64_t count) {
    __shared__ double partial[kSumBlock];
    double sum = 0;
    for (int64_t i = threadIdx.x; i < count; i += kSumBlock) {
        const double difference = double(pred[i]) - double(target[i]);
        sum += difference * difference;
    }
    partial[threadIdx.x] = sum;
    for (int half = kSumBlock / 2; half > 0; half /= 2) {
        __syncthreads();  // the partials of the previous level are written before they are read
        if (int(threadIdx.x) < half) partial[threadIdx.x] += partial[threadIdx.x + half];
    }
    if (threadIdx.x == 0) loss[0] = float(partial[0] / double(count));
}

__global__ void mse_loss_backward_kernel(const float* pred /* [count] */,
                                         const float* target /* [count] */,
                                         float* dpred /* [count], may alias pred or target */,
                                         int64_t count, float norm) {
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride)
        dpred[i] = (pred[i] - target[i]) * norm;
}

}  // namespace

void mse_loss_forward(Tensor pred, Tensor target, Tensor loss, Stream stream) {
    checks::mse_loss_forward(pred, target, loss);
    launch("mse_loss_forward", mse_loss_forward_kernel, dim3(1), dim3(kSumBlock), 0, stream,
           static_cast<const float*>(pred.data), static_cast<const float*>(target.data), loss.data,
           pred.numel());
}

void mse_loss_backward(Tensor pred, Tensor target, Tensor dpred, Stream stream) {
    checks::mse_loss_backward(pred, target, dpred);
    const int64_t count = pred.numel();
    const float norm = float(2.0 / double(count));
    launch("mse_loss_backward", mse_loss_backward_kernel, dim3(elementwise_grid(count)),
           dim3(kElementwiseBlock), 0, stream, static_cast<const float*>(pred.data),
           static_cast<const float*>(target.data), dpred.data, count, norm);
}

}  // namespace twp::kernels
