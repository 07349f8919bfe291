// Linear layer on the CPU: three GEMMs and a bias sum. The layers here are small (LeNet-5's fc1 is
// 400 -> 120 at batch 32), so each GEMM runs on one core; the conv layers use both.
#include "engine/blas.hpp"
#include "engine/cpu/ops.hpp"

namespace twp::cpu {

template <class T>
void linear_forward(const T* x, const T* w, const T* b, T* y, int64_t batch, int64_t in,
                    int64_t out) {
    for (int64_t n = 0; n < batch; ++n)
        for (int64_t o = 0; o < out; ++o) y[n * out + o] = b[o];
    blas::gemm(false, true, batch, out, in, T(1), x, in, w, in, T(1), y, out);
}

template <class T>
void linear_backward(const T* x, const T* w, const T* dy, T* dx, T* dw, T* db, int64_t batch,
                     int64_t in, int64_t out) {
    if (dx) blas::gemm(false, false, batch, in, out, T(1), dy, out, w, in, T(0), dx, in);
    blas::gemm(true, false, out, in, batch, T(1), dy, out, x, in, T(0), dw, in);
    for (int64_t o = 0; o < out; ++o) db[o] = T(0);
    for (int64_t n = 0; n < batch; ++n)
        for (int64_t o = 0; o < out; ++o) db[o] += dy[n * out + o];
}

template void linear_forward<float>(const float*, const float*, const float*, float*, int64_t,
                                    int64_t, int64_t);
template void linear_forward<double>(const double*, const double*, const double*, double*, int64_t,
                                     int64_t, int64_t);
template void linear_backward<float>(const float*, const float*, const float*, float*, float*,
                                     float*, int64_t, int64_t, int64_t);
template void linear_backward<double>(const double*, const double*, const double*, double*,
                                      double*, double*, int64_t, int64_t, int64_t);

}  // namespace twp::cpu
