// conv2d for LeNet-5's small planes, three kernels plus a finishing sum:
//
// forward: one block per (image, group of up to 4 output channels). The block stages the image,
//   zero padding made explicit ([Ci, H+2p, W+2p]: conv1 is 32x32 floats, conv2 6x14x14), and the
//   group's filters ([G, Ci, K, K]) in shared memory, then each thread computes outputs
//   (channel, pixel) = t, t + blockDim, ... of the group: bias, then the Ci*K*K products in
//   (ci, kh, kw) order, then the optional ReLU, written once. Consecutive threads take
//   consecutive pixels of a row, so their shared reads hit consecutive banks and the filter value
//   is a broadcast. Splitting the channels into groups gives the grid more blocks at batch 32
//   (conv1: 64, conv2: 128) at the price of staging an image a few times, which is cheap.
//
// backward data (dx): one block per (image, input channel). The block stages the image's whole dy
//   [Co, Ho, Wo] and the filters' slice w[:, ci] [Co, K, K]; each thread computes input pixels
//   t, t + blockDim, ... as the sum over (o, kh, kw) of dy[o, ih + p - kh, iw + p - kw] *
//   w[o, ci, kh, kw] over the taps that land inside dy (a gather: no two threads write the same
//   pixel, so no atomics).
//
// backward weights (dw, db): the batch is cut into fixed chunks of kImagesPerChunk images; one
//   block per (chunk, output channel o, group of up to 256 entries). An entry is one filter tap
//   (ci, kh, kw), or the bias, entry E = Ci*K*K, whose "input" is 1. The block stages the chunk's
//   images (zero border explicit) and dy[n, o] planes in shared memory, all at once when they fit
//   (LeNet-5: 29 KiB for conv1, 20 KiB for conv2), so one barrier covers the whole chunk. Its
//   threads are S slices of EG entries (conv1: 26 entries x 9 slices, conv2: 151 x 1); thread
//   (slice s, entry e) sums dy[n, o, pixel] * x[n, ci, pixel + (kh, kw)] over the pixels s, s + S,
//   ... of every image of the chunk in order. The slices are added in order s = 0..S-1 and the
//   chunk's partial written to the workspace. The finishing kernel adds the chunks' partials in
//   chunk order, one thread per dw / db value. Every sum has a fixed order, so the result does
//   not depend on the launch timing: the same bits every run, with no atomics.
#include "kernels/cuda_compat.hpp"
#include "kernels/launch.hpp"

#include <algorithm>
#include <climits>

#include "engine/op_checks.hpp"
#include "kernels/conv2d.cuh"

namespace twp::kernels {
namespace {

constexpr int kMaxBlock = 256;
constexpr int kMaxChannelsPerBlock = 4;        // forward: output channels per block
constexpr int kImagesPerChunk = 4;             // backward weights: images per partial sum
constexpr int kWeightBlock = 256;              // backward weights: at most this many threads

// The geometry in int (the launchers check that every size fits), laid out for the kernels.
struct ConvGeometry {
    int batch, in_channels, height, width;  // x [B, Ci, H, W]
    int out_channels, kernel, padding;      // w [Co, Ci, K, K], p
    int out_height, out_width;              // y [B, Co, Ho, Wo]
    int padded_height, padded_width;        // H + 2p, W + 2p

