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
            // Written so that GCC vectorizes it (compares and blends; comparisons on random
            // data would mispredict half the time): a candidate takes over when it is not <= the
            // best so far (greater, or NaN) and the best is not already a NaN, so the first NaN
            // wins. A || of two NaN tests, or the same in bitwise form, is not if-converted.
            for (int64_t ow = 0; ow < ow_count; ++ow) {
                const T a = top[2 * ow], b = top[2 * ow + 1], c = bottom[2 * ow], e = bottom[2 * ow + 1];
                T best = a;
                int32_t where = 0;
                if (!(b <= best) && best == best) { best = b; where = 1; }
                if (!(c <= best) && best == best) { best = c; where = 2; }
                if (!(e <= best) && best == best) { best = e; where = 3; }
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
        // Every input position is written once (its gradient or 0), with no separate zero fill:
        // the four positions of each window get selects, which vectorize.
        for (int64_t oh = 0; oh < oh_count; ++oh) {
            T* top = in_grad + 2 * oh * width;
            T* bottom = top + width;
            const T* g = out_grad + oh * ow_count;
            const int32_t* a = arg + oh * ow_count;
#pragma omp simd
            for (int64_t ow = 0; ow < ow_count; ++ow) {
                const T grad = g[ow];
                const int32_t where = a[ow];
                top[2 * ow] = where == 0 ? grad : T(0);
                top[2 * ow + 1] = where == 1 ? grad : T(0);
                bottom[2 * ow] = where == 2 ? grad : T(0);
                bottom[2 * ow + 1] = where == 3 ? grad : T(0);
            }
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
