// Fused multi-head self-attention kernels (kernels/attention.cuh). With c = 1 / sqrt(Dh), m_ij the
// dropout multiplier of probs' element (b, h, i, j) and q_i, k_j, v_j, dout_i the head's Dh-wide
// row slices, per (batch item b, head h), exactly as engine/cpu/attention.cpp:
//   forward:  P_ij = softmax_j(c q_i·k_j) (row maximum subtracted), out_i = sum_j P_ij m_ij v_j
//   backward: dP_ij = m_ij dout_i·v_j;  dS_ij = P_ij (dP_ij - sum_k P_ik dP_ik);
//             dq_i = c sum_j dS_ij k_j;  dk_j = c sum_i dS_ij q_i;  dv_j = sum_i P_ij m_ij dout_i.
//
// Design. One block of 256 threads per (b, h): grid [B * heads]. The sequences are short
// (S <= 32) but the head may be wide (Dh up to thousands: heads = 1 with D = 4096), so the S x S
// matrices stay in shared memory as doubles (at most 8 KiB each) while q, k, v and dout are
// streamed through shared memory in tiles of S rows x 64 columns of the head (8.1 KiB per operand
// at S = 32, rows padded to 65 floats against bank conflicts). Every element of q, k, v, dout is
// read from global memory once per kernel (the tiles are loaded coalesced along the head's
// columns), and every output is written once; nothing else (dS, the mask) goes through global
// memory. The alternative, a head's whole q/k/v in shared memory, caps Dh near 600 at S = 32;
// splitting Dh over several blocks needs a second pass or atomics for the dot products
// (non-deterministic), and more blocks only pay when B * heads is below the number of SMs (132 on
// an H200; the predictor's batch of 32 windows with D = 500 and 5 heads makes 160 blocks).
//
// The S^2 dot products (q_i·k_j forward, dout_i·v_j backward) use a group of G threads per pair
// (G = the largest power of two <= min(32, 256 / S^2): 16 at S = 3, 1 at S >= 16), each summing
// columns g, g + G, ... of every tile into a double register, then a xor butterfly of shuffles
// inside the group (the same bits in every member; fixed order): at small S the block is not left
// idle. A pair's sum runs in another order than the CPU's sequential loop, so the scores may differ
// from the CPU's by a few units of 1e-16 (relative to the sum of |terms|). The softmax of row i is
// one thread's serial loop in the CPU's order; the per-column sums (out, dq, dk, dv: one thread
// per (row, column) of a tile) run over j or i in the CPU's order too, in double, rounded once.
//
// Dropout: m_ij = dropout_keep(seed, offset + ((b*heads + h)*S + i)*S + j, p) ? 1 / (1 - p) : 0,
// the CPU's function compiled for the device (TWP_HOST_DEVICE); the scale is computed on the host
// in double as the CPU's dropout_multipliers<double> does. The backward recomputes the mask.
//
// Cost per (b, h), with S the sequence length and Dh the head width (FLOPs in FP64 on the GPU;
// bytes to and from global memory, 4-byte floats; the softmax's S^2 exp and the mask's S^2 Philox
// rounds not counted):
//   forward:  FLOPs 4 S^2 Dh (2 S^2 Dh scores + 2 S^2 Dh output); bytes 4 (4 S Dh + S^2)
//             (read q, k, v; write out and probs)
//   backward: FLOPs 8 S^2 Dh (dP, dq, dk, dv: 2 S^2 Dh each); bytes 4 (7 S Dh + S^2)
//             (read q, k, v, dout, probs; write dq, dk, dv)
// The intensity is at most S/4 (forward) or 2S/7 (backward) FLOP per byte: at S <= 32 it stays
// near or below the H200's FP64 ridge point (about 34 TFLOP/s over 4.8 TB/s, 7 FLOP/byte), so
// summing in double costs little against the memory traffic. Shared memory per block:
// forward 8 S^2 + 2 * 4 * 65 S bytes (24.3 KiB at S = 32), backward 16 S^2 + 3 * 4 * 65 S bytes
// (40.4 KiB at S = 32), below the 48 KiB that needs no opt-in.
#include "kernels/cuda_compat.hpp"
#include "kernels/launch.hpp"

