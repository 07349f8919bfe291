// CUDA features the emulation refuses: compiled once per -DTWP_REFUSED_<FEATURE> by ctest
// (CMakeLists.txt, section kernels), each compile must fail naming the feature, so a kernel that
// needs one cannot silently build for the CPU. Without any -D it must compile (the control).
#include "kernels/cuda_compat.hpp"
#include "kernels/launch.hpp"

namespace {

__global__ void refused_feature_kernel(float* out, int n) {
    const int i = int(blockIdx.x * blockDim.x + threadIdx.x);
    if (i >= n) return;
    float value = out[i];
#if defined(TWP_REFUSED_BALLOT)
    value += float(__ballot_sync(0xffffffffu, value > 0.0f));
#elif defined(TWP_REFUSED_ACTIVEMASK)
    value += float(__activemask());
#elif defined(TWP_REFUSED_WMMA)
    nvcuda::wmma::fragment<nvcuda::wmma::accumulator, 16, 16, 16, float> accumulator;
#elif defined(TWP_REFUSED_PTX_ASM)
    // g++ passes inline PTX to the x86 assembler, which rejects it.
    unsigned bits = __float_as_uint(value);
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32 %0;" : "+r"(bits));
    value = __uint_as_float(bits);
#elif defined(TWP_REFUSED_THREADFENCE)
    __threadfence();
#elif defined(TWP_REFUSED_HALF)
    const __half half_value = __float2half(value);
    value = __half2float(half_value);
#elif defined(TWP_REFUSED_STREAM_TYPE)
    cudaStream_t stream = nullptr;
    (void)stream;
#endif
    out[i] = value + 1.0f;
}

#if defined(TWP_REFUSED_CONSTANT)
__constant__ float constant_table[4] = {1, 2, 3, 4};
#endif

}  // namespace

void launch_refused_feature_kernel(float* out, int n) {
    twp::kernels::launch("refused_feature_kernel", refused_feature_kernel, dim3((n + 127) / 128),
                         dim3(128), 0, nullptr, out, n);
}
