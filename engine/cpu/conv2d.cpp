// conv2d on the CPU: im2col + GEMM, one image per OpenMP iteration.
//
// Forward, per image n: col_n [Kd, P] holds, for every (ci, kh, kw) row, the input shifted by
// (kh, kw) with the zero padding made explicit; then y_n [Co, P] = w [Co, Kd] · col_n.
// Backward reuses col_n: dw = sum_n dy_n · col_n^T, summed first within kGradientChunks fixed
// chunks of images and then across chunks in order (deterministic for any thread count), and
// dx_n = col2im(w^T · dy_n), computed into col_n's slot once dw no longer needs it.
//
// Workspace layout (T elements): [ col: B*Kd*P | weight partials: chunks*Co*Kd | bias partials:
// chunks*Co ].
#include <omp.h>

#include <algorithm>

#include "engine/blas.hpp"
#include "engine/cpu/ops.hpp"

namespace twp::cpu {
namespace {

int64_t chunk_count(int64_t batch) { return std::min(batch, kGradientChunks); }

template <class T>
void im2col(const T* image, T* col, const Conv2dDims& d) {
    const int64_t ho = d.out_height(), wo = d.out_width(), k = d.kernel, pad = d.padding;
    for (int64_t ci = 0; ci < d.in_channels; ++ci)
        for (int64_t kh = 0; kh < k; ++kh)
            for (int64_t kw = 0; kw < k; ++kw) {
                T* row = col + ((ci * k + kh) * k + kw) * ho * wo;
                // Output columns whose input column ow + kw - pad lies inside the image.
                const int64_t ow_lo = std::clamp<int64_t>(pad - kw, 0, wo);
                const int64_t ow_hi = std::clamp<int64_t>(d.width + pad - kw, ow_lo, wo);
                for (int64_t oh = 0; oh < ho; ++oh) {
                    T* dst = row + oh * wo;
                    const int64_t ih = oh + kh - pad;
                    if (ih < 0 || ih >= d.height) {
                        std::fill(dst, dst + wo, T(0));
                        continue;
                    }
                    const T* src = image + (ci * d.height + ih) * d.width + (kw - pad);
                    // Rows are short (10 to 28 values): an inline loop beats a memmove call.
                    for (int64_t ow = 0; ow < ow_lo; ++ow) dst[ow] = T(0);
#pragma omp simd
                    for (int64_t ow = ow_lo; ow < ow_hi; ++ow) dst[ow] = src[ow];
                    for (int64_t ow = ow_hi; ow < wo; ++ow) dst[ow] = T(0);
                }
            }
}

// Adds every column entry back to the input pixel it was copied from; image is overwritten.
template <class T>
void col2im(const T* col, T* image, const Conv2dDims& d) {
    const int64_t ho = d.out_height(), wo = d.out_width(), k = d.kernel, pad = d.padding;
    std::fill(image, image + d.in_channels * d.height * d.width, T(0));
    for (int64_t ci = 0; ci < d.in_channels; ++ci)
        for (int64_t kh = 0; kh < k; ++kh)
            for (int64_t kw = 0; kw < k; ++kw) {
                const T* row = col + ((ci * k + kh) * k + kw) * ho * wo;
                const int64_t ow_lo = std::clamp<int64_t>(pad - kw, 0, wo);
                const int64_t ow_hi = std::clamp<int64_t>(d.width + pad - kw, ow_lo, wo);
                for (int64_t oh = 0; oh < ho; ++oh) {
                    const int64_t ih = oh + kh - pad;
                    if (ih < 0 || ih >= d.height) continue;
                    T* dst = image + (ci * d.height + ih) * d.width + (kw - pad);
                    const T* src = row + oh * wo;
                    for (int64_t ow = ow_lo; ow < ow_hi; ++ow) dst[ow] += src[ow];
                }
            }
}

}  // namespace

int64_t conv2d_workspace_size(const Conv2dDims& d) {
    const int64_t chunks = chunk_count(d.batch);
    return d.batch * d.patch() * d.pixels() + chunks * d.out_channels * (d.patch() + 1);
}

template <class T>
void conv2d_forward(const T* x, const T* w, const T* b, T* y, const Conv2dDims& d, bool relu,
                    bool keep_for_backward, T* workspace) {
    const int64_t kd = d.patch(), p = d.pixels(), co = d.out_channels;
    const int64_t image_size = d.in_channels * d.height * d.width;
    // One slot per thread is enough without backward, if the workspace has that many.
    const bool slot_per_thread = !keep_for_backward && d.batch >= omp_get_max_threads();
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < d.batch; ++n) {
        T* col = workspace + (slot_per_thread ? omp_get_thread_num() : n) * kd * p;
        T* out = y + n * co * p;
        im2col(x + n * image_size, col, d);
        // The bias goes in first, so the GEMM accumulates onto it (beta = 1) in one pass.
        for (int64_t o = 0; o < co; ++o) std::fill(out + o * p, out + (o + 1) * p, b[o]);
        blas::gemm(false, false, co, p, kd, T(1), w, kd, col, p, T(1), out, p);
        if (relu)
            for (int64_t i = 0; i < co * p; ++i) out[i] = out[i] > T(0) || out[i] != out[i] ? out[i] : T(0);
    }
}