#include <cmath>
#include <cstdint>

#include "engine/op_checks.hpp"
#include "engine/random.hpp"
#include "kernels/attention.cuh"

namespace twp::kernels {
namespace {

constexpr int kThreads = 256;
constexpr int kTile = 64;  // head columns per shared-memory tile
// A tile's row stride in shared memory: one float of padding, so that the 32 threads of a warp
// reading column c of 32 different rows (the dot products at S >= 16, one pair per thread) hit
// 32 different banks instead of one (a stride of 64 floats maps every row to the same bank).
constexpr int kTileStride = kTile + 1;
constexpr int kMaxPairsPerThread = kAttentionMaxSeq * kAttentionMaxSeq / kThreads;  // at G = 1
constexpr unsigned kFullMask = 0xffffffffu;

static_assert(kAttentionMaxSeq * kAttentionMaxSeq % kThreads == 0, "pairs per thread must be whole");

// The block's geometry, the same in every thread.
struct HeadGeometry {
    int seq;            // S
    int group;          // G threads per (i, j) pair in the dot products: a power of two <= 32
    int64_t dim;        // D
    int64_t head_dim;   // Dh
    int heads;
};

// The multiplier m of probs' element `counter - offset`, as dropout_multipliers<double> (CPU).
struct DropoutMultiplier {
    uint64_t seed, offset;
    float p;
    double scale;  // 1 / (1 - p), 0 for p == 1

