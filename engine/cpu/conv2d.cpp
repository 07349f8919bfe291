// conv2d on the CPU. Forward is a direct convolution vectorized over output channels; backward
// is im2col + one GEMM per group of images.
//
// Forward, per image (an OpenMP iteration): the input, zero-padded into a per-thread slot when
// padding > 0, is swept by blocks of kPositions output positions; each block keeps one vector of
// L output channels per position in registers (L = 8 when Co <= 8, else 16) and adds, tap by tap
// in (ci, kh, kw) order, the tap's input pixel times the tap's weights for those channels (the
// weights transposed once per call to wt [Kd, Co rounded up to L], zeros past Co). No im2col
// matrix is written: at LeNet-5's shapes building it cost as much as the GEMM that read it. Each
// output is 0 + the taps in order, then + bias, then ReLU: the same sum for any thread count.
//
// Backward: the batch is cut into kGradientChunks groups of consecutive images that depend on
// the batch size only, never on the thread count, so results are the same bits for any number of
// threads. For a group of g images, col [Kd, g*P] holds the images' im2col matrices side by side
// (for every (ci, kh, kw) row, each image's input shifted by (kh, kw), zero padding explicit), and
// dy's images go side by side into dy_g [Co, g*P]; the group's weight partial is dy_g · colᵀ and
// its bias partial dy_g's row sums; then dx's columns dcol = wᵀ · dy_g overwrite col and col2im
// adds them back to the images. One GEMM per image (16 x 100 x 150 for LeNet-5's conv2) is too
// small for OpenBLAS to reach its rate; a group's g*P columns are not. The partials are summed
// across groups in group order.
//
// Workspace layout (T elements): [ col: B*Kd*P (backward; forward's padded inputs) | dy_g:
// B*Co*P | weight partials: chunks*Co*Kd | bias partials: chunks*Co | wt: Kd*round16(Co) ].
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "engine/blas.hpp"
#include "engine/cpu/ops.hpp"
#include "engine/cpu/vector.hpp"

