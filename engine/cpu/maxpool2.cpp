// 2x2 max pooling, stride 2, on the CPU. Each output keeps the position (0..3, row-major inside
// its window) of the first maximum, as PyTorch's CPU kernel does; a NaN wins so that it propagates.
//
// Output rows are short (14 values in LeNet-5's pool1, 5 in pool2), too short for the
// auto-vectorizer's loops, whose scalar remainder would do the work with branches that random
// data mispredicts half the time. So a row goes in explicit vectors of L outputs (16, or 8 for
// rows of at most 8): the window's four candidates are deinterleaved from 2L-wide loads of the two
// input rows and compared with selects; loads may run past the row into the rows after it, and
// only the row's own lanes are stored. A row whose loads would run past the end of the tensor
// takes the scalar path, with the same rule, instead.
#include <algorithm>
#include <cstring>
#include <utility>

#include "engine/cpu/ops.hpp"
#include "engine/cpu/vector.hpp"

namespace twp::cpu {
namespace {

// Whether candidate takes over from best: it is not <= best (greater, or NaN) and best is not
// already a NaN, so the first NaN wins. (Written with ! and <=, which GCC if-converts.)
template <class T>
bool takes_over(T candidate, T best) {
    return !(candidate <= best) && best == best;
}

template <class T>
void pool_scalar(const T* top, const T* bottom, T* out, int32_t* arg, int64_t first, int64_t last) {
    for (int64_t ow = first; ow < last; ++ow) {
        const T candidates[4] = {top[2 * ow], top[2 * ow + 1], bottom[2 * ow], bottom[2 * ow + 1]};
        T best = candidates[0];
        int32_t where = 0;
        for (int32_t i = 1; i < 4; ++i)
            if (takes_over(candidates[i], best)) {
                best = candidates[i];
                where = i;
            }
        out[ow] = best;
        arg[ow] = where;
    }
}

// Even (Odd = 1) lanes of the 2L values in (lo, hi).
template <int Odd, class Vec, std::size_t... I>
Vec deinterleave(Vec lo, Vec hi, std::index_sequence<I...>) {
    return __builtin_shufflevector(lo, hi, (2 * int(I) + Odd)...);
}

// (a0, b0, a1, b1, ...): the first L lanes (Half = 0) or the last L (Half = 1) of a and b interleaved.
template <int Half, class Vec, std::size_t... I>
Vec interleave(Vec a, Vec b, std::index_sequence<I...>) {
    constexpr int L = int(sizeof...(I));
    return __builtin_shufflevector(a, b, ((int(I) + Half * L) / 2 + ((int(I) + Half * L) % 2) * L)...);
}

// One output row: outputs [0, count) from input rows top and bottom; the vector loads stay below
// end.
template <class T, int L>
void pool_row(const T* top, const T* bottom, T* out, int32_t* arg, int64_t count, const T* end) {
    using Vec = typename VectorOf<T, L>::type;
    using Lane = LaneOf<T>;
    using Where = typename VectorOf<Lane, L>::type;
    const auto lanes = std::make_index_sequence<L>();
    for (int64_t ow0 = 0; ow0 < count; ow0 += L) {
        const int64_t n = std::min<int64_t>(L, count - ow0);
        if (bottom + 2 * (ow0 + L) > end) {
            pool_scalar(top, bottom, out, arg, ow0, count);
            return;
        }
        Vec t0, t1, b0, b1;
        std::memcpy(&t0, top + 2 * ow0, sizeof t0);
        std::memcpy(&t1, top + 2 * ow0 + L, sizeof t1);
        std::memcpy(&b0, bottom + 2 * ow0, sizeof b0);
        std::memcpy(&b1, bottom + 2 * ow0 + L, sizeof b1);
        const Vec candidates[3] = {deinterleave<1>(t0, t1, lanes), deinterleave<0>(b0, b1, lanes),
                                   deinterleave<1>(b0, b1, lanes)};
        Vec best = deinterleave<0>(t0, t1, lanes);
        Where where = {};
        for (int i = 0; i < 3; ++i) {
            const Vec c = candidates[i];
            const Where take = ~(c <= best) & (best == best);
            best = take ? c : best;
            where = take ? Where{} + Lane(i + 1) : where;
        }
        T best_values[L];
        Lane where_values[L];
        std::memcpy(best_values, &best, sizeof best);
        std::memcpy(where_values, &where, sizeof where);
        for (int64_t l = 0; l < n; ++l) {
            out[ow0 + l] = best_values[l];
            arg[ow0 + l] = int32_t(where_values[l]);
        }
    }
}

// One output row's gradient: input rows top and bottom [2 count] get dy where argmax points and
// 0 elsewhere; the vector loads of dy and argmax stay below dy_end.
template <class T, int L>
void unpool_row(const T* dy, const int32_t* arg, T* top, T* bottom, int64_t count, const T* dy_end) {
    using Vec = typename VectorOf<T, L>::type;
    using Lane = LaneOf<T>;
    using Where = typename VectorOf<Lane, L>::type;
    const auto lanes = std::make_index_sequence<L>();
    for (int64_t ow0 = 0; ow0 < count; ow0 += L) {
        const int64_t n = std::min<int64_t>(L, count - ow0);
        if (dy + ow0 + L > dy_end) {
            for (int64_t ow = ow0; ow < count; ++ow) {
                const T grad = dy[ow];
                const int32_t where = arg[ow];
                top[2 * ow] = where == 0 ? grad : T(0);
                top[2 * ow + 1] = where == 1 ? grad : T(0);
                bottom[2 * ow] = where == 2 ? grad : T(0);
                bottom[2 * ow + 1] = where == 3 ? grad : T(0);
            }
            return;
        }
        Vec grad;
        std::memcpy(&grad, dy + ow0, sizeof grad);
        Where where;
        for (int l = 0; l < L; ++l) where[l] = l < n ? Lane(arg[ow0 + l]) : Lane(-1);
        const Vec zero = {};
        const Vec g0 = where == Lane(0) ? grad : zero, g1 = where == Lane(1) ? grad : zero;
        const Vec g2 = where == Lane(2) ? grad : zero, g3 = where == Lane(3) ? grad : zero;
        T rows[2][2 * L];
        const Vec t_lo = interleave<0>(g0, g1, lanes), t_hi = interleave<1>(g0, g1, lanes);
        const Vec b_lo = interleave<0>(g2, g3, lanes), b_hi = interleave<1>(g2, g3, lanes);
        std::memcpy(rows[0], &t_lo, sizeof t_lo);
        std::memcpy(rows[0] + L, &t_hi, sizeof t_hi);
        std::memcpy(rows[1], &b_lo, sizeof b_lo);
        std::memcpy(rows[1] + L, &b_hi, sizeof b_hi);
        std::memcpy(top + 2 * ow0, rows[0], sizeof(T) * 2 * n);
        std::memcpy(bottom + 2 * ow0, rows[1], sizeof(T) * 2 * n);
    }
}

}  // namespace

template <class T>
void maxpool2_forward(const T* x, T* y, int32_t* argmax, int64_t planes, int64_t height,
                      int64_t width) {
    const int64_t oh_count = height / 2, ow_count = width / 2;
    const T* end = x + planes * height * width;
#pragma omp parallel for schedule(static)
    for (int64_t plane = 0; plane < planes; ++plane) {
        const T* in = x + plane * height * width;
        for (int64_t oh = 0; oh < oh_count; ++oh) {
            const T* top = in + 2 * oh * width;
            const int64_t o = (plane * oh_count + oh) * ow_count;
            if (ow_count > 8) pool_row<T, 16>(top, top + width, y + o, argmax + o, ow_count, end);
            else pool_row<T, 8>(top, top + width, y + o, argmax + o, ow_count, end);
        }
    }
}

template <class T>
void maxpool2_backward(const T* dy, const int32_t* argmax, T* dx, int64_t planes, int64_t height,
                       int64_t width) {
    const int64_t oh_count = height / 2, ow_count = width / 2;
    const T* dy_end = dy + planes * oh_count * ow_count;
#pragma omp parallel for schedule(static)
    for (int64_t plane = 0; plane < planes; ++plane) {
        // Every input position is written once (its gradient or 0): no separate zero fill.
        T* in_grad = dx + plane * height * width;
        for (int64_t oh = 0; oh < oh_count; ++oh) {
            T* top = in_grad + 2 * oh * width;
            const int64_t o = (plane * oh_count + oh) * ow_count;
            if (ow_count > 8) unpool_row<T, 16>(dy + o, argmax + o, top, top + width, ow_count, dy_end);
            else unpool_row<T, 8>(dy + o, argmax + o, top, top + width, ow_count, dy_end);
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