    __device__ double operator()(uint64_t index) const {
        if (p == 0.0f) return 1.0;
        return dropout_keep(seed, offset + index, p) ? scale : 0.0;
    }
};

// Columns first .. first + width - 1 of the head form the tile starting at `first`.
__device__ int tile_width(const HeadGeometry& geo, int64_t first) {
    return int(geo.head_dim - first < kTile ? geo.head_dim - first : kTile);
}

// tile [S, kTileStride] <- rows 0..S-1, columns 0..width-1 of `source` (row stride
// `stride`), coalesced along the columns.
__device__ void load_tile(const float* source, int64_t stride, int seq, int width, float* tile) {
    for (int index = threadIdx.x; index < seq * width; index += kThreads) {
        const int row = index / width, column = index % width;
        tile[row * kTileStride + column] = source[row * stride + column];
    }
}

// sums[r] += a_i · b_j over the tile's `width` columns, for the pairs (i, j) = pair / S, pair % S
// with pair = threadIdx.x / G + r * (kThreads / G); this thread takes columns g, g + G, ...
__device__ void accumulate_dots(const float* a, const float* b, const HeadGeometry& geo, int width,
                                double (&sums)[kMaxPairsPerThread]) {
    const int member = threadIdx.x % geo.group, groups = kThreads / geo.group;
    for (int r = 0; r < kMaxPairsPerThread; ++r) {
        const int pair = int(threadIdx.x) / geo.group + r * groups;
        if (pair >= geo.seq * geo.seq) break;
        const float* row_a = a + (pair / geo.seq) * kTileStride;
        const float* row_b = b + (pair % geo.seq) * kTileStride;
        double sum = sums[r];
        for (int column = member; column < width; column += geo.group)
            sum += double(row_a[column]) * double(row_b[column]);
        sums[r] = sum;
    }
}

// dots [S, S] <- a_i · b_j for the rows of A and B (row strides stride_a, stride_b; Dh columns
// each), streamed in tiles through tile_a and tile_b [S, kTileStride]. Every thread of the block must
// call it (barriers and shuffles inside).
__device__ void head_dots(const float* a, int64_t stride_a, const float* b, int64_t stride_b,
                          const HeadGeometry& geo, float* tile_a, float* tile_b, double* dots) {
    double sums[kMaxPairsPerThread] = {};
    for (int64_t first = 0; first < geo.head_dim; first += kTile) {
        const int width = tile_width(geo, first);
        load_tile(a + first, stride_a, geo.seq, width, tile_a);
        load_tile(b + first, stride_b, geo.seq, width, tile_b);
        __syncthreads();  // the tiles are complete before anyone reads them
        accumulate_dots(tile_a, tile_b, geo, width, sums);
        __syncthreads();  // everyone is done reading before the next tile overwrites them
    }
    // The group's partial sums, combined by a xor butterfly: every member ends with the same bits.
    // Every lane of every warp runs every shuffle (groups never straddle warps: G divides 32).
    for (int r = 0; r < kMaxPairsPerThread; ++r)
        for (int offset = geo.group / 2; offset > 0; offset /= 2)
            sums[r] += __shfl_xor_sync(kFullMask, sums[r], offset, geo.group);
    const int groups = kThreads / geo.group;
    if (threadIdx.x % geo.group == 0)
        for (int r = 0; r < kMaxPairsPerThread; ++r) {
            const int pair = int(threadIdx.x) / geo.group + r * groups;
            if (pair < geo.seq * geo.seq) dots[pair] = sums[r];
        }
}

__global__ void __launch_bounds__(kThreads)
    attention_forward_kernel(const float* __restrict__ qkv /* [B, S, 3D] */,
                             float* __restrict__ probs /* [B, heads, S, S] */,
                             float* __restrict__ out /* [B, S, D] */, HeadGeometry geo, double scale,
                             DropoutMultiplier multiplier) {
    TWP_DYNAMIC_SHARED(double, shared);
    const int s = geo.seq;
    double* weights = shared;                                   // [S, S]: scores, then P_ij m_ij
    float* tile_a = reinterpret_cast<float*>(weights + s * s);  // [S, kTileStride]
    float* tile_b = tile_a + s * kTileStride;                         // [S, kTileStride]
    const int64_t pair = blockIdx.x, b = pair / geo.heads, h = pair % geo.heads;
    const int64_t row = 3 * geo.dim;  // qkv's row stride
    const float* q = qkv + b * s * row + h * geo.head_dim;  // q_i = q + i*row, k_j = +D, v_j = +2D
    float* p = probs + pair * s * s;

    head_dots(q, row, q + geo.dim, row, geo, tile_a, tile_b, weights);
    __syncthreads();  // all S^2 dot products are in shared memory

    if (int(threadIdx.x) < s) {  // row i's softmax, serial in the CPU's order
        const int i = threadIdx.x;
        double* w = weights + i * s;
        double top = -INFINITY;
        for (int j = 0; j < s; ++j) {
            w[j] *= scale;
            top = top < w[j] ? w[j] : top;
        }
        double total = 0;
        for (int j = 0; j < s; ++j) {
            w[j] = exp(w[j] - top);
            total += w[j];
        }
        for (int j = 0; j < s; ++j) {
            const double probability = w[j] / total;
            p[i * s + j] = float(probability);
            w[j] = probability * multiplier(uint64_t(pair * s * s + i * s + j));
        }
    }
    // No barrier here: the first tile's barrier below (there is always one tile, Dh >= 1) also
    // orders the softmax's writes to weights before the output reads them.

    // out_i = sum_j w_ij v_j, one tile of v's columns at a time, one thread per (i, column).
    const float* v = q + 2 * geo.dim;
    float* o = out + b * s * geo.dim + h * geo.head_dim;  // out_i = o + i*D
    for (int64_t first = 0; first < geo.head_dim; first += kTile) {
        const int width = tile_width(geo, first);
        load_tile(v + first, row, s, width, tile_a);
        __syncthreads();  // the tile (and, the first time, the weights) is complete
        for (int index = threadIdx.x; index < s * width; index += kThreads) {
            const int i = index / width, column = index % width;
            double sum = 0;
            for (int j = 0; j < s; ++j) sum += weights[i * s + j] * double(tile_a[j * kTileStride + column]);
            o[i * geo.dim + first + column] = float(sum);
        }
        __syncthreads();  // done reading before the next tile overwrites it
    }
}

__global__ void __launch_bounds__(kThreads)
    attention_backward_kernel(const float* __restrict__ qkv /* [B, S, 3D] */,
                              const float* __restrict__ probs /* [B, heads, S, S] */,
                              const float* __restrict__ dout /* [B, S, D] */,
                              float* __restrict__ dqkv /* [B, S, 3D] */, HeadGeometry geo,
                              double scale, DropoutMultiplier multiplier) {
    TWP_DYNAMIC_SHARED(double, shared);
    const int s = geo.seq;
    double* ds = shared;                                      // [S, S]: dout_i·v_j, then dS
    double* weights = ds + s * s;                             // [S, S]: P_ij m_ij
    float* tile_a = reinterpret_cast<float*>(weights + s * s);  // [S, kTileStride]
    float* tile_b = tile_a + s * kTileStride;                         // [S, kTileStride]
    float* tile_c = tile_b + s * kTileStride;                         // [S, kTileStride]
    const int64_t pair = blockIdx.x, b = pair / geo.heads, h = pair % geo.heads;
    const int64_t row = 3 * geo.dim;
    const float* q = qkv + b * s * row + h * geo.head_dim;  // q_i = q + i*row, k_j = +D, v_j = +2D
    const float* grad = dout + b * s * geo.dim + h * geo.head_dim;  // dout_i = grad + i*D
    float* dq = dqkv + b * s * row + h * geo.head_dim;              // dk_j = dq + j*row + D, ...
    const float* p = probs + pair * s * s;

    head_dots(grad, geo.dim, q + 2 * geo.dim, row, geo, tile_a, tile_b, ds);  // dout_i · v_j
    __syncthreads();  // all S^2 dot products are in shared memory

    if (int(threadIdx.x) < s) {  // row i of dP and dS, serial in the CPU's order
        const int i = threadIdx.x;
        double weighted = 0;
        for (int j = 0; j < s; ++j) {
            const double m = multiplier(uint64_t(pair * s * s + i * s + j));
            const double probability = double(p[i * s + j]);
            ds[i * s + j] *= m;  // dP_ij
            weighted += probability * ds[i * s + j];
            weights[i * s + j] = probability * m;
        }
        for (int j = 0; j < s; ++j) ds[i * s + j] = double(p[i * s + j]) * (ds[i * s + j] - weighted);
    }
    // No barrier here: the first tile's barrier below (Dh >= 1) also orders the writes to dS and
    // weights before the gradients read them.

    // One tile of columns at a time, one thread per (row n, column): dq_n, dk_n, dv_n.
    for (int64_t first = 0; first < geo.head_dim; first += kTile) {
        const int width = tile_width(geo, first);
        load_tile(q + first, row, s, width, tile_a);             // q
        load_tile(q + geo.dim + first, row, s, width, tile_b);   // k
        load_tile(grad + first, geo.dim, s, width, tile_c);      // dout
        __syncthreads();  // the tiles (and, the first time, dS and the weights) are complete
        for (int index = threadIdx.x; index < s * width; index += kThreads) {
            const int n = index / width, column = index % width;
            double sum_q = 0, sum_k = 0, sum_v = 0;
            for (int j = 0; j < s; ++j) sum_q += ds[n * s + j] * double(tile_b[j * kTileStride + column]);
            for (int i = 0; i < s; ++i) sum_k += ds[i * s + n] * double(tile_a[i * kTileStride + column]);
            for (int i = 0; i < s; ++i) sum_v += weights[i * s + n] * double(tile_c[i * kTileStride + column]);
            float* target = dq + n * row + first + column;
            target[0] = float(sum_q * scale);
            target[geo.dim] = float(sum_k * scale);
            target[2 * geo.dim] = float(sum_v);
        }
        __syncthreads();  // done reading before the next tiles overwrite them
    }
}

// The largest power of two <= min(32, kThreads / S^2), at least 1.
int group_size(int seq) {
    int group = 32;
    while (group > 1 && group * seq * seq > kThreads) group /= 2;
    return group;
}

struct Prepared {
    HeadGeometry geometry;
    double scale;
    DropoutMultiplier multiplier;
    int64_t blocks;
};

// After the shared checks (engine/op_checks.hpp): the kernels' own limits, and their arguments.
Prepared prepare(const AttentionDims& dims, const DropoutSpec& dropout, const char* op) {
    TWP_CHECK(dims.seq <= kAttentionMaxSeq,
              op << ": sequence length " << dims.seq << " exceeds the kernel's limit of "
                 << kAttentionMaxSeq << " (the S x S matrices live in shared memory)");
    TWP_CHECK(dims.batch * dims.heads <= int64_t(0x7fffffff),
              op << ": " << dims.batch << " x " << dims.heads << " (batch x heads) blocks exceed the grid");
    const int seq = int(dims.seq);
    Prepared prepared;
    prepared.geometry = HeadGeometry{seq, group_size(seq), dims.dim, dims.head_dim(), int(dims.heads)};
    prepared.scale = 1.0 / std::sqrt(double(dims.head_dim()));  // as the CPU computes it
    // As dropout_multipliers<double>: p == 1 drops everything, and 1 / 0 is never computed.
    prepared.multiplier = DropoutMultiplier{
        dropout.seed, dropout.offset, dropout.p,
        dropout.p < 1.0f ? 1.0 / (1.0 - double(dropout.p)) : 0.0};
    prepared.blocks = dims.seq == 0 ? 0 : dims.batch * dims.heads;
    return prepared;
}

}  // namespace

void attention_forward(Tensor qkv, int heads, const DropoutSpec& dropout, Tensor probs, Tensor out,
                       Stream stream) {
    const AttentionDims dims = checks::attention_forward(qkv, heads, dropout, probs, out);
    const Prepared prepared = prepare(dims, dropout, "attention_forward");
    if (prepared.blocks == 0) return;
    const size_t shared_bytes = sizeof(double) * size_t(dims.seq * dims.seq) +
                                sizeof(float) * size_t(2 * dims.seq * kTileStride);
    launch("attention_forward", attention_forward_kernel, dim3(unsigned(prepared.blocks)),
           dim3(kThreads), shared_bytes, stream, static_cast<const float*>(qkv.data), probs.data,
           out.data, prepared.geometry, prepared.scale, prepared.multiplier);
}

void attention_backward(Tensor qkv, int heads, const DropoutSpec& dropout, Tensor probs, Tensor dout,
                        Tensor dqkv, Stream stream) {
    const AttentionDims dims = checks::attention_backward(qkv, heads, dropout, probs, dout, dqkv);
    const uintptr_t qkv_begin = reinterpret_cast<uintptr_t>(qkv.data),
                    dqkv_begin = reinterpret_cast<uintptr_t>(dqkv.data);
    const uintptr_t bytes = sizeof(float) * uintptr_t(qkv.numel());
    TWP_CHECK(bytes == 0 || dqkv_begin + bytes <= qkv_begin || qkv_begin + bytes <= dqkv_begin,
              "attention_backward: dqkv overlaps qkv (the gradients would overwrite q and k "
              "before they are read)");
    const Prepared prepared = prepare(dims, dropout, "attention_backward");
    if (prepared.blocks == 0) return;
    const size_t shared_bytes = sizeof(double) * size_t(2 * dims.seq * dims.seq) +
                                sizeof(float) * size_t(3 * dims.seq * kTileStride);
    launch("attention_backward", attention_backward_kernel, dim3(unsigned(prepared.blocks)),
           dim3(kThreads), shared_bytes, stream, static_cast<const float*>(qkv.data),
           static_cast<const float*>(probs.data), static_cast<const float*>(dout.data), dqkv.data,
           prepared.geometry, prepared.scale, prepared.multiplier);
}

}  // namespace twp::kernels
