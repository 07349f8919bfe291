// ReLU on the CPU. Forward keeps NaN (as torch.relu does); backward passes the gradient where the
// output is positive, which is where the input was.
#include <cmath>

#include "engine/cpu/ops.hpp"

namespace twp::cpu {

template <class T>
void relu_forward(const T* x, T* y, int64_t count) {
#pragma omp parallel for simd schedule(static) if (count >= kParallelElements)
    for (int64_t i = 0; i < count; ++i) y[i] = (x[i] > T(0) || std::isnan(x[i])) ? x[i] : T(0);
}

template <class T>
void relu_backward(const T* y, const T* dy, T* dx, int64_t count) {
#pragma omp parallel for simd schedule(static) if (count >= kParallelElements)
    for (int64_t i = 0; i < count; ++i) dx[i] = y[i] > T(0) ? dy[i] : T(0);
}

template void relu_forward<float>(const float*, float*, int64_t);
template void relu_forward<double>(const double*, double*, int64_t);
template void relu_backward<float>(const float*, const float*, float*, int64_t);
template void relu_backward<double>(const double*, const double*, double*, int64_t);

}  // namespace twp::cpu
