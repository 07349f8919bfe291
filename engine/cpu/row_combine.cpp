// row_combine on the CPU: out[r] = a[r] x[r] + c[r] y[r], row by row (the diffusion forecaster's
// noising and its DDIM steps). out may alias x or y: each element is read before it is written, at
// the same index. The backward's row sums (da, dc) run in double, in column order.
#include "engine/cpu/ops.hpp"

namespace twp::cpu {

template <class T>
void row_combine_forward(const T* a, const T* x, const T* c, const T* y, T* out, int64_t rows, int64_t width) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
        const T ar = a[r], cr = c[r];
        const T* xr = x + r * width;
        const T* yr = y + r * width;
        T* o = out + r * width;
#pragma omp simd
        for (int64_t j = 0; j < width; ++j) o[j] = ar * xr[j] + cr * yr[j];
    }
}

template <class T>
void row_combine_backward(const T* a, const T* x, const T* c, const T* y, const T* dout, T* dx, T* dy, T* da, T* dc,
                          int64_t rows, int64_t width) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
        const T* g = dout + r * width;
        double sum_x = 0, sum_y = 0;
        for (int64_t j = 0; j < width; ++j) {
            if (dx) dx[r * width + j] = a[r] * g[j];
            if (dy) dy[r * width + j] = c[r] * g[j];
            sum_x += double(g[j]) * double(x[r * width + j]);
            sum_y += double(g[j]) * double(y[r * width + j]);
        }
        if (da) da[r] = T(sum_x);
        if (dc) dc[r] = T(sum_y);
    }
}

template void row_combine_forward<float>(const float*, const float*, const float*, const float*, float*, int64_t,
                                         int64_t);
template void row_combine_forward<double>(const double*, const double*, const double*, const double*, double*,
                                          int64_t, int64_t);
template void row_combine_backward<float>(const float*, const float*, const float*, const float*, const float*,
                                          float*, float*, float*, float*, int64_t, int64_t);
template void row_combine_backward<double>(const double*, const double*, const double*, const double*,
                                           const double*, double*, double*, double*, double*, int64_t, int64_t);

}  // namespace twp::cpu