namespace twp::cpu {
namespace {

// Output positions per register block in forward: kPositions vectors of accumulators share
// each weight vector load.
constexpr int64_t kPositions = 4;
// Output channels per block when vectorizing over positions instead.
constexpr int64_t kChannelBlock = 8;
// Taps whose weight-gradient accumulators stay in registers at once (of AVX-512's 32).
constexpr int64_t kTapBlock = 16;

int64_t round_up(int64_t value, int64_t multiple) { return (value + multiple - 1) / multiple * multiple; }


int64_t chunk_count(int64_t batch) { return std::min(batch, kGradientChunks); }

// Group g of `groups` covers images [first(g), first(g + 1)): balanced, in order.
int64_t group_first(int64_t g, int64_t groups, int64_t batch) { return g * batch / groups; }

// Writes one image's im2col matrix [Kd, P] into col, whose rows are `ld` apart.
template <class T>
void im2col(const T* image, T* col, int64_t ld, const Conv2dDims& d) {
    const int64_t ho = d.out_height(), wo = d.out_width(), k = d.kernel, pad = d.padding;
    for (int64_t ci = 0; ci < d.in_channels; ++ci)
        for (int64_t kh = 0; kh < k; ++kh)
            for (int64_t kw = 0; kw < k; ++kw) {
                T* row = col + ((ci * k + kh) * k + kw) * ld;
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

// Adds every entry of one image's column matrix (rows `ld` apart) back to the input pixel it was
// copied from; image is overwritten.
template <class T>
void col2im(const T* col, int64_t ld, T* image, const Conv2dDims& d) {
    const int64_t ho = d.out_height(), wo = d.out_width(), k = d.kernel, pad = d.padding;
    std::fill(image, image + d.in_channels * d.height * d.width, T(0));
    for (int64_t ci = 0; ci < d.in_channels; ++ci)
        for (int64_t kh = 0; kh < k; ++kh)
            for (int64_t kw = 0; kw < k; ++kw) {
                const T* row = col + ((ci * k + kh) * k + kw) * ld;
                const int64_t ow_lo = std::clamp<int64_t>(pad - kw, 0, wo);
                const int64_t ow_hi = std::clamp<int64_t>(d.width + pad - kw, ow_lo, wo);
                for (int64_t oh = 0; oh < ho; ++oh) {
                    const int64_t ih = oh + kh - pad;
                    if (ih < 0 || ih >= d.height) continue;
                    T* dst = image + (ci * d.height + ih) * d.width + (kw - pad);
                    const T* src = row + oh * wo;
#pragma omp simd
                    for (int64_t ow = ow_lo; ow < ow_hi; ++ow) dst[ow] += src[ow];
                }
            }
}

// One image, vectorized over L output positions of a row (wo >= L), kChannelBlock channels at a
// time sharing each input vector load: in [Ci, hp, wp], wt [Kd, co_pad] -> y [Co, P]. For wide
// outputs with few channels (conv1: 28 positions a row, 6 channels). A row's last vector starts
// at wo - L and may overlap the one before: the overlap is computed twice, to the same bits.
template <class T, int L>
void forward_image_rows(const T* in, int64_t hp, int64_t wp, const T* wt, int64_t co_pad, const T* b,
                        T* y, const Conv2dDims& d, bool relu) {
    using Vec = typename VectorOf<T, L>::type;
    const int64_t ho = d.out_height(), wo = d.out_width(), p_count = d.pixels(), k = d.kernel;
    for (int64_t cb = 0; cb < d.out_channels; cb += kChannelBlock) {
        const int64_t channels = std::min(kChannelBlock, d.out_channels - cb);
        for (int64_t oh = 0; oh < ho; ++oh)
            for (int64_t c = 0;; c += L) {
                const int64_t ow0 = std::min(c, wo - L);
                Vec acc[kChannelBlock] = {};
                const T* w_tap = wt + cb;
                for (int64_t ci = 0; ci < d.in_channels; ++ci)
                    for (int64_t kh = 0; kh < k; ++kh) {
                        const T* row = in + (ci * hp + oh + kh) * wp + ow0;
                        for (int64_t kw = 0; kw < k; ++kw, w_tap += co_pad) {
                            Vec pixels;
                            std::memcpy(&pixels, row + kw, sizeof pixels);
                            for (int64_t j = 0; j < kChannelBlock; ++j) acc[j] += w_tap[j] * pixels;
                        }
                    }
                for (int64_t j = 0; j < channels; ++j) {
                    Vec v = acc[j] + b[cb + j];
                    if (relu) v = ((v > T(0)) | (v != v)) ? v : Vec{};  // ReLU keeps NaN
                    std::memcpy(y + (cb + j) * p_count + oh * wo + ow0, &v, sizeof v);
                }
                if (ow0 == wo - L) break;
            }
    }
}

// One image, vectorized over output channels: in [Ci, hp, wp] (padded already), wt [Kd, co_pad]
// -> y [Co, P]. For narrow outputs (conv2: 10 positions a row, 16 channels).
template <class T, int L>
void forward_image_channels(const T* in, int64_t hp, int64_t wp, const T* wt, int64_t co_pad, const T* b,
                            T* y, const Conv2dDims& d, bool relu) {
    using Vec = typename VectorOf<T, L>::type;
    const int64_t wo = d.out_width(), p_count = d.pixels(), k = d.kernel;
    for (int64_t cb = 0; cb < d.out_channels; cb += L) {
        const int64_t lanes = std::min<int64_t>(L, d.out_channels - cb);
        for (int64_t p0 = 0; p0 < p_count; p0 += kPositions) {
            // A block past the last position repeats it and stores only the real ones.
            int64_t base[kPositions];
            for (int64_t j = 0; j < kPositions; ++j) {
                const int64_t p = std::min(p0 + j, p_count - 1);
                base[j] = p / wo * wp + p % wo;
            }
            Vec acc[kPositions] = {};
            const T* w_tap = wt + cb;
            for (int64_t ci = 0; ci < d.in_channels; ++ci)
                for (int64_t kh = 0; kh < k; ++kh) {
                    const T* row = in + (ci * hp + kh) * wp;
                    for (int64_t kw = 0; kw < k; ++kw, w_tap += co_pad) {
                        Vec weights;
                        std::memcpy(&weights, w_tap, sizeof weights);
                        for (int64_t j = 0; j < kPositions; ++j) acc[j] += row[base[j] + kw] * weights;
                    }
                }
            const int64_t positions = std::min(kPositions, p_count - p0);
            for (int64_t j = 0; j < positions; ++j)
                for (int64_t l = 0; l < lanes; ++l) {
                    const T v = acc[j][l] + b[cb + l];
                    y[(cb + l) * p_count + p0 + j] = !relu || v > T(0) || v != v ? v : T(0);  // ReLU keeps NaN
                }
        }
    }
}

// The sum of v[0..n): 16 lanes over the whole vectors, the lanes in order, then the rest. A plain
// loop would be one chain of dependent adds (no reassociation in IEEE arithmetic): 4 cycles each.
template <class T>
T vector_sum(const T* v, int64_t n) {
    using Vec = typename VectorOf<T, 16>::type;
    Vec acc = {};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        Vec x;
        std::memcpy(&x, v + i, sizeof x);
        acc += x;
    }
    T sum = 0;
    for (int l = 0; l < 16; ++l) sum += acc[l];
    for (; i < n; ++i) sum += v[i];
    return sum;
}

// N taps of one output channel's weight gradient, vectorized over L output positions of a row
// (wo >= L): pw_o[t] += dy_o [P] correlated with in [Ci, hp, wp] at tap t's offset[t]. The N
// accumulators stay in registers (N is a template argument so the loops unroll) while each dy
// vector is reused by every tap. A row's last vector starts at wo - L; the lanes it shares with
// the vector before get dy = 0, so no position counts twice. Sums: per tap, rows and vectors in
// order, then the lanes in order.
template <class T, int L, int N>
void weight_gradient_taps(const T* in, int64_t wp, const T* dy_o, const int64_t* offset, T* pw_o,
                          const Conv2dDims& d) {
    using Vec = typename VectorOf<T, L>::type;
    using Lane = LaneOf<T>;
    using Lanes = typename VectorOf<Lane, L>::type;
    Lanes lane;
    for (int l = 0; l < L; ++l) lane[l] = l;
    const int64_t ho = d.out_height(), wo = d.out_width();
    Vec acc[N] = {};
    for (int64_t oh = 0; oh < ho; ++oh)
        for (int64_t c = 0;; c += L) {
            const int64_t ow0 = std::min(c, wo - L);
            Vec grad;
            std::memcpy(&grad, dy_o + oh * wo + ow0, sizeof grad);
            // A select, not a store into a lane, which would send the vector through memory.
            if (c > ow0) grad = lane >= Lane(c - ow0) ? grad : Vec{};
            const T* base = in + oh * wp + ow0;
            for (int t = 0; t < N; ++t) {
                Vec pixels;
                std::memcpy(&pixels, base + offset[t], sizeof pixels);
                acc[t] += grad * pixels;
            }
            if (ow0 == wo - L) break;
        }
    for (int t = 0; t < N; ++t) {
        T sum = 0;
        for (int l = 0; l < L; ++l) sum += acc[t][l];
        pw_o[t] += sum;
    }
}

// weight_gradient_taps<T, L, taps> for a run-time taps in 1..N.
template <class T, int L, int N = int(kTapBlock)>
void weight_gradient_taps(int64_t taps, const T* in, int64_t wp, const T* dy_o, const int64_t* offset, T* pw_o,
                          const Conv2dDims& d) {
    if constexpr (N >= 1) {
        if (taps == N) return weight_gradient_taps<T, L, N>(in, wp, dy_o, offset, pw_o, d);
        weight_gradient_taps<T, L, N - 1>(taps, in, wp, dy_o, offset, pw_o, d);
    }
}

// One image's weight gradient: pw [Co, Kd] += dy_image [Co, P] correlated with in [Ci, hp, wp]
// (padded already), in balanced blocks of at most kTapBlock taps.
template <class T, int L>
void weight_gradient_rows(const T* in, int64_t hp, int64_t wp, const T* dy_image, T* pw, const Conv2dDims& d) {
    const int64_t k = d.kernel, kd = d.patch();
    const int64_t blocks = (kd + kTapBlock - 1) / kTapBlock, block_size = (kd + blocks - 1) / blocks;
    int64_t offset[kTapBlock];  // of each tap's pixel from the output position's
    for (int64_t tb = 0; tb < kd; tb += block_size) {
        const int64_t taps = std::min(block_size, kd - tb);
        for (int64_t t = 0; t < taps; ++t) {
            const int64_t tap = tb + t, ci = tap / (k * k), kh = tap / k % k, kw = tap % k;
            offset[t] = (ci * hp + kh) * wp + kw;
        }
        for (int64_t o = 0; o < d.out_channels; ++o)
            weight_gradient_taps<T, L>(taps, in, wp, dy_image + o * d.pixels(), offset, pw + o * kd + tb, d);
    }
}

// N taps of 16 output channels' weight gradient, vectorized over the channels: pw[l * kd + t] +=
// the sum over positions p of in[p's pixel + offset[t]] * dy_t[p][l], dy_t [P, 16] being the
// channels' dy transposed. The N accumulators stay in registers while each position's dy vector
// is reused by every tap. For narrow outputs with 16k channels (conv2: 10 positions a row).
template <class T, int N>
void weight_gradient_channel_taps(const T* in, int64_t wp, const T* dy_t, const int64_t* offset, T* pw,
                                  int64_t kd, const Conv2dDims& d) {
    using Vec = typename VectorOf<T, 16>::type;
    const int64_t ho = d.out_height(), wo = d.out_width();
    Vec acc[N] = {};
    for (int64_t oh = 0; oh < ho; ++oh)
        for (int64_t ow = 0; ow < wo; ++ow) {
            Vec grad;
            std::memcpy(&grad, dy_t + (oh * wo + ow) * 16, sizeof grad);
            const T* base = in + oh * wp + ow;
            for (int t = 0; t < N; ++t) acc[t] += base[offset[t]] * grad;
        }
    for (int t = 0; t < N; ++t)
        for (int l = 0; l < 16; ++l) pw[l * kd + t] += acc[t][l];
}

// weight_gradient_channel_taps<T, taps> for a run-time taps in 1..N.
template <class T, int N = int(kTapBlock)>
void weight_gradient_channel_taps(int64_t taps, const T* in, int64_t wp, const T* dy_t, const int64_t* offset,
                                  T* pw, int64_t kd, const Conv2dDims& d) {
    if constexpr (N >= 1) {
        if (taps == N) return weight_gradient_channel_taps<T, N>(in, wp, dy_t, offset, pw, kd, d);
        weight_gradient_channel_taps<T, N - 1>(taps, in, wp, dy_t, offset, pw, kd, d);
    }
}

// One image's weight gradient, vectorized over output channels (Co a multiple of 16): pw [Co, Kd]
// += dy_image [Co, P] correlated with in [Ci, hp, wp] (padded already); dy_t is scratch [P, 16].
template <class T>
void weight_gradient_channels(const T* in, int64_t hp, int64_t wp, const T* dy_image, T* dy_t, T* pw,
                              const Conv2dDims& d) {
    const int64_t k = d.kernel, kd = d.patch(), p_count = d.pixels();
    const int64_t blocks = (kd + kTapBlock - 1) / kTapBlock, block_size = (kd + blocks - 1) / blocks;
    int64_t offset[kTapBlock];
    for (int64_t cb = 0; cb < d.out_channels; cb += 16) {
        for (int64_t p = 0; p < p_count; ++p)
            for (int64_t l = 0; l < 16; ++l) dy_t[p * 16 + l] = dy_image[(cb + l) * p_count + p];
        for (int64_t tb = 0; tb < kd; tb += block_size) {
            const int64_t taps = std::min(block_size, kd - tb);
            for (int64_t t = 0; t < taps; ++t) {
                const int64_t tap = tb + t, ci = tap / (k * k), kh = tap / k % k, kw = tap % k;
                offset[t] = (ci * hp + kh) * wp + kw;
            }
            weight_gradient_channel_taps<T>(taps, in, wp, dy_t, offset, pw + cb * kd + tb, kd, d);
        }
    }
}

// How backward computes the weight gradient: direct over a row's positions, direct over output
// channels, or im2col + GEMM (any other shape).
enum class WeightGradient { kRows, kChannels, kGemm };

// Few channels and rows of 16 positions or more: a vector of positions fills its lanes, a vector
// of channels would not.
bool vectorize_over_rows(const Conv2dDims& d) { return d.out_channels < 16 && d.out_width() >= 16; }

// The image [Ci, H, W] zero-padded into slot [Ci, H + 2 pad, W + 2 pad]; the image itself when
// there is no padding.
template <class T>
const T* padded(const T* image, T* slot, const Conv2dDims& d) {
    if (d.padding == 0) return image;
    const int64_t pad = d.padding, hp = d.height + 2 * pad, wp = d.width + 2 * pad;
    std::fill(slot, slot + d.in_channels * hp * wp, T(0));
    for (int64_t ci = 0; ci < d.in_channels; ++ci)
        for (int64_t ih = 0; ih < d.height; ++ih)
            std::copy_n(image + (ci * d.height + ih) * d.width, d.width, slot + (ci * hp + ih + pad) * wp + pad);
    return slot;
}

// L: the channel vector's lanes when vectorizing over channels; by_rows: over positions instead,
// with wt's rows padded to L >= kChannelBlock channels.
template <class T, int L>
void forward_batch(const T* x, const T* w, const T* b, T* y, const Conv2dDims& d, bool relu, bool by_rows,
                   T* workspace) {
    const int64_t kd = d.patch(), p = d.pixels(), co = d.out_channels, pad = d.padding;
    const int64_t image_size = d.in_channels * d.height * d.width;
    const int64_t hp = d.height + 2 * pad, wp = d.width + 2 * pad, padded_size = d.in_channels * hp * wp;
    const int64_t co_pad = round_up(co, L);
    T* padded_base = workspace;
    T* wt = workspace + d.batch * (kd + co) * p + chunk_count(d.batch) * co * (kd + 1);
    for (int64_t tap = 0; tap < kd; ++tap)
        for (int64_t o = 0; o < co_pad; ++o) wt[tap * co_pad + o] = o < co ? w[o * kd + tap] : T(0);
    // A padded image per thread when every thread has an image, else one per image; either fits
    // in col's B*Kd*P (padded_size <= Kd*P).
    const bool slot_per_thread = d.batch >= omp_get_max_threads();
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < d.batch; ++n) {
        T* slot = padded_base + (slot_per_thread ? omp_get_thread_num() : n) * padded_size;
        const T* in = padded(x + n * image_size, slot, d);
        if (by_rows) forward_image_rows<T, 16>(in, hp, wp, wt, co_pad, b, y + n * co * p, d, relu);
        else forward_image_channels<T, L>(in, hp, wp, wt, co_pad, b, y + n * co * p, d, relu);
    }
}

}  // namespace

int64_t conv2d_workspace_size(const Conv2dDims& d) {
    const int64_t chunks = chunk_count(d.batch);
    return d.batch * (d.patch() + d.out_channels) * d.pixels() + chunks * d.out_channels * (d.patch() + 1) +
           d.patch() * round_up(d.out_channels, 16);
}

template <class T>
void conv2d_forward(const T* x, const T* w, const T* b, T* y, const Conv2dDims& d, bool relu, T* workspace) {
    // Few channels and rows of 16 positions or more: a vector of positions fills its lanes, a
    // vector of channels would not.
    const bool by_rows = vectorize_over_rows(d);
    if (d.out_channels <= 8) forward_batch<T, 8>(x, w, b, y, d, relu, by_rows, workspace);
    else forward_batch<T, 16>(x, w, b, y, d, relu, by_rows, workspace);
}

template <class T>
void conv2d_backward(const T* x, const T* w, const T* dy, T* dx, T* dw, T* db, const Conv2dDims& d,
                     T* workspace) {
    const int64_t kd = d.patch(), p = d.pixels(), co = d.out_channels;
    const int64_t image_size = d.in_channels * d.height * d.width;
    const int64_t chunks = chunk_count(d.batch);
    T* col_base = workspace;
    T* scratch_base = workspace + d.batch * kd * p;
    T* weight_partials = scratch_base + d.batch * co * p;   // [chunks, Co, Kd]
    T* bias_partials = weight_partials + chunks * co * kd;  // [chunks, Co]
    const int64_t hp = d.height + 2 * d.padding, wp = d.width + 2 * d.padding;
    const WeightGradient method = vectorize_over_rows(d)          ? WeightGradient::kRows
                                  : co % 16 == 0 && kd >= co ? WeightGradient::kChannels
                                                             : WeightGradient::kGemm;

#pragma omp parallel
    {
#pragma omp for schedule(static)
        for (int64_t c = 0; c < chunks; ++c) {
            const int64_t first = group_first(c, chunks, d.batch);
            const int64_t count = group_first(c + 1, chunks, d.batch) - first, n_cols = count * p;
            T* col = col_base + first * kd * p;
            T* dy_group = scratch_base + first * co * p;  // [Co, count*P]
            T* pw = weight_partials + c * co * kd;
            T* pb = bias_partials + c * co;
            for (int64_t o = 0; o < co; ++o) {
                T sum = 0;
                for (int64_t j = 0; j < count; ++j) sum += vector_sum(dy + ((first + j) * co + o) * p, p);
                pb[o] = sum;
            }
            if (method != WeightGradient::kGemm) {
                // col's slot holds the padded image; dy_group's, the transposed dy (before it
                // takes dy_g for dx below).
                std::fill(pw, pw + co * kd, T(0));
                for (int64_t j = 0; j < count; ++j) {
                    const T* in = padded(x + (first + j) * image_size, col, d);
                    const T* dy_image = dy + (first + j) * co * p;
                    if (method == WeightGradient::kRows) weight_gradient_rows<T, 16>(in, hp, wp, dy_image, pw, d);
                    else weight_gradient_channels(in, hp, wp, dy_image, dy_group, pw, d);
                }
            }
            if (method == WeightGradient::kGemm || dx)
                for (int64_t j = 0; j < count; ++j)
                    for (int64_t o = 0; o < co; ++o)
                        std::copy_n(dy + ((first + j) * co + o) * p, p, dy_group + o * n_cols + j * p);
            if (method == WeightGradient::kGemm) {
                for (int64_t j = 0; j < count; ++j) im2col(x + (first + j) * image_size, col + j * p, n_cols, d);
                blas::gemm(false, true, co, kd, n_cols, T(1), dy_group, n_cols, col, n_cols, T(0), pw, kd);
            }
            if (dx) {
                // col is no longer needed by this group: its slot takes dx's columns.
                blas::gemm(true, false, kd, n_cols, co, T(1), w, kd, dy_group, n_cols, T(0), col, n_cols);
                for (int64_t j = 0; j < count; ++j) col2im(col + j * p, n_cols, dx + (first + j) * image_size, d);
            }
        }
        // Implicit barrier: every partial is complete.
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
    }
}

template void conv2d_forward<float>(const float*, const float*, const float*, float*,
                                    const Conv2dDims&, bool, float*);
template void conv2d_forward<double>(const double*, const double*, const double*, double*,
                                     const Conv2dDims&, bool, double*);
template void conv2d_backward<float>(const float*, const float*, const float*, float*, float*, float*,
                                     const Conv2dDims&, float*);
template void conv2d_backward<double>(const double*, const double*, const double*, double*, double*, double*,
                                      const Conv2dDims&, double*);

}  // namespace twp::cpu
