// Softmax cross-entropy: one warp per row (LeNet-5 has K = 10 classes, so a row is one load per
// lane), 8 rows per block of 256 threads. Lane l takes classes l, l + 32, ...; the row's argmax
// and its sum of exponentials are combined across the warp with xor shuffles, after which every
// lane holds the same values (a fixed combination order: same bits run to run). The exponentials
// and their sum are in double, as the CPU op does, so that both backends give the same losses;
// it is 10 values per row, so double's cost does not show.
#include "kernels/cuda_compat.hpp"
#include "kernels/launch.hpp"

#include <climits>
#include <cmath>

#include "engine/op_checks.hpp"
#include "kernels/softmax_cross_entropy.cuh"

namespace twp::kernels {
namespace {

constexpr int kWarp = 32;
constexpr int kRowsPerBlock = 8;
constexpr unsigned kFullMask = 0xffffffffu;

struct RowStats {
    int top;      // argmax, the first maximum as the CPU op's sequential scan finds it
    double sum;   // sum over k of exp(row[k] - row[top])
};

// The CPU op scans k = 1..K-1 keeping `best` unless row[k] > row[best]; NaN never compares
// greater, so the scan finds the first maximum among the non-NaN values, except that a NaN in
// row[0] is never replaced. Each lane keeps its own first maximum (ties: the smaller index), then
// the warp combines the lanes' candidates with the same rule, which is order-independent.
__device__ RowStats row_stats(const float* __restrict__ row, int classes, int lane) {
    float best = -INFINITY;
    int top = INT_MAX;
    for (int k = lane; k < classes; k += kWarp) {
        const float v = row[k];
        if (v > best || (v == best && k < top)) {
            best = v;
            top = k;
        }
    }
    for (int offset = kWarp / 2; offset > 0; offset /= 2) {
        const float other = __shfl_xor_sync(kFullMask, best, offset);
        const int other_top = __shfl_xor_sync(kFullMask, top, offset);
        if (other > best || (other == best && other_top < top)) {
            best = other;
            top = other_top;
        }
    }
    // Every non-NaN value was -inf or NaN: the scan keeps 0, and so does a NaN in row[0].
    const float first = row[0];
    if (top == INT_MAX || first != first) top = 0;
    const double shift = double(row[top]);
    double sum = 0.0;
    for (int k = lane; k < classes; k += kWarp) sum += exp(double(row[k]) - shift);
    for (int offset = kWarp / 2; offset > 0; offset /= 2)
        sum += __shfl_xor_sync(kFullMask, sum, offset);
    return {top, sum};
}

__global__ void softmax_cross_entropy_forward_kernel(
    const float* __restrict__ logits /* [batch, classes] */,
    const int32_t* __restrict__ labels /* [batch] */, float* __restrict__ losses /* [batch] */,
    int32_t* __restrict__ correct /* [batch] */, int64_t batch, int classes) {
    const int64_t n = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarp;
    const int lane = threadIdx.x % kWarp;
    if (n >= batch) return;  // whole warps leave together: the shuffles below see full warps
    const float* row = logits + n * classes;
    const RowStats stats = row_stats(row, classes, lane);
    if (lane != 0) return;
    const int32_t label = labels[n];
    if (label < 0 || label >= classes) {
        losses[n] = NAN;
        correct[n] = 0;
        return;
    }
    losses[n] = float(double(row[stats.top]) + log(stats.sum) - double(row[label]));
    correct[n] = stats.top == label ? 1 : 0;
}

__global__ void softmax_cross_entropy_backward_kernel(
    const float* __restrict__ logits /* [batch, classes] */,
    const int32_t* __restrict__ labels /* [batch] */,
    float* __restrict__ dlogits /* [batch, classes] */, int64_t batch, int classes) {
    const int64_t n = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarp;
    const int lane = threadIdx.x % kWarp;
    if (n >= batch) return;
    const float* row = logits + n * classes;
    float* grad = dlogits + n * classes;
    const RowStats stats = row_stats(row, classes, lane);
    const int32_t label = labels[n];
    const bool valid = label >= 0 && label < classes;
    const double scale = 1.0 / double(batch);
    const double shift = double(row[stats.top]);
    for (int k = lane; k < classes; k += kWarp) {
        const double p = exp(double(row[k]) - shift) / stats.sum;
        grad[k] = valid ? float((p - (k == label ? 1.0 : 0.0)) * scale) : NAN;
    }
}

unsigned grid_for(int64_t batch) {
    return unsigned((batch + kRowsPerBlock - 1) / kRowsPerBlock);
}

// After the shared checks: the kernels take the class count as an int.
void check_classes(const Tensor& logits) {
    TWP_CHECK(logits.dim(1) > 0 && logits.dim(1) <= INT_MAX,
              "softmax_cross_entropy: " << logits.dim(1) << " classes");
}

}  // namespace

void softmax_cross_entropy_forward(Tensor logits, IndexTensor labels, Tensor losses,
                                   IndexTensor correct, Stream stream) {
    checks::softmax_cross_entropy_forward(logits, labels, losses, correct);
    check_classes(logits);
    const int64_t batch = logits.dim(0);
    if (batch == 0) return;
    launch("softmax_cross_entropy_forward", softmax_cross_entropy_forward_kernel,
           dim3(grid_for(batch)), dim3(kRowsPerBlock * kWarp), 0, stream,
           static_cast<const float*>(logits.data), static_cast<const int32_t*>(labels.data),
           losses.data, correct.data, batch, int(logits.dim(1)));
}

void softmax_cross_entropy_backward(Tensor logits, IndexTensor labels, Tensor dlogits,
                                    Stream stream) {
    checks::softmax_cross_entropy_backward(logits, labels, dlogits);
    check_classes(logits);
    const int64_t batch = logits.dim(0);
    if (batch == 0) return;
    launch("softmax_cross_entropy_backward", softmax_cross_entropy_backward_kernel,
           dim3(grid_for(batch)), dim3(kRowsPerBlock * kWarp), 0, stream,
           static_cast<const float*>(logits.data), static_cast<const int32_t*>(labels.data),
           dlogits.data, batch, int(logits.dim(1)));
}

}  // namespace twp::kernels
