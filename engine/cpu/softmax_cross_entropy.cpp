// Softmax cross-entropy on the CPU, one row per sample. The log-sum-exp subtracts the row maximum
// first so that large logits do not overflow; sums run in double.
#include <cmath>

#include "engine/cpu/ops.hpp"

namespace twp::cpu {
namespace {

template <class T>
int64_t argmax(const T* row, int64_t classes) {
    int64_t best = 0;
    for (int64_t k = 1; k < classes; ++k)
        if (row[k] > row[best]) best = k;
    return best;
}

}  // namespace

template <class T>
void softmax_cross_entropy_forward(const T* logits, const int32_t* labels, T* losses,
                                   int32_t* correct, int64_t batch, int64_t classes) {
    for (int64_t n = 0; n < batch; ++n) {
        const T* row = logits + n * classes;
        const int64_t top = argmax(row, classes);
        double sum = 0;
        for (int64_t k = 0; k < classes; ++k) sum += std::exp(double(row[k]) - double(row[top]));
        losses[n] = T(double(row[top]) + std::log(sum) - double(row[labels[n]]));
        correct[n] = top == labels[n] ? 1 : 0;
    }
}

template <class T>
void softmax_cross_entropy_backward(const T* logits, const int32_t* labels, T* dlogits,
                                    int64_t batch, int64_t classes) {
    const double scale = 1.0 / double(batch);
    for (int64_t n = 0; n < batch; ++n) {
        const T* row = logits + n * classes;
        T* grad = dlogits + n * classes;
        const T top = row[argmax(row, classes)];
        double sum = 0;
        for (int64_t k = 0; k < classes; ++k) sum += std::exp(double(row[k]) - double(top));
        for (int64_t k = 0; k < classes; ++k) {
            const double p = std::exp(double(row[k]) - double(top)) / sum;
            grad[k] = T((p - (k == labels[n] ? 1.0 : 0.0)) * scale);
        }
    }
}

template void softmax_cross_entropy_forward<float>(const float*, const int32_t*, float*, int32_t*,
                                                   int64_t, int64_t);
template void softmax_cross_entropy_forward<double>(const double*, const int32_t*, double*,
                                                    int32_t*, int64_t, int64_t);
template void softmax_cross_entropy_backward<float>(const float*, const int32_t*, float*, int64_t,
                                                    int64_t);
template void softmax_cross_entropy_backward<double>(const double*, const int32_t*, double*,
                                                     int64_t, int64_t);

}  // namespace twp::cpu
