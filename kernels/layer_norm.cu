// Layer norm kernels (kernels/layer_norm.cuh).
//
// Forward and dx: one warp per row, 4 rows per block of 128 threads (the transformer's rows are a
// few hundred to a few thousand floats wide, 16..128 per lane). Lane l takes columns l, l + 32, ...
// in order, then the warp combines its lanes with a xor butterfly of shuffles. Every lane ends with
// the same bits (each level adds the same two values, and IEEE addition is commutative), and the
// order is fixed, so a run is reproducible bit for bit. As on the CPU the sums are in double and
// the variance is two-pass (sum of squared deviations from the mean, not E[x^2] - E[x]^2, which
// cancels catastrophically when |mean| >> std); the row is re-read from global memory for each
// pass (it is in L1/L2 by then). The per-element formula is also evaluated in double and rounded
// once, as the CPU does. A row's reads all precede its writes at the same index by the same lane,
// so y may alias x.
//
// dgamma / dbeta: column sums over all rows, without atomics (they would make the float result
// depend on the order the blocks run in). One block per 32 columns, blockDim (32, 8): lane x owns
// column 32 * blockIdx.x + x (a warp reads 32 consecutive floats of a row: coalesced), the 8 warps
// split the rows r = y, y + 8, ... and each sums its share in double, in order; after a barrier,
// warp 0 adds the 8 partials in order y = 0..7 and writes the column's sums (rounded once).
#include "kernels/cuda_compat.hpp"
#include "kernels/launch.hpp"

#include <cmath>

#include "engine/op_checks.hpp"
#include "kernels/layer_norm.cuh"

