// Elementwise additions on the CPU: the residual connections (a + b) and a bias or positional
// encoding added to every row (x + row). Outputs may alias inputs: every element is read before
// it is written, at the same index.
#include "engine/cpu/ops.hpp"

namespace twp::cpu {

template <class T>
void add(const T* a, const T* b, T* y, int64_t count) {
#pragma omp parallel for simd schedule(static) if (count >= kParallelElements)
    for (int64_t i = 0; i < count; ++i) y[i] = a[i] + b[i];
}

template <class T>
void add_row_broadcast(const T* x, const T* row, T* y, int64_t rows, int64_t width) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
        const T* in = x + r * width;
        T* out = y + r * width;
#pragma omp simd
        for (int64_t j = 0; j < width; ++j) out[j] = in[j] + row[j];
    }
}

template void add<float>(const float*, const float*, float*, int64_t);
template void add<double>(const double*, const double*, double*, int64_t);
template void add_row_broadcast<float>(const float*, const float*, float*, int64_t, int64_t);
template void add_row_broadcast<double>(const double*, const double*, double*, int64_t, int64_t);

}  // namespace twp::cpu