    __host__ __device__ int pixels() const { return out_height * out_width; }              // P
    __host__ __device__ int padded_plane() const { return padded_height * padded_width; }
    __host__ __device__ int entries() const { return in_channels * kernel * kernel; }      // E
};

ConvGeometry geometry_of(const Conv2dDims& d) {
    const int64_t padded_h = d.height + 2 * d.padding, padded_w = d.width + 2 * d.padding;
    const int64_t largest = std::max({d.batch * d.in_channels * d.height * d.width,
                                      d.batch * d.out_channels * d.pixels(),
                                      d.out_channels * d.patch(),
                                      d.in_channels * padded_h * padded_w});
    TWP_CHECK(largest <= INT_MAX, "conv2d: sizes too large for the LeNet conv kernels");
    return ConvGeometry{int(d.batch),        int(d.in_channels), int(d.height),
                        int(d.width),        int(d.out_channels), int(d.kernel),
                        int(d.padding),      int(d.out_height()), int(d.out_width()),
                        int(padded_h),       int(padded_w)};
}

// A block of threads for `work` items: whole warps, at most kMaxBlock.
unsigned block_for(int64_t work) {
    return unsigned(std::min<int64_t>(kMaxBlock, std::max<int64_t>(32, (work + 31) / 32 * 32)));
}

int64_t chunk_count(int64_t batch) { return (batch + kImagesPerChunk - 1) / kImagesPerChunk; }


// Copies image [Ci, H, W] into tile [Ci, H+2p, W+2p] with the zero border written explicitly.
__device__ void stage_padded_image(const float* __restrict__ image, float* __restrict__ tile,
                                   const ConvGeometry& g) {
    const int plane = g.padded_plane();
    for (int i = threadIdx.x; i < g.in_channels * plane; i += blockDim.x) {
        const int ci = i / plane, r = (i % plane) / g.padded_width, c = i % g.padded_width;
        const int ih = r - g.padding, iw = c - g.padding;
        tile[i] = (ih >= 0 && ih < g.height && iw >= 0 && iw < g.width)
                      ? image[(ci * g.height + ih) * g.width + iw]
                      : 0.0f;
    }
}

// grid (B, ceil(Co / G)); dynamic shared: tile [Ci, Hp, Wp] then filters [G, Ci, K, K].
__global__ void conv2d_forward_kernel(const float* __restrict__ x /* [B, Ci, H, W] */,
                                      const float* __restrict__ w /* [Co, Ci, K, K] */,
                                      const float* __restrict__ b /* [Co] */,
                                      float* __restrict__ y /* [B, Co, Ho, Wo] */, ConvGeometry g,
                                      int channels_per_block, bool relu) {
    TWP_DYNAMIC_SHARED(float, shared);
    float* tile = shared;
    float* filters = shared + g.in_channels * g.padded_plane();
    const int64_t n = blockIdx.x;
    const int first_channel = blockIdx.y * channels_per_block;
    const int channels = min(channels_per_block, g.out_channels - first_channel);
    const int entries = g.entries(), k = g.kernel, pixels = g.pixels();

    stage_padded_image(x + n * g.in_channels * g.height * g.width, tile, g);
    for (int i = threadIdx.x; i < channels * entries; i += blockDim.x)
        filters[i] = w[int64_t(first_channel) * entries + i];
    __syncthreads();  // the tile and the filters are complete before anyone reads them

    for (int i = threadIdx.x; i < channels * pixels; i += blockDim.x) {
        const int local = i / pixels, pixel = i % pixels;
        const int oh = pixel / g.out_width, ow = pixel % g.out_width;
        const float* filter = filters + local * entries;
        float sum = b[first_channel + local];
        for (int ci = 0; ci < g.in_channels; ++ci) {
            const float* window = tile + (ci * g.padded_height + oh) * g.padded_width + ow;
            for (int kh = 0; kh < k; ++kh)
                for (int kw = 0; kw < k; ++kw)
                    sum += filter[(ci * k + kh) * k + kw] * window[kh * g.padded_width + kw];
        }
        if (relu && !(sum > 0.0f || sum != sum)) sum = 0.0f;  // ReLU, NaN kept
        y[(n * g.out_channels + first_channel + local) * pixels + pixel] = sum;
    }
}

// grid (B, Ci); dynamic shared: dy of the image [Co, Ho, Wo] then w[:, ci] [Co, K, K].
__global__ void conv2d_backward_data_kernel(const float* __restrict__ w /* [Co, Ci, K, K] */,
                                            const float* __restrict__ dy /* [B, Co, Ho, Wo] */,
                                            float* __restrict__ dx /* [B, Ci, H, W] */,
                                            ConvGeometry g) {
    TWP_DYNAMIC_SHARED(float, shared);
    const int k = g.kernel, taps = k * k, pixels = g.pixels();
    float* dy_image = shared;
    float* filters = shared + g.out_channels * pixels;
    const int64_t n = blockIdx.x;
    const int ci = blockIdx.y;

    for (int i = threadIdx.x; i < g.out_channels * pixels; i += blockDim.x)
        dy_image[i] = dy[n * g.out_channels * pixels + i];
    for (int i = threadIdx.x; i < g.out_channels * taps; i += blockDim.x)
        filters[i] = w[(int64_t(i / taps) * g.in_channels + ci) * taps + i % taps];
    __syncthreads();  // dy and the filters are complete before anyone reads them

    for (int i = threadIdx.x; i < g.height * g.width; i += blockDim.x) {
        const int ih = i / g.width, iw = i % g.width;
        // Taps whose output pixel (ih + p - kh, iw + p - kw) lies inside [Ho, Wo].
        const int kh_lo = max(0, ih + g.padding - g.out_height + 1);
        const int kh_hi = min(k - 1, ih + g.padding);
        const int kw_lo = max(0, iw + g.padding - g.out_width + 1);
        const int kw_hi = min(k - 1, iw + g.padding);
        float sum = 0.0f;
        for (int o = 0; o < g.out_channels; ++o)
            for (int kh = kh_lo; kh <= kh_hi; ++kh) {
                const float* dy_row =
                    dy_image + (o * g.out_height + ih + g.padding - kh) * g.out_width;
                const float* filter_row = filters + (o * k + kh) * k;
                for (int kw = kw_lo; kw <= kw_hi; ++kw)
                    sum += dy_row[iw + g.padding - kw] * filter_row[kw];
            }
        dx[((n * g.in_channels + ci) * g.height + ih) * g.width + iw] = sum;
    }
}

// grid (chunks, Co, ceil((E + 1) / EG)); dynamic shared: per staged image, tile [Ci, Hp, Wp]
// then dy's plane [P]. Writes partials [chunks, Co, E + 1] (the last entry is the bias's).
__global__ void conv2d_backward_weights_kernel(const float* __restrict__ x /* [B, Ci, H, W] */,
                                               const float* __restrict__ dy /* [B, Co, Ho, Wo] */,
                                               float* __restrict__ partials, ConvGeometry g,
                                               int group_entries /* EG */,
                                               int images_per_stage) {
    TWP_DYNAMIC_SHARED(float, shared);
    __shared__ float slice_sums[kWeightBlock];

    const int chunk = blockIdx.x, o = blockIdx.y;
    const int k = g.kernel, pixels = g.pixels(), entries = g.entries() + 1;  // E + 1
    const int tile_size = g.in_channels * g.padded_plane(), staged_size = tile_size + pixels;
    const int image_size = g.in_channels * g.height * g.width;
    const int slices = kWeightBlock / group_entries;  // S >= 1
    const int t = threadIdx.x, slice = t / group_entries, local = t % group_entries;
    const int entry = blockIdx.z * group_entries + local;
    const bool active = slice < slices && entry < entries;
    const bool bias = entry == entries - 1;
    // The tap's (ci, kh, kw) as an offset into a tile: pixel (oh, ow) reads
    // tile[offset + oh * Wp + ow].
    const int ci = entry / (k * k), kh = (entry / k) % k, kw = entry % k;
    const int offset = (ci * g.padded_height + kh) * g.padded_width + kw;

    const int first = chunk * kImagesPerChunk, last = min(g.batch, first + kImagesPerChunk);
    float sum = 0.0f;
    for (int stage = first; stage < last; stage += images_per_stage) {
        const int staged = min(images_per_stage, last - stage);
        if (stage != first) __syncthreads();  // everyone is done with the previous stage
        for (int m = 0; m < staged; ++m) {
            float* tile = shared + m * staged_size;
            stage_padded_image(x + int64_t(stage + m) * image_size, tile, g);
            const float* dy_source = dy + (int64_t(stage + m) * g.out_channels + o) * pixels;
            for (int i = t; i < pixels; i += blockDim.x) tile[tile_size + i] = dy_source[i];
        }
        __syncthreads();  // the images and dy's planes are complete before anyone reads them
        if (!active) continue;
        for (int m = 0; m < staged; ++m) {
            const float* tile = shared + m * staged_size;
            const float* dy_plane = tile + tile_size;
            if (bias) {
                for (int pixel = slice; pixel < pixels; pixel += slices) sum += dy_plane[pixel];
            } else {
                for (int pixel = slice; pixel < pixels; pixel += slices) {
                    const int oh = pixel / g.out_width, ow = pixel % g.out_width;
                    sum += dy_plane[pixel] * tile[offset + oh * g.padded_width + ow];
                }
            }
        }
    }

    slice_sums[t] = sum;
    __syncthreads();  // every slice's sum is in shared memory
    if (slice == 0 && active) {
        float total = slice_sums[local];
        for (int s = 1; s < slices; ++s) total += slice_sums[s * group_entries + local];
        partials[(int64_t(chunk) * g.out_channels + o) * entries + entry] = total;
    }
}

// One thread per dw / db value (o, e) with e in 0..E, e = E being the bias: the chunks' partials
// added in chunk order.
__global__ void conv2d_sum_chunks_kernel(const float* __restrict__ partials /* [chunks, Co, E+1] */,
                                         float* __restrict__ dw /* [Co, E] */,
                                         float* __restrict__ db /* [Co] */, int chunks,
                                         int out_channels, int entries /* E */) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    const int per_chunk = out_channels * (entries + 1);
    if (i >= per_chunk) return;
    float sum = 0.0f;
    for (int c = 0; c < chunks; ++c) sum += partials[int64_t(c) * per_chunk + i];
    const int o = i / (entries + 1), e = i % (entries + 1);
    if (e < entries) dw[o * entries + e] = sum;
    else db[o] = sum;
}

// Dynamic shared memory a launch may ask for: the 48 KiB a block gets without an opt-in, less the
// kernel's static shared arrays.
void check_shared(int64_t bytes, int64_t limit, const char* op, const Conv2dDims& d) {
    TWP_CHECK(bytes <= limit,
              op << ": x [" << d.batch << ", " << d.in_channels << ", " << d.height << ", "
                 << d.width << "] with " << d.out_channels << " output channels needs " << bytes
                 << " bytes of shared memory, more than the " << limit
                 << " these kernels (made for LeNet-5's small planes) may use");
}

int forward_channels_per_block(int64_t out_channels) {
    const int64_t groups = (out_channels + kMaxChannelsPerBlock - 1) / kMaxChannelsPerBlock;
    return int((out_channels + groups - 1) / groups);  // groups of nearly equal size
}

}  // namespace

