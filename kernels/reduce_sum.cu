// Sum of all elements with one block of 256 threads: thread t adds elements t, t + 256, ... in
// order (coalesced: a warp reads 32 consecutive values per step), then a tree over shared memory
// halves the partials (t += t + half) down to one. Both stages have a fixed order whatever the
// scheduling, so the result is the same bits every run, with no atomics. One block is enough for
// what it sums (an epoch's 60,000 losses is 235 loads per thread); a tensor of millions would
// want a first pass over many blocks.
#include "kernels/cuda_compat.hpp"
#include "kernels/launch.hpp"

#include "engine/op_checks.hpp"
#include "kernels/reduce_sum.cuh"

namespace twp::kernels {
namespace {

constexpr int kBlock = 256;  // a power of two, for the tree

// Accumulator: double for floats, int64 for int32.
template <class T, class Acc>
__global__ void sum_kernel(const T* __restrict__ x /* [count] */, T* __restrict__ out /* [1] */,
                           int64_t count) {
    __shared__ Acc partial[kBlock];
    Acc sum = 0;
    for (int64_t i = threadIdx.x; i < count; i += kBlock) sum += Acc(x[i]);
    partial[threadIdx.x] = sum;
    for (int half = kBlock / 2; half > 0; half /= 2) {
        __syncthreads();  // the partials of the previous level are written before they are read
        if (int(threadIdx.x) < half) partial[threadIdx.x] += partial[threadIdx.x + half];
    }
    if (threadIdx.x == 0) out[0] = T(partial[0]);
}

}  // namespace

void sum(Tensor x, Tensor out, Stream stream) {
    TWP_CHECK_SHAPE(out, 1);
    launch("sum_float", sum_kernel<float, double>, dim3(1), dim3(kBlock), 0, stream,
           static_cast<const float*>(x.data), out.data, x.numel());
}

void sum(IndexTensor x, IndexTensor out, Stream stream) {
    TWP_CHECK_SHAPE(out, 1);
    launch("sum_int32", sum_kernel<int32_t, long long>, dim3(1), dim3(kBlock), 0, stream,
           static_cast<const int32_t*>(x.data), out.data, x.numel());
}

}  // namespace twp::kernels
