// Adam kernel (kernels/adam.cuh), fused: one pass reads p, g, m, v and writes p, m, v. As
// kernels/sgd.cu: a grid-stride loop in which each thread takes four consecutive floats as one
// 16-byte load and store per array when all four pointers are 16-byte aligned (every allocation
// is; a view at an odd offset is not), then the last count % 4 floats one by one. The scalars that
// depend on the step (-lr / (1 - b1^step), sqrt(1 - b2^step), 1 - b1, 1 - b2) are computed on the
// host exactly as the CPU op computes them. Every float operation is rounded on its own
// (__fmul_rn, __fadd_rn, __fdiv_rn, __fsqrt_rn: nvcc would otherwise fuse multiply-adds into FMAs
// and may use approximate division or square root), so the step gives the same bits as the CPU
// backend's, which is compiled without contraction and with IEEE division and square root.
#include "kernels/cuda_compat.hpp"
#include "kernels/launch.hpp"
#include "kernels/grid.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "engine/op_checks.hpp"
#include "kernels/adam.cuh"

namespace twp::kernels {
namespace {

constexpr int kBlock = kElementwiseBlock;

#if defined(__CUDACC__)
using Float4 = float4;
#else
struct alignas(16) Float4 { float x, y, z, w; };
#endif

// The step's scalars, as engine/cpu/adam.cpp computes them.
struct AdamScalars {
    float beta1, beta2, eps;
    float one_minus_beta1, one_minus_beta2;
    float negative_step_size;     // -lr / (1 - b1^step)
    float bias_correction2_sqrt;  // sqrt(1 - b2^step)
};

// One element's step; p, m and v are updated in place.
__device__ __forceinline__ void adam_step(float& p, float g, float& m, float& v,
                                          const AdamScalars& s) {
    m = __fadd_rn(__fmul_rn(m, s.beta1), __fmul_rn(s.one_minus_beta1, g));
    v = __fadd_rn(__fmul_rn(v, s.beta2), __fmul_rn(__fmul_rn(s.one_minus_beta2, g), g));
    const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(v), s.bias_correction2_sqrt), s.eps);
    p = __fadd_rn(p, __fdiv_rn(__fmul_rn(s.negative_step_size, m), denom));
}

// vector_count = count / 4 when vectorized, else 0: elements [4 * vector_count, count) go scalar.
__global__ void adam_update_kernel(float* __restrict__ params /* [count] */,
                                   const float* __restrict__ grads /* [count] */,
                                   float* __restrict__ m /* [count] */,
                                   float* __restrict__ v /* [count] */, int64_t count,
                                   int64_t vector_count, AdamScalars scalars) {
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    const int64_t first = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    Float4* p4 = reinterpret_cast<Float4*>(params);
    const Float4* g4 = reinterpret_cast<const Float4*>(grads);
    Float4* m4 = reinterpret_cast<Float4*>(m);
    Float4* v4 = reinterpret_cast<Float4*>(v);
    for (int64_t i = first; i < vector_count; i += stride) {
        Float4 p = p4[i], mi = m4[i], vi = v4[i];
        const Float4 g = g4[i];
        adam_step(p.x, g.x, mi.x, vi.x, scalars);
        adam_step(p.y, g.y, mi.y, vi.y, scalars);
        adam_step(p.z, g.z, mi.z, vi.z, scalars);
        adam_step(p.w, g.w, mi.w, vi.w, scalars);
        p4[i] = p;
        m4[i] = mi;
        v4[i] = vi;
    }
    for (int64_t i = 4 * vector_count + first; i < count; i += stride)
        adam_step(params[i], grads[i], m[i], v[i], scalars);
}

bool aligned16(const void* pointer) { return reinterpret_cast<std::uintptr_t>(pointer) % 16 == 0; }

}  // namespace

void adam_update(Tensor params, Tensor grads, Tensor m, Tensor v, int64_t step,
                 const AdamConfig& config, Stream stream) {
    checks::adam_update(params, grads, m, v, step);
    const int64_t count = params.numel();
    if (count == 0) return;
    const double bias_correction1 = 1.0 - std::pow(double(config.beta1), double(step));
    const double bias_correction2 = 1.0 - std::pow(double(config.beta2), double(step));
    AdamScalars scalars{};
    scalars.beta1 = config.beta1;
    scalars.beta2 = config.beta2;
    scalars.eps = config.eps;
    scalars.one_minus_beta1 = float(1.0 - double(config.beta1));
    scalars.one_minus_beta2 = float(1.0 - double(config.beta2));
    scalars.negative_step_size = float(-(double(config.learning_rate) / bias_correction1));
    scalars.bias_correction2_sqrt = float(std::sqrt(bias_correction2));
    const bool vectorized =
        aligned16(params.data) && aligned16(grads.data) && aligned16(m.data) && aligned16(v.data);
    const int64_t vector_count = vectorized ? count / 4 : 0;
    const int64_t work = std::max<int64_t>(vector_count, count - 4 * vector_count);
    launch("adam_update", adam_update_kernel, dim3(elementwise_grid(work)), dim3(kBlock), 0, stream,
           params.data, static_cast<const float*>(grads.data), m.data, v.data, count, vector_count,
           scalars);
}

}  // namespace twp::kernels