namespace twp::kernels {
namespace {

constexpr int kWarp = 32;
constexpr int kRowsPerBlock = 4;       // forward and dx: one warp per row
constexpr int kColumnsPerBlock = 32;   // dgamma/dbeta: one lane per column
constexpr int kRowSlices = 8;          // dgamma/dbeta: warps down the rows
constexpr unsigned kFullMask = 0xffffffffu;

// The sum over the warp's 32 lanes, the same bits in every lane.
__device__ __forceinline__ double warp_sum(double value) {
    for (int offset = kWarp / 2; offset > 0; offset /= 2)
        value += __shfl_xor_sync(kFullMask, value, offset);
    return value;
}

__global__ void layer_norm_forward_kernel(const float* x /* [rows, width] */,
                                          const float* __restrict__ gamma /* [width] */,
                                          const float* __restrict__ beta /* [width] */, double eps,
                                          float* y /* [rows, width], may alias x */,
                                          float* __restrict__ mean /* [rows] */,
                                          float* __restrict__ rstd /* [rows] */, int64_t rows,
                                          int64_t width) {
    const int64_t r = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarp;
    const int lane = threadIdx.x % kWarp;
    if (r >= rows) return;  // whole warps leave together: the shuffles below see full warps
    const float* in = x + r * width;
    float* out = y + r * width;
    double sum = 0;
    for (int64_t j = lane; j < width; j += kWarp) sum += double(in[j]);
    const double mu = warp_sum(sum) / double(width);
    double squares = 0;
    for (int64_t j = lane; j < width; j += kWarp) {
        const double centered = double(in[j]) - mu;
        squares += centered * centered;
    }
    const double rs = 1.0 / sqrt(warp_sum(squares) / double(width) + eps);
    if (lane == 0) {
        mean[r] = float(mu);
        rstd[r] = float(rs);
    }
    for (int64_t j = lane; j < width; j += kWarp)
        out[j] = float((double(in[j]) - mu) * rs * double(gamma[j]) + double(beta[j]));
}

// dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * gamma, xhat = (x - mean) * rstd.
__global__ void layer_norm_dx_kernel(const float* __restrict__ x /* [rows, width] */,
                                     const float* __restrict__ gamma /* [width] */,
                                     const float* __restrict__ mean /* [rows] */,
                                     const float* __restrict__ rstd /* [rows] */,
                                     const float* dy /* [rows, width] */,
                                     float* dx /* [rows, width], may alias dy */, int64_t rows,
                                     int64_t width) {
    const int64_t r = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarp;
    const int lane = threadIdx.x % kWarp;
    if (r >= rows) return;
    const float* in = x + r * width;
    const float* grad = dy + r * width;
    float* out = dx + r * width;
    const double mu = double(mean[r]), rs = double(rstd[r]);
    double sum_g = 0, sum_g_xhat = 0;
    for (int64_t j = lane; j < width; j += kWarp) {
        const double g = double(grad[j]) * double(gamma[j]);
        sum_g += g;
        sum_g_xhat += g * ((double(in[j]) - mu) * rs);
    }
    const double mean_g = warp_sum(sum_g) / double(width);
    const double mean_g_xhat = warp_sum(sum_g_xhat) / double(width);
    for (int64_t j = lane; j < width; j += kWarp) {
        const double g = double(grad[j]) * double(gamma[j]);
        const double xhat = (double(in[j]) - mu) * rs;
        out[j] = float(rs * (g - mean_g - xhat * mean_g_xhat));
    }
}

// dgamma[j] = sum_r dy[r, j] * xhat[r, j], dbeta[j] = sum_r dy[r, j].
__global__ void layer_norm_parameter_grad_kernel(const float* __restrict__ x /* [rows, width] */,
                                                 const float* __restrict__ mean /* [rows] */,
                                                 const float* __restrict__ rstd /* [rows] */,
                                                 const float* __restrict__ dy /* [rows, width] */,
                                                 float* __restrict__ dgamma /* [width] */,
                                                 float* __restrict__ dbeta /* [width] */,
                                                 int64_t rows, int64_t width) {
    __shared__ double partial_gamma[kRowSlices][kColumnsPerBlock];
    __shared__ double partial_beta[kRowSlices][kColumnsPerBlock];
    const int64_t column = int64_t(blockIdx.x) * kColumnsPerBlock + threadIdx.x;
    double sum_gamma = 0, sum_beta = 0;
    if (column < width)
        for (int64_t r = threadIdx.y; r < rows; r += kRowSlices) {
            const double grad = double(dy[r * width + column]);
            sum_gamma += grad * ((double(x[r * width + column]) - double(mean[r])) * double(rstd[r]));
            sum_beta += grad;
        }
    partial_gamma[threadIdx.y][threadIdx.x] = sum_gamma;
    partial_beta[threadIdx.y][threadIdx.x] = sum_beta;
    __syncthreads();  // every slice's partials are in shared memory before warp 0 adds them
    if (threadIdx.y == 0 && column < width) {
        double total_gamma = partial_gamma[0][threadIdx.x], total_beta = partial_beta[0][threadIdx.x];
        for (int s = 1; s < kRowSlices; ++s) {
            total_gamma += partial_gamma[s][threadIdx.x];
            total_beta += partial_beta[s][threadIdx.x];
        }
        dgamma[column] = float(total_gamma);
        dbeta[column] = float(total_beta);
    }
}

unsigned row_blocks(int64_t rows) { return unsigned((rows + kRowsPerBlock - 1) / kRowsPerBlock); }

}  // namespace

void layer_norm_forward(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor y, Tensor mean,
                        Tensor rstd, Stream stream) {
    checks::layer_norm_forward(x, gamma, beta, eps, y, mean, rstd);
    const int64_t rows = x.dim(0), width = x.dim(1);
    if (rows == 0) return;
    launch("layer_norm_forward", layer_norm_forward_kernel, dim3(row_blocks(rows)),
           dim3(kRowsPerBlock * kWarp), 0, stream, static_cast<const float*>(x.data),
           static_cast<const float*>(gamma.data), static_cast<const float*>(beta.data), double(eps),
           y.data, mean.data, rstd.data, rows, width);
}

void layer_norm_backward(Tensor x, Tensor gamma, Tensor mean, Tensor rstd, Tensor dy, Tensor dx,
                         Tensor dgamma, Tensor dbeta, Stream stream) {
    checks::layer_norm_backward(x, gamma, mean, rstd, dy, dx, dgamma, dbeta);
    const int64_t rows = x.dim(0), width = x.dim(1);
    // The parameter gradients first: dx may alias dy, which they read.
    launch("layer_norm_parameter_grad", layer_norm_parameter_grad_kernel,
           dim3(unsigned((width + kColumnsPerBlock - 1) / kColumnsPerBlock)),
           dim3(kColumnsPerBlock, kRowSlices), 0, stream, static_cast<const float*>(x.data),
           static_cast<const float*>(mean.data), static_cast<const float*>(rstd.data),
           static_cast<const float*>(dy.data), dgamma.data, dbeta.data, rows, width);
    if (dx.empty() || rows == 0) return;
    launch("layer_norm_dx", layer_norm_dx_kernel, dim3(row_blocks(rows)),
           dim3(kRowsPerBlock * kWarp), 0, stream, static_cast<const float*>(x.data),
           static_cast<const float*>(gamma.data), static_cast<const float*>(mean.data),
           static_cast<const float*>(rstd.data), static_cast<const float*>(dy.data), dx.data, rows,
           width);
}

}  // namespace twp::kernels