template <class T>
void conv2d_backward(const T* w, const T* dy, T* dx, T* dw, T* db, const Conv2dDims& d,
                     T* workspace) {
    const int64_t kd = d.patch(), p = d.pixels(), co = d.out_channels;
    const int64_t image_size = d.in_channels * d.height * d.width;
    const int64_t chunks = chunk_count(d.batch);
    T* weight_partials = workspace + d.batch * kd * p;  // [chunks, Co, Kd]
    T* bias_partials = weight_partials + chunks * co * kd;  // [chunks, Co]

#pragma omp parallel
    {
#pragma omp for schedule(static)
        for (int64_t c = 0; c < chunks; ++c) {
            const int64_t first = c * d.batch / chunks, last = (c + 1) * d.batch / chunks;
            T* pw = weight_partials + c * co * kd;
            T* pb = bias_partials + c * co;
            std::fill(pb, pb + co, T(0));
            for (int64_t n = first; n < last; ++n) {
                const T* dy_n = dy + n * co * p;
                blas::gemm(false, true, co, kd, p, T(1), dy_n, p, workspace + n * kd * p, p,
                           n == first ? T(0) : T(1), pw, kd);
                for (int64_t o = 0; o < co; ++o) {
                    T sum = 0;
                    for (int64_t i = 0; i < p; ++i) sum += dy_n[o * p + i];
                    pb[o] += sum;
                }
            }
        }
        // Implicit barrier: every partial is complete, and no one reads col any more.
#pragma omp for schedule(static)
        for (int64_t i = 0; i < co * kd; ++i) {
            T sum = 0;
            for (int64_t c = 0; c < chunks; ++c) sum += weight_partials[c * co * kd + i];
            dw[i] = sum;
        }
#pragma omp single
        for (int64_t o = 0; o < co; ++o) {
            T sum = 0;
            for (int64_t c = 0; c < chunks; ++c) sum += bias_partials[c * co + o];
            db[o] = sum;
        }
        if (dx) {
#pragma omp for schedule(static)
            for (int64_t n = 0; n < d.batch; ++n) {
                T* dcol = workspace + n * kd * p;  // col_n's slot, free now
                blas::gemm(true, false, kd, p, co, T(1), w, kd, dy + n * co * p, p, T(0), dcol, p);
                col2im(dcol, dx + n * image_size, d);
            }
        }
    }
}

template void conv2d_forward<float>(const float*, const float*, const float*, float*,
                                    const Conv2dDims&, bool, bool, float*);
template void conv2d_forward<double>(const double*, const double*, const double*, double*,
                                     const Conv2dDims&, bool, bool, double*);
template void conv2d_backward<float>(const float*, const float*, float*, float*, float*,
                                     const Conv2dDims&, float*);
template void conv2d_backward<double>(const double*, const double*, double*, double*, double*,
                                      const Conv2dDims&, double*);

}  // namespace twp::cpu
