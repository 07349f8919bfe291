// Timestep embedding kernels (kernels/timestep_embedding.cuh).
//
// Forward: a grid-stride loop over the B x E/2 (row, frequency) pairs; each thread computes
// f_i = expf(-ln(10000) i / h) and the angle t f_i in float as the CPU does, then writes the sine
// and the cosine of that angle. Under the emulation (the host's libm) that is the CPU's result bit
// for bit; on a GPU expf/logf round f_i within ~3 ulps of the CPU's, so at t ~ 1000 the angles
// differ by up to ~3e-4 and so do the values (tests/test_kernels_diffusion.cpp scales its
// tolerance with the angle).
//
// Backward: one thread per row (a row is E/2 frequencies, 64 here), the derivative summed in
// double in frequency order as the CPU sums it.
#include "kernels/cuda_compat.hpp"
#include "kernels/launch.hpp"
#include "kernels/grid.hpp"

#include "engine/op_checks.hpp"
#include "kernels/timestep_embedding.cuh"

namespace twp::kernels {
namespace {

constexpr int kBlock = kElementwiseBlock;

__device__ float frequency(int64_t i, int64_t half) { return expf(-logf(10000.0f) * float(i) / float(half)); }

__global__ void timestep_embedding_forward_kernel(const float* __restrict__ t /* [rows] */,
                                                  float* __restrict__ emb /* [rows, 2 half] */, int64_t rows,
                                                  int64_t half) {
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < rows * half; e += stride) {
        const int64_t r = e / half, i = e - r * half;
        const float angle = __fmul_rn(t[r], frequency(i, half));
        emb[r * 2 * half + i] = sinf(angle);
        emb[r * 2 * half + half + i] = cosf(angle);
    }
}

__global__ void timestep_embedding_backward_kernel(const float* __restrict__ t /* [rows] */,
                                                   const float* __restrict__ demb /* [rows, 2 half] */,
                                                   float* __restrict__ dt /* [rows] */, int64_t rows,
                                                   int64_t half) {
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    for (int64_t r = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; r < rows; r += stride) {
        double sum = 0;
        for (int64_t i = 0; i < half; ++i) {
            const float f = frequency(i, half), angle = __fmul_rn(t[r], f);
            sum += double(demb[r * 2 * half + i]) * double(f) * cos(double(angle)) -
                   double(demb[r * 2 * half + half + i]) * double(f) * sin(double(angle));
        }
        dt[r] = float(sum);
    }
}

}  // namespace

void timestep_embedding_forward(Tensor t, Tensor emb, Stream stream) {
    checks::timestep_embedding(t, emb, "timestep_embedding_forward");
    const int64_t rows = emb.dim(0), half = emb.dim(1) / 2;
    if (rows == 0) return;
    launch("timestep_embedding_forward", timestep_embedding_forward_kernel, dim3(elementwise_grid(rows * half)),
           dim3(kBlock), 0, stream, static_cast<const float*>(t.data), emb.data, rows, half);
}

void timestep_embedding_backward(Tensor t, Tensor demb, Tensor dt, Stream stream) {
    checks::timestep_embedding(t, demb, "timestep_embedding_backward");
    TWP_CHECK(dt.shape == t.shape, "timestep_embedding_backward: dt " << dt.shape.str() << " vs t " << t.shape.str());
    const int64_t rows = demb.dim(0), half = demb.dim(1) / 2;
    if (rows == 0) return;
    launch("timestep_embedding_backward", timestep_embedding_backward_kernel, dim3(elementwise_grid(rows)),
           dim3(kBlock), 0, stream, static_cast<const float*>(t.data), static_cast<const float*>(demb.data), dt.data,
           rows, half);
}

}  // namespace twp::kernels
