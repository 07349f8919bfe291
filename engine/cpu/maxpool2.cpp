// 2x2 max pooling, stride 2, on the CPU. Each output keeps the position (0..3, row-major inside
// its window) of the first maximum, as PyTorch's CPU kernel does; a NaN wins so that it propagates.
#include <cmath>

#include "engine/cpu/ops.hpp"

namespace twp::cpu {

template <class T>
void maxpool2_forward(const T* x, T* y, int32_t* argmax, int64_t planes, int64_t height,
                      int64_t width) {
    const int64_t oh_count = height / 2, ow_count = width / 2;
#pragma omp parallel for schedule(static)
    for (int64_t plane = 0; plane < planes; ++plane) {
        const T* in = x + plane * height * width;
        T* out = y + plane * oh_count * ow_count;
        int32_t* arg = argmax + plane * oh_count * ow_count;
        for (int64_t oh = 0; oh < oh_count; ++oh)
            for (int64_t ow = 0; ow < ow_count; ++ow) {
                const T* window = in + 2 * oh * width + 2 * ow;
                const T candidates[4] = {window[0], window[1], window[width], window[width + 1]};
                int32_t best = 0;
                for (int32_t i = 1; i < 4; ++i)
                    if (candidates[i] > candidates[best] ||
                        (std::isnan(candidates[i]) && !std::isnan(candidates[best])))
                        best = i;
                out[oh * ow_count + ow] = candidates[best];
                arg[oh * ow_count + ow] = best;
            }
    }
}

template <class T>
void maxpool2_backward(const T* dy, const int32_t* argmax, T* dx, int64_t planes, int64_t height,
                       int64_t width) {
    const int64_t oh_count = height / 2, ow_count = width / 2;
#pragma omp parallel for schedule(static)
    for (int64_t plane = 0; plane < planes; ++plane) {
        T* in_grad = dx + plane * height * width;
        const T* out_grad = dy + plane * oh_count * ow_count;
        const int32_t* arg = argmax + plane * oh_count * ow_count;
        for (int64_t i = 0; i < height * width; ++i) in_grad[i] = T(0);
        for (int64_t oh = 0; oh < oh_count; ++oh)
            for (int64_t ow = 0; ow < ow_count; ++ow) {
                const int32_t a = arg[oh * ow_count + ow];
                in_grad[(2 * oh + a / 2) * width + 2 * ow + a % 2] = out_grad[oh * ow_count + ow];
            }
    }
}

template void maxpool2_forward<float>(const float*, float*, int32_t*, int64_t, int64_t, int64_t);
template void maxpool2_forward<double>(const double*, double*, int32_t*, int64_t, int64_t, int64_t);
template void maxpool2_backward<float>(const float*, const int32_t*, float*, int64_t, int64_t,
                                       int64_t);
template void maxpool2_backward<double>(const double*, const int32_t*, double*, int64_t, int64_t,
                                        int64_t);

}  // namespace twp::cpu
