// 2x2 max pooling, stride 2, on the CPU. Each output keeps the position (0..3, row-major inside
// its window) of the first maximum, as PyTorch's CPU kernel does; a NaN wins so that it propagates.
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
        for (int64_t oh = 0; oh < oh_count; ++oh) {
            const T* top = in + 2 * oh * width;
            const T* bottom = top + width;
            T* out_row = out + oh * ow_count;
            int32_t* arg_row = arg + oh * ow_count;
            // Branch-free selects, so the loop vectorizes: comparisons on random data would
            // mispredict half the time.
#pragma omp simd
            for (int64_t ow = 0; ow < ow_count; ++ow) {
                T best = top[2 * ow];
                int32_t where = 0;
                const T candidates[3] = {top[2 * ow + 1], bottom[2 * ow], bottom[2 * ow + 1]};
                for (int32_t i = 0; i < 3; ++i) {
                    const bool take = candidates[i] > best || (candidates[i] != candidates[i] && best == best);
                    best = take ? candidates[i] : best;
                    where = take ? i + 1 : where;
                }
                out_row[ow] = best;
                arg_row[ow] = where;
            }
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