void conv2d_forward(Tensor x, Tensor w, Tensor b, Tensor y, int padding, Activation activation,
                    Stream stream) {
    const Conv2dDims d = checks::conv2d(x, w, b, y, padding);
    if (d.batch == 0 || d.out_channels == 0) return;
    const ConvGeometry g = geometry_of(d);
    const int group = forward_channels_per_block(d.out_channels);
    const int64_t bytes = sizeof(float) * (int64_t(g.in_channels) * g.padded_plane() +
                                           int64_t(group) * g.entries());
    check_shared(bytes, int64_t(kDefaultSharedBytes), "conv2d_forward", d);
    const dim3 grid(unsigned(d.batch), unsigned((d.out_channels + group - 1) / group));
    launch("conv2d_forward", conv2d_forward_kernel, grid, dim3(block_for(group * d.pixels())),
           std::size_t(bytes), stream, static_cast<const float*>(x.data),
           static_cast<const float*>(w.data), static_cast<const float*>(b.data), y.data, g, group,
           activation == Activation::kRelu);
}

int64_t conv2d_backward_workspace_floats(Shape x, Shape w, int padding) {
    const Conv2dDims d = checks::conv2d(x, w, padding);
    return chunk_count(d.batch) * d.out_channels * (d.patch() + 1);
}

