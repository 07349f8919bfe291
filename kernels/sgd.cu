// SGD with momentum and weight decay, fused: one pass reads p, g, buf and writes p, buf. A
// grid-stride loop in which each thread takes four consecutive floats as one 16-byte load and
// store per array when all three pointers are 16-byte aligned (the parameter buffer is, as is
// every allocation; a view at an odd offset is not), then the last count % 4 floats one by one.
// Every operation is rounded on its own (__fmul_rn / __fadd_rn stop nvcc from fusing them into
// FMAs), so the step gives the same bits as the CPU backend's, which is compiled without
// contraction.
#include "kernels/cuda_compat.hpp"
#include "kernels/launch.hpp"
#include "kernels/grid.hpp"

#include <algorithm>
#include <cstdint>

#include "engine/op_checks.hpp"
#include "kernels/sgd.cuh"

namespace twp::kernels {
namespace {

constexpr int kBlock = kElementwiseBlock;

#if defined(__CUDACC__)
using Float4 = float4;
#else
struct alignas(16) Float4 { float x, y, z, w; };
#endif

__device__ __forceinline__ float multiply(float a, float b) {
#if defined(__CUDA_ARCH__)
    return __fmul_rn(a, b);
#else
    return a * b;
#endif
}

__device__ __forceinline__ float add(float a, float b) {
#if defined(__CUDA_ARCH__)
    return __fadd_rn(a, b);
#else
    return a + b;
#endif
}

// One element's step; p and buf are updated in place.
__device__ __forceinline__ void sgd_step(float& p, float g, float& buf, float learning_rate,
                                         float momentum, float weight_decay) {
    const float d = add(g, multiply(weight_decay, p));
    buf = add(multiply(momentum, buf), d);
    p = add(p, -multiply(learning_rate, buf));  // p - lr*buf, rounded once as the CPU's subtraction
}

// vector_count = count / 4 when vectorized, else 0: elements [4 * vector_count, count) go scalar.
__global__ void sgd_update_kernel(float* __restrict__ params /* [count] */,
                                  const float* __restrict__ grads /* [count] */,
                                  float* __restrict__ momentum_buffer /* [count] */, int64_t count,
                                  int64_t vector_count, float learning_rate, float momentum,
                                  float weight_decay) {
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    const int64_t first = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    Float4* p4 = reinterpret_cast<Float4*>(params);
    const Float4* g4 = reinterpret_cast<const Float4*>(grads);
    Float4* m4 = reinterpret_cast<Float4*>(momentum_buffer);
    for (int64_t i = first; i < vector_count; i += stride) {
        Float4 p = p4[i], m = m4[i];
        const Float4 g = g4[i];
        sgd_step(p.x, g.x, m.x, learning_rate, momentum, weight_decay);
        sgd_step(p.y, g.y, m.y, learning_rate, momentum, weight_decay);
        sgd_step(p.z, g.z, m.z, learning_rate, momentum, weight_decay);
        sgd_step(p.w, g.w, m.w, learning_rate, momentum, weight_decay);
        p4[i] = p;
        m4[i] = m;
    }
    for (int64_t i = 4 * vector_count + first; i < count; i += stride)
        sgd_step(params[i], grads[i], momentum_buffer[i], learning_rate, momentum, weight_decay);
}

bool aligned16(const void* pointer) { return reinterpret_cast<std::uintptr_t>(pointer) % 16 == 0; }

}  // namespace

void sgd_update(Tensor params, Tensor grads, Tensor momentum_buffer, const SgdConfig& config,
                Stream stream) {
    checks::sgd_update(params, grads, momentum_buffer);
    const int64_t count = params.numel();
    if (count == 0) return;
    const bool vectorized =
        aligned16(params.data) && aligned16(grads.data) && aligned16(momentum_buffer.data);
    const int64_t vector_count = vectorized ? count / 4 : 0;
    const int64_t work = std::max<int64_t>(vector_count, count - 4 * vector_count);
    const unsigned blocks = elementwise_grid(work);
    launch("sgd_update", sgd_update_kernel, dim3(blocks), dim3(kBlock), 0, stream, params.data,
           static_cast<const float*>(grads.data), momentum_buffer.data, count, vector_count,
           config.learning_rate, config.momentum, config.weight_decay);
}

}  // namespace twp::kernels
