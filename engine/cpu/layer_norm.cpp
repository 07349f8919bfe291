// Layer norm over the last dimension on the CPU, as torch.nn.LayerNorm: per row of x [rows, width],
// mean and biased variance, rstd = 1 / sqrt(var + eps), y = (x - mean) * rstd * gamma + beta.
// Sums run in double. Backward, with xhat = (x - mean) * rstd and g = dy * gamma:
//   dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),  dgamma = sum_rows dy * xhat,
//   dbeta = sum_rows dy.
// Rows go to threads for y and dx; dgamma and dbeta go to threads by blocks of columns, each
// column summed over all rows in row order: the same bits whatever the thread count, and no
// scratch memory.
#include <algorithm>
#include <cmath>

#include "engine/cpu/ops.hpp"

namespace twp::cpu {
namespace {

constexpr int64_t kColumnBlock = 64;  // columns per dgamma/dbeta work item (two double arrays on the stack)

}  // namespace

template <class T>
void layer_norm_forward(const T* x, const T* gamma, const T* beta, double eps, T* y, T* mean,
                        T* rstd, int64_t rows, int64_t width) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
        const T* in = x + r * width;
        T* out = y + r * width;
        double sum = 0;
        for (int64_t j = 0; j < width; ++j) sum += double(in[j]);
        const double mu = sum / double(width);
        double squares = 0;
        for (int64_t j = 0; j < width; ++j) {
            const double centered = double(in[j]) - mu;
            squares += centered * centered;
        }
        const double rs = 1.0 / std::sqrt(squares / double(width) + eps);
        mean[r] = T(mu);
        rstd[r] = T(rs);
        for (int64_t j = 0; j < width; ++j)
            out[j] = T((double(in[j]) - mu) * rs * double(gamma[j]) + double(beta[j]));
    }
}

template <class T>
void layer_norm_backward(const T* x, const T* gamma, const T* mean, const T* rstd, const T* dy,
                         T* dx, T* dgamma, T* dbeta, int64_t rows, int64_t width) {
    const int64_t blocks = (width + kColumnBlock - 1) / kColumnBlock;
#pragma omp parallel
    {
#pragma omp for schedule(static)
        for (int64_t block = 0; block < blocks; ++block) {
            const int64_t first = block * kColumnBlock;
            const int64_t count = std::min(kColumnBlock, width - first);
            double sum_gamma[kColumnBlock] = {}, sum_beta[kColumnBlock] = {};
            for (int64_t r = 0; r < rows; ++r) {
                const T* in = x + r * width + first;
                const T* grad = dy + r * width + first;
                const double mu = double(mean[r]), rs = double(rstd[r]);
                for (int64_t j = 0; j < count; ++j) {
                    sum_gamma[j] += double(grad[j]) * ((double(in[j]) - mu) * rs);
                    sum_beta[j] += double(grad[j]);
                }
            }
            for (int64_t j = 0; j < count; ++j) {
                dgamma[first + j] = T(sum_gamma[j]);
                dbeta[first + j] = T(sum_beta[j]);
            }
        }
        if (dx) {
#pragma omp for schedule(static)
            for (int64_t r = 0; r < rows; ++r) {
                const T* in = x + r * width;
                const T* grad = dy + r * width;
                T* out = dx + r * width;
                const double mu = double(mean[r]), rs = double(rstd[r]);
                double sum_g = 0, sum_g_xhat = 0;
                for (int64_t j = 0; j < width; ++j) {
                    const double g = double(grad[j]) * double(gamma[j]);
                    sum_g += g;
                    sum_g_xhat += g * ((double(in[j]) - mu) * rs);
                }
                const double mean_g = sum_g / double(width), mean_g_xhat = sum_g_xhat / double(width);
                for (int64_t j = 0; j < width; ++j) {
                    const double g = double(grad[j]) * double(gamma[j]);
                    const double xhat = (double(in[j]) - mu) * rs;
                    out[j] = T(rs * (g - mean_g - xhat * mean_g_xhat));
                }
            }
        }
    }
}

template void layer_norm_forward<float>(const float*, const float*, const float*, double, float*,
                                        float*, float*, int64_t, int64_t);
template void layer_norm_forward<double>(const double*, const double*, const double*, double,
                                         double*, double*, double*, int64_t, int64_t);
template void layer_norm_backward<float>(const float*, const float*, const float*, const float*,
                                         const float*, float*, float*, float*, int64_t, int64_t);
template void layer_norm_backward<double>(const double*, const double*, const double*,
                                          const double*, const double*, double*, double*, double*,
                                          int64_t, int64_t);

}  // namespace twp::cpu