void conv2d_backward(Tensor x, Tensor w, Tensor dy, Tensor dx, Tensor dw, Tensor db, int padding,
                     Tensor workspace, Stream stream) {
    const Conv2dDims d = checks::conv2d_backward(x, w, dy, dx, dw, db, padding);
    const int64_t chunks = chunk_count(d.batch);
    checks::workspace(workspace, chunks * d.out_channels * (d.patch() + 1), "conv2d_backward");
    if (d.out_channels == 0) return;
    const ConvGeometry g = geometry_of(d);

    if (!dx.empty() && d.batch > 0 && d.in_channels > 0) {
        const int64_t bytes = sizeof(float) * (int64_t(g.out_channels) * g.pixels() +
                                               int64_t(g.out_channels) * g.kernel * g.kernel);
        check_shared(bytes, int64_t(kDefaultSharedBytes), "conv2d_backward (dx)", d);
        launch("conv2d_backward_data", conv2d_backward_data_kernel,
               dim3(unsigned(d.batch), unsigned(d.in_channels)),
               dim3(block_for(d.height * d.width)), std::size_t(bytes), stream,
               static_cast<const float*>(w.data), static_cast<const float*>(dy.data), dx.data, g);
    }

    if (chunks > 0) {
        const int64_t entries = d.patch() + 1;  // the taps and the bias
        const int group_entries = int(std::min<int64_t>(entries, kWeightBlock));
        const int slices = kWeightBlock / group_entries;
        // Stage the whole chunk when it fits (LeNet-5's layers do), else as many images as fit.
        const int64_t staged_bytes =
            sizeof(float) * (int64_t(g.in_channels) * g.padded_plane() + g.pixels());
        // The kernel's static slice_sums take their share of the block's 48 KiB.
        const int64_t limit = int64_t(kDefaultSharedBytes) - int64_t(sizeof(float)) * kWeightBlock;
        check_shared(staged_bytes, limit, "conv2d_backward (dw)", d);
        const int images_per_stage =
            int(std::clamp<int64_t>(limit / staged_bytes, 1, kImagesPerChunk));
        const dim3 grid(unsigned(chunks), unsigned(d.out_channels),
                        unsigned((entries + group_entries - 1) / group_entries));
        launch("conv2d_backward_weights", conv2d_backward_weights_kernel, grid,
               dim3(block_for(int64_t(slices) * group_entries)),
               std::size_t(images_per_stage * staged_bytes), stream,
               static_cast<const float*>(x.data), static_cast<const float*>(dy.data),
               workspace.data, g, group_entries, images_per_stage);
    }
    // With an empty batch there are no chunks and the sums below are zero, as they should be.
    const int64_t outputs = d.out_channels * (d.patch() + 1);
    launch("conv2d_sum_chunks", conv2d_sum_chunks_kernel,
           dim3(unsigned((outputs + kMaxBlock - 1) / kMaxBlock)), dim3(kMaxBlock), 0, stream,
           static_cast<const float*>(workspace.data), dw.data, db.data, int(chunks),
           int(d.out_channels), int(d.patch()));
}

}  // namespace twp::kernels
