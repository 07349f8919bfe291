// Dropout kernel (kernels/dropout.cuh). One thread per Philox block: the generator yields four
// 32-bit words per block, and counters 4b .. 4b + 3 share block b (dropout_block), so a thread
// draws block b = offset / 4 + t once and applies its four words to the elements whose counters
// offset + i fall in it (the first and last blocks may be partly outside the tensor when offset or
// the count is not a multiple of 4). A grid-stride loop over the blocks. The mask decision is
// dropout_keep(bits, p) from engine/random.hpp, the function the CPU backend calls, compiled for
// the device (TWP_HOST_DEVICE); the scale 1 / (1 - p) is computed on the host as the CPU computes
// it (in float; 0 for p == 1, where everything is dropped). Each element is read and written by
// the same thread, so y may alias x.
#include "kernels/cuda_compat.hpp"
#include "kernels/launch.hpp"
#include "kernels/grid.hpp"

#include "engine/op_checks.hpp"
#include "engine/random.hpp"
#include "kernels/device_memory.hpp"
#include "kernels/dropout.cuh"

namespace twp::kernels {
namespace {

constexpr int kBlock = kElementwiseBlock;

__global__ void dropout_kernel(const float* x /* [count] */, float* y /* [count], may alias x */,
                               int64_t count, uint64_t seed, uint64_t offset, float p, float scale,
                               int64_t philox_blocks) {
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    const uint64_t first_block = offset >> 2;
    for (int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; t < philox_blocks; t += stride) {
        const uint64_t block = first_block + uint64_t(t);
        const PhiloxBlock bits = dropout_block(seed, block);
        for (int word = 0; word < 4; ++word) {
            const uint64_t counter = block * 4 + uint64_t(word);
            // i = counter - offset, in [0, count) for the words of this tensor
            if (counter < offset) continue;
            const uint64_t i = counter - offset;
            if (i >= uint64_t(count)) break;
            y[i] = x[i] * (dropout_keep(bits[word], p) ? scale : 0.0f);
        }
    }
}

void dropout(Tensor x, Tensor y, const DropoutSpec& spec, Stream stream, const char* op) {
    checks::dropout(x, y, spec, op);
    const int64_t count = x.numel();
    if (count == 0) return;
    if (spec.p == 0.0f) {  // the identity: no random numbers, as the CPU op
        if (x.data != y.data)
            copy_device_to_device(y.data, x.data, sizeof(float) * size_t(count), stream);
        return;
    }
    const float scale = spec.p < 1.0f ? 1.0f / (1.0f - spec.p) : 0.0f;
    const uint64_t last = spec.offset + uint64_t(count - 1);
    const int64_t philox_blocks = int64_t((last >> 2) - (spec.offset >> 2) + 1);
    launch(op, dropout_kernel, dim3(elementwise_grid(philox_blocks)), dim3(kBlock), 0, stream,
           static_cast<const float*>(x.data), y.data, count, spec.seed, spec.offset, spec.p, scale,
           philox_blocks);
}

}  // namespace

void dropout_forward(Tensor x, Tensor y, const DropoutSpec& spec, Stream stream) {
    dropout(x, y, spec, stream, "dropout_forward");
}

void dropout_backward(Tensor dy, Tensor dx, const DropoutSpec& spec, Stream stream) {
    dropout(dy, dx, spec, stream, "dropout_backward");
}

}  // namespace twp::kernels
