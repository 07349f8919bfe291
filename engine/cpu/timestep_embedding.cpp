// The sinusoidal timestep embedding on the CPU (as the transformer's positional encoding and
// DDPM's): row r of emb is [sin(t_r f_0) .. sin(t_r f_{h-1}), cos(t_r f_0) .. cos(t_r f_{h-1})],
// h = width / 2, f_i = 10000^(-i/h) computed as exp(-ln(10000) i / h) in T, the product t_r f_i
// rounded to T before the sine, as the CUDA kernel does in float (kernels/timestep_embedding.cu).
// The backward is the derivative in t: f_i cos(t f_i) and -f_i sin(t f_i), summed in double.
#include <cmath>

#include "engine/cpu/ops.hpp"

namespace twp::cpu {

namespace {

template <class T>
T frequency(int64_t i, int64_t half) {
    return std::exp(-std::log(T(10000)) * T(i) / T(half));
}

}  // namespace

template <class T>
void timestep_embedding_forward(const T* t, T* emb, int64_t rows, int64_t width) {
    const int64_t half = width / 2;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t i = 0; i < half; ++i) {
            const T angle = t[r] * frequency<T>(i, half);
            emb[r * width + i] = std::sin(angle);
            emb[r * width + half + i] = std::cos(angle);
        }
}

template <class T>
void timestep_embedding_backward(const T* t, const T* demb, T* dt, int64_t rows, int64_t width) {
    const int64_t half = width / 2;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
        double sum = 0;
        for (int64_t i = 0; i < half; ++i) {
            const T f = frequency<T>(i, half), angle = t[r] * f;
            sum += double(demb[r * width + i]) * double(f) * std::cos(double(angle)) -
                   double(demb[r * width + half + i]) * double(f) * std::sin(double(angle));
        }
        dt[r] = T(sum);
    }
}

template void timestep_embedding_forward<float>(const float*, float*, int64_t, int64_t);
template void timestep_embedding_forward<double>(const double*, double*, int64_t, int64_t);
template void timestep_embedding_backward<float>(const float*, const float*, float*, int64_t, int64_t);
template void timestep_embedding_backward<double>(const double*, const double*, double*, int64_t, int64_t);

}  // namespace twp::cpu
