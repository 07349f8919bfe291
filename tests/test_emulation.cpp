// The CUDA emulation itself (kernels/emu/): small kernels defined here, compiled by g++ against
// the emulation, checking what real kernels rely on: barriers (including threads that exit
// early), shared and dynamic shared memory, warp shuffles lane by lane, atomics across blocks,
// 1D/2D/3D indices, the thread order between barriers, and the errors (deadlock, divergent
// barrier, bad launch configuration, an exception in a thread) after which the emulator must stay
// usable. The planted missing __syncthreads() shows that the reversed and shuffled schedules
// expose an ordering bug the forward order hides; [.tsan_planted] shows that ThreadSanitizer
// catches it (tools/tsan.sh).
//
// Emulation-only: in the GPU test executable (no TWP_CUDA_EMULATION) this file compiles to nothing.
#if defined(TWP_CUDA_EMULATION) && TWP_CUDA_EMULATION

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include "kernels/cuda_compat.hpp"
#include "kernels/device.cuh"
#include "kernels/device_memory.hpp"
#include "kernels/emu/capture.hpp"
#include "kernels/emu/runtime.hpp"
#include "kernels/launch.hpp"
#include "kernels/library_handles.hpp"

using namespace twp;
using namespace twp::kernels;
using Catch::Matchers::Contains;

namespace {

constexpr unsigned kFullMask = 0xffffffffu;
const emu::Schedule kAllSchedules[] = {emu::Schedule::kForward, emu::Schedule::kReversed,
                                       emu::Schedule::kShuffled};

// Sets the schedule for one test and restores the previous one (e.g. from TWP_EMU_SCHEDULE).
class ScopedSchedule {
public:
    explicit ScopedSchedule(emu::Schedule schedule, std::uint64_t seed = 7)
        : previous_(emu::current_schedule()), previous_seed_(emu::current_seed()) {
        emu::set_schedule(schedule, seed);
    }
    ~ScopedSchedule() { emu::set_schedule(previous_, previous_seed_); }
    ScopedSchedule(const ScopedSchedule&) = delete;
    ScopedSchedule& operator=(const ScopedSchedule&) = delete;

private:
    emu::Schedule previous_;
    std::uint64_t previous_seed_;
};

// ---- test kernels ----

__device__ unsigned round_up_to_power_of_two(unsigned n) {
    unsigned p = 1;
    while (p < n) p *= 2;
    return p;
}

// block_sums [gridDim.x] = sums of x [n] per block; any block size up to 1024.
__global__ void block_sum_kernel(const float* __restrict__ x, float* __restrict__ block_sums, int n) {
    __shared__ float partial[1024];
    const unsigned t = threadIdx.x;
    const int i = int(blockIdx.x * blockDim.x + t);
    partial[t] = i < n ? x[i] : 0.0f;
    __syncthreads();
    // Strides halve from the power of two at or above blockDim.x; the second condition skips
    // partners beyond a non-power-of-two block.
    for (unsigned stride = round_up_to_power_of_two(blockDim.x) / 2; stride > 0; stride /= 2) {
        if (t < stride && t + stride < blockDim.x) partial[t] += partial[t + stride];
        __syncthreads();  // the next round reads what this one wrote
    }
    if (t == 0) block_sums[blockIdx.x] = partial[0];
}

// Per thread (value v = 3 * linear + 1): a shfl_down tree, a shfl_xor butterfly, an indexed
// broadcast within 8-lane segments, shfl_up by 3 within 16-lane segments, and a double shuffle.
__global__ void shuffle_kernel(int* down, int* butterfly, int* indexed, int* up, double* xor_double) {
    const unsigned t = threadIdx.x;
    const int v = int(3 * t + 1);
    int d = v;
    for (unsigned offset = 16; offset > 0; offset /= 2) d += __shfl_down_sync(kFullMask, d, offset);
    int b = v;
    for (int lane_mask = 16; lane_mask > 0; lane_mask /= 2) b += __shfl_xor_sync(kFullMask, b, lane_mask);
    down[t] = d;
    butterfly[t] = b;
    indexed[t] = __shfl_sync(kFullMask, v, 5, 8);
    up[t] = __shfl_up_sync(kFullMask, v, 3, 16);
    xor_double[t] = __shfl_xor_sync(kFullMask, double(v) + 0.5, 1);
}

// lane0_of_warp[linear] = the linear index of lane 0 of the thread's warp, via a shuffle: checks
// that lanes are numbered x + y*bx + z*bx*by in 3D blocks.
__global__ void warp_of_thread_kernel(unsigned* lane0_of_warp) {
    const unsigned linear = threadIdx.x + threadIdx.y * blockDim.x + threadIdx.z * blockDim.x * blockDim.y;
    lane0_of_warp[linear] = __shfl_sync(kFullMask, linear, 0);
    __syncwarp();
}

// Reverses each block's slice of x in dynamic shared memory (blockDim.x floats plus one spare);
// thread 0 also reports the alignment and the spare's content at block start, then dirties it.
__global__ void dynamic_shared_kernel(const float* x, float* y, float* spare_at_start,
                                      unsigned* misalignment) {
    TWP_DYNAMIC_SHARED(float, buffer);
    const unsigned t = threadIdx.x, n = blockDim.x, base = blockIdx.x * n;
    if (t == 0) {
        spare_at_start[blockIdx.x] = buffer[n];
        buffer[n] = 42.0f;  // the next block must see the poison again, not this
        misalignment[blockIdx.x] = unsigned(reinterpret_cast<std::uintptr_t>(buffer) % 16);
    }
    buffer[t] = x[base + t];
    __syncthreads();
    y[base + t] = buffer[n - 1 - t];
}

__global__ void dynamic_shared_pointer_kernel(int* is_null) {
    TWP_DYNAMIC_SHARED(double, buffer);
    is_null[0] = buffer == nullptr ? 1 : 0;
}

// The upper half of each block returns at once; the lower half meets at two barriers (which the
// exited threads must not block) and sums neighbours.
__global__ void early_exit_kernel(const int* x, int* y) {
    __shared__ int values[256];
    const unsigned t = threadIdx.x, half = blockDim.x / 2, base = blockIdx.x * blockDim.x;
    if (t >= half) return;
    values[t] = x[base + t];
    __syncthreads();
    const int sum = values[t] + values[(t + 1) % half];
    __syncthreads();  // everyone read before anyone overwrites
    values[t] = sum;
    __syncthreads();
    y[base + t] = values[t] + values[(t + half - 1) % half];
}

struct AtomicTotals {
    float float_sum;
    int int_sum;
    int max_value;
    int min_value;
    double double_sum;
    unsigned unsigned_max;
    int countdown;
    int ticket;
    int claim;  // 0 until the first atomicCAS wins
    int winners;
    int last_writer;
};

__global__ void atomics_kernel(AtomicTotals* totals, int* tickets, int* exchanged) {
    const int g = int(blockIdx.x * blockDim.x + threadIdx.x);
    const int n = int(gridDim.x * blockDim.x);
    atomicAdd(&totals->float_sum, 1.0f);
    atomicAdd(&totals->int_sum, g);
    atomicMax(&totals->max_value, (g * 7919) % n);  // 7919 is odd: a permutation of 0..n-1
    atomicMin(&totals->min_value, (g * 7919) % n);
    atomicAdd(&totals->double_sum, 0.5);
    atomicMax(&totals->unsigned_max, unsigned(g) * 3u);
    atomicSub(&totals->countdown, 1);
    tickets[g] = atomicAdd(&totals->ticket, 1);
    if (atomicCAS(&totals->claim, 0, g + 1) == 0) atomicAdd(&totals->winners, 1);
    exchanged[g] = atomicExch(&totals->last_writer, g);
}

// Each thread counts its global id and records where it thinks it is; thread (0,0,0) of block
// (0,0,0) records the dimensions.
__global__ void indices_kernel(int* hits, unsigned* where, unsigned* dims) {
    const unsigned block_linear = (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
    const unsigned thread_linear = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
    const unsigned id = block_linear * (blockDim.x * blockDim.y * blockDim.z) + thread_linear;
    atomicAdd(&hits[id], 1);
    where[id] = blockIdx.x | blockIdx.y << 4 | blockIdx.z << 8 | threadIdx.x << 12 |
                threadIdx.y << 16 | threadIdx.z << 20;
    if (block_linear == 0 && thread_linear == 0) {
        const unsigned values[6] = {blockDim.x, blockDim.y, blockDim.z, gridDim.x, gridDim.y, gridDim.z};
        for (int i = 0; i < 6; ++i) dims[i] = values[i];
    }
}

// Records the order in which threads reach two points separated by a barrier.
__global__ void run_order_kernel(int* counter, unsigned* first_phase, unsigned* second_phase) {
    first_phase[atomicAdd(&counter[0], 1)] = threadIdx.x;
    __syncthreads();
    second_phase[atomicAdd(&counter[1], 1)] = threadIdx.x;
}

// y[i] = x[i - 1] within each block (0 for a block's first element), through shared memory. The
// barrier-less instance is the planted bug: thread t reads the element thread t-1 writes.
template <bool kWithBarrier>
__global__ void shift_kernel(const float* x, float* y) {
    __shared__ float tile[256];
    const unsigned t = threadIdx.x, i = blockIdx.x * blockDim.x + t;
    tile[t] = x[i];
    if (kWithBarrier) __syncthreads();
    y[i] = t > 0 ? tile[t - 1] : 0.0f;
}

int destroyed_count = 0;
struct CountsDestruction {
    ~CountsDestruction() { atomicAdd(&destroyed_count, 1); }
};

// Threads below 16 and the others wait at different barriers: divergent code.
__global__ void divergent_barrier_kernel(int* out) {
    const CountsDestruction guard;
    if (threadIdx.x < 16) {
        __syncthreads();
        out[threadIdx.x] = 1;
    } else {
        __syncthreads();
        out[threadIdx.x] = 2;
    }
}

// Lane 0 waits for its warp, whose other lanes wait at __syncthreads() for lane 0.
__global__ void warp_block_deadlock_kernel(int* out) {
    if (threadIdx.x == 0)
        __syncwarp();
    else
        __syncthreads();
    out[threadIdx.x] = 1;
}

__global__ void throwing_kernel(int* out) {
    const CountsDestruction guard;
    if (threadIdx.x == 37) TWP_FAIL("planted failure");
    __syncthreads();
    out[threadIdx.x] = 1;
}

__global__ void write_one_kernel(int* out) { out[blockIdx.x * blockDim.x + threadIdx.x] = 1; }

__global__ void nested_launch_kernel(int* out) {
    launch("write_one_kernel", write_one_kernel, dim3(1), dim3(1), 0, nullptr, out);
}

__global__ void math_kernel(const float* in, float* f, int* i, unsigned* u) {
    f[0] = __expf(0.0f);
    f[1] = __logf(1.0f);
    f[2] = expf(1.0f);
    f[3] = logf(in[0]);  // in[0] = e
    f[4] = sqrtf(16.0f);
    f[5] = rsqrtf(4.0f);
    f[6] = fmaxf(-1.0f, 2.0f);
    f[7] = fminf(-1.0f, 2.0f);
    f[8] = fabsf(-2.5f);
    f[9] = __fdividef(1.0f, 4.0f);
    f[10] = __frcp_rn(8.0f);
    f[11] = __ldg(&in[1]);
    f[12] = FLT_MAX;
    f[13] = __int_as_float(0x40000000);
    f[14] = __uint_as_float(0x3f800000u);
    f[15] = max(1.5f, -3.0f);
    i[0] = isfinite(INFINITY) ? 1 : 0;
    i[1] = isfinite(in[1]) ? 1 : 0;
    i[2] = __float_as_int(1.0f);
    i[3] = max(3, -4);
    i[4] = min(3, -4);
    i[5] = warpSize;
    u[0] = __float_as_uint(-0.0f);
    u[1] = max(2u, 5u);
}

}  // namespace

TEST_CASE("emulation: shared-memory tree reduction, power-of-two and odd block sizes",
          "[emulation]") {
    const int n = 1000;
    std::vector<float> x(n);
    for (int i = 0; i < n; ++i) x[i] = float(i % 7 + 1);  // integers: every sum is exact
    const DeviceArray<float> device_x(x);
    for (const unsigned block : {256u, 100u, 1024u, 33u})
        for (const emu::Schedule schedule : kAllSchedules) {
            CAPTURE(block, emu::schedule_name(schedule));
            const ScopedSchedule scoped(schedule);
            const unsigned blocks = (n + block - 1) / block;
            DeviceArray<float> sums(blocks);
            device_fill(sums.data(), NAN, blocks);
            launch("block_sum_kernel", block_sum_kernel, dim3(blocks), dim3(block), 0, nullptr,
                   device_x.data(), sums.data(), n);
            const std::vector<float> got = sums.download();
            for (unsigned b = 0; b < blocks; ++b) {
                float expected = 0;
                for (unsigned i = b * block; i < std::min<unsigned>(n, (b + 1) * block); ++i) expected += x[i];
                CAPTURE(b);
                REQUIRE(got[b] == expected);
            }
        }
}

TEST_CASE("emulation: warp shuffles give every lane CUDA's value", "[emulation][warp]") {
    // 72 threads: two full warps and a partial one (lanes 8..31 of warp 2 do not exist, so shuffles
    // from them return the caller's own value, like lanes outside the width segment).
    for (const unsigned block : {64u, 72u})
        for (const emu::Schedule schedule : kAllSchedules) {
            CAPTURE(block, emu::schedule_name(schedule));
            const ScopedSchedule scoped(schedule);
            DeviceArray<int> down(block), butterfly(block), indexed(block), up(block);
            DeviceArray<double> xor_double(block);
            launch("shuffle_kernel", shuffle_kernel, dim3(1), dim3(block), 0, nullptr, down.data(),
                   butterfly.data(), indexed.data(), up.data(), xor_double.data());

            // The reference: lane by lane, per CUDA's documentation of each shuffle.
            std::vector<int> v(block), d, b;
            for (unsigned t = 0; t < block; ++t) v[t] = int(3 * t + 1);
            auto exists = [&](unsigned warp, unsigned lane) { return warp * 32 + lane < block; };
            auto step = [&](std::vector<int> values, auto source_of) {
                std::vector<int> next(values);
                for (unsigned t = 0; t < block; ++t) {
                    const unsigned warp = t / 32, source = source_of(t % 32);
                    next[t] = values[t] + (exists(warp, source) ? values[warp * 32 + source] : values[t]);
                }
                return next;
            };
            d = v;
            for (unsigned offset = 16; offset > 0; offset /= 2)
                d = step(d, [&](unsigned lane) { return lane + offset < 32 ? lane + offset : lane; });
            b = v;
            for (unsigned mask = 16; mask > 0; mask /= 2)
                b = step(b, [&](unsigned lane) { return lane ^ mask; });
            const std::vector<int> got_down = down.download(), got_butterfly = butterfly.download(),
                                   got_indexed = indexed.download(), got_up = up.download();
            const std::vector<double> got_double = xor_double.download();
            for (unsigned t = 0; t < block; ++t) {
                const unsigned warp = t / 32, lane = t % 32;
                CAPTURE(t);
                REQUIRE(got_down[t] == d[t]);
                REQUIRE(got_butterfly[t] == b[t]);
                const unsigned indexed_source = (lane & ~7u) + 5;
                REQUIRE(got_indexed[t] == (exists(warp, indexed_source) ? v[warp * 32 + indexed_source] : v[t]));
                REQUIRE(got_up[t] == (lane % 16 >= 3 ? v[t - 3] : v[t]));
                const unsigned pair = lane ^ 1u;
                REQUIRE(got_double[t] == (exists(warp, pair) ? double(v[warp * 32 + pair]) : double(v[t])) + 0.5);
            }
            // In full warps the reductions hold the warp's sum: lane 0 for shfl_down, every lane
            // for the butterfly.
            for (unsigned warp = 0; warp < block / 32; ++warp) {
                const int sum = std::accumulate(v.begin() + warp * 32, v.begin() + warp * 32 + 32, 0);
                REQUIRE(got_down[warp * 32] == sum);
                for (unsigned lane = 0; lane < 32; ++lane) REQUIRE(got_butterfly[warp * 32 + lane] == sum);
            }
        }
}

TEST_CASE("emulation: lanes are numbered x + y*bx + z*bx*by in 2D and 3D blocks", "[emulation][warp]") {
    for (const dim3 block : {dim3(8, 4, 2), dim3(5, 3, 4), dim3(64, 1, 1)}) {
        const unsigned threads = block.x * block.y * block.z;
        CAPTURE(block.x, block.y, block.z);
        DeviceArray<unsigned> lane0(threads);
        launch("warp_of_thread_kernel", warp_of_thread_kernel, dim3(1), block, 0, nullptr, lane0.data());
        const std::vector<unsigned> got = lane0.download();
        for (unsigned t = 0; t < threads; ++t) REQUIRE(got[t] == t / 32 * 32);
    }
}

TEST_CASE("emulation: dynamic shared memory is aligned and poisoned at every block start",
          "[emulation][shared]") {
    const unsigned block = 96, blocks = 3;
    std::vector<float> x(block * blocks);
    std::iota(x.begin(), x.end(), 1.0f);
    const DeviceArray<float> device_x(x);
    DeviceArray<float> y(x.size()), spare(blocks);
    DeviceArray<unsigned> misalignment(blocks);
    launch("dynamic_shared_kernel", dynamic_shared_kernel, dim3(blocks), dim3(block),
           (block + 1) * sizeof(float), nullptr, device_x.data(), y.data(), spare.data(), misalignment.data());
    const std::vector<float> got = y.download(), got_spare = spare.download();
    const std::vector<unsigned> got_misalignment = misalignment.download();
    for (unsigned b = 0; b < blocks; ++b) {
        CAPTURE(b);
        for (unsigned t = 0; t < block; ++t) REQUIRE(got[b * block + t] == x[b * block + block - 1 - t]);
        REQUIRE(std::isnan(got_spare[b]));
        unsigned bits = 0;
        std::memcpy(&bits, &got_spare[b], sizeof bits);
        REQUIRE(bits == 0xffffffffu);
        REQUIRE(got_misalignment[b] == 0);
    }
    // No dynamic shared memory asked for: the pointer is null, so any use faults at once.
    DeviceArray<int> is_null(1);
    launch("dynamic_shared_pointer_kernel", dynamic_shared_pointer_kernel, dim3(1), dim3(1), 0,
           nullptr, is_null.data());
    REQUIRE(is_null.download()[0] == 1);
}

TEST_CASE("emulation: threads that return early drop out of later barriers", "[emulation][barrier]") {
    const unsigned block = 128, blocks = 4, half = block / 2;
    std::vector<int> x(block * blocks);
    for (size_t i = 0; i < x.size(); ++i) x[i] = int(i * i % 101);
    const DeviceArray<int> device_x(x);
    for (const emu::Schedule schedule : kAllSchedules) {
        CAPTURE(emu::schedule_name(schedule));
        const ScopedSchedule scoped(schedule);
        DeviceArray<int> y(std::vector<int>(x.size(), -1));
        launch("early_exit_kernel", early_exit_kernel, dim3(blocks), dim3(block), 0, nullptr,
               device_x.data(), y.data());
        const std::vector<int> got = y.download();
        for (unsigned b = 0; b < blocks; ++b)
            for (unsigned t = 0; t < block; ++t) {
                CAPTURE(b, t);
                const int* xb = &x[b * block];
                auto pair_sum = [&](unsigned j) { return xb[j] + xb[(j + 1) % half]; };
                const int expected = t < half ? pair_sum(t) + pair_sum((t + half - 1) % half) : -1;
                REQUIRE(got[b * block + t] == expected);
            }
    }
}

TEST_CASE("emulation: atomics from 64 blocks of 128 threads", "[emulation][atomics]") {
    const unsigned blocks = 64, block = 128, n = blocks * block;
    for (const emu::Schedule schedule : kAllSchedules) {
        CAPTURE(emu::schedule_name(schedule));
        const ScopedSchedule scoped(schedule);
        AtomicTotals start{};
        start.max_value = -1;
        start.min_value = 1 << 30;
        start.countdown = int(n);
        start.last_writer = -1;
        DeviceArray<AtomicTotals> totals(std::vector<AtomicTotals>{start});
        DeviceArray<int> tickets(n), exchanged(n);
        launch("atomics_kernel", atomics_kernel, dim3(blocks), dim3(block), 0, nullptr,
               totals.data(), tickets.data(), exchanged.data());
        const AtomicTotals got = totals.download()[0];
        REQUIRE(got.float_sum == float(n));  // exact: integers below 2^24
        REQUIRE(got.int_sum == int(n * (n - 1) / 2));
        REQUIRE(got.max_value == int(n - 1));
        REQUIRE(got.min_value == 0);
        REQUIRE(got.double_sum == 0.5 * n);
        REQUIRE(got.unsigned_max == 3u * (n - 1));
        REQUIRE(got.countdown == 0);
        REQUIRE(got.ticket == int(n));
        REQUIRE(got.winners == 1);
        REQUIRE(got.claim >= 1);
        REQUIRE(got.claim <= int(n));
        // Each old value atomicAdd returned is a distinct ticket 0..n-1.
        std::vector<int> got_tickets = tickets.download();
        std::sort(got_tickets.begin(), got_tickets.end());
        for (unsigned i = 0; i < n; ++i) REQUIRE(got_tickets[i] == int(i));
        // atomicExch: the values it returned plus the final one are the initial -1 and every id once.
        std::vector<int> seen = exchanged.download();
        seen.push_back(got.last_writer);
        std::sort(seen.begin(), seen.end());
        for (unsigned i = 0; i <= n; ++i) REQUIRE(seen[i] == int(i) - 1);
    }
}

TEST_CASE("emulation: 2D and 3D grids and blocks cover every thread exactly once", "[emulation]") {
    const dim3 grid(3, 2, 2), block(4, 3, 2);
    const unsigned threads = 3 * 2 * 2 * 4 * 3 * 2;
    DeviceArray<int> hits(std::vector<int>(threads, 0));
    DeviceArray<unsigned> where(threads), dims(6);
    launch("indices_kernel", indices_kernel, grid, block, 0, nullptr, hits.data(), where.data(), dims.data());
    const std::vector<int> got_hits = hits.download();
    const std::vector<unsigned> got_where = where.download();
    REQUIRE(dims.download() == std::vector<unsigned>{4, 3, 2, 3, 2, 2});
    unsigned id = 0;
    for (unsigned bz = 0; bz < 2; ++bz)
        for (unsigned by = 0; by < 2; ++by)
            for (unsigned bx = 0; bx < 3; ++bx)
                for (unsigned tz = 0; tz < 2; ++tz)
                    for (unsigned ty = 0; ty < 3; ++ty)
                        for (unsigned tx = 0; tx < 4; ++tx, ++id) {
                            CAPTURE(id);
                            REQUIRE(got_hits[id] == 1);
                            REQUIRE(got_where[id] == (bx | by << 4 | bz << 8 | tx << 12 | ty << 16 | tz << 20));
                        }
}

TEST_CASE("emulation: the schedule sets the thread order between barriers", "[emulation][schedule]") {
    const unsigned n = 64;
    auto run = [&](emu::Schedule schedule, std::uint64_t seed) {
        const ScopedSchedule scoped(schedule, seed);
        DeviceArray<int> counter(std::vector<int>{0, 0});
        DeviceArray<unsigned> first(n), second(n);
        launch("run_order_kernel", run_order_kernel, dim3(1), dim3(n), 0, nullptr, counter.data(),
               first.data(), second.data());
        return std::make_pair(first.download(), second.download());
    };
    std::vector<unsigned> increasing(n), decreasing(n);
    std::iota(increasing.begin(), increasing.end(), 0u);
    std::reverse_copy(increasing.begin(), increasing.end(), decreasing.begin());

    const auto forward = run(emu::Schedule::kForward, 0);
    REQUIRE(forward.first == increasing);
    REQUIRE(forward.second == increasing);
    const auto reversed = run(emu::Schedule::kReversed, 0);
    REQUIRE(reversed.first == decreasing);
    REQUIRE(reversed.second == decreasing);
    // Shuffled: permutations, fresh at each phase, replayed by the same seed, changed by another.
    const auto shuffled = run(emu::Schedule::kShuffled, 11);
    for (const auto* order : {&shuffled.first, &shuffled.second}) {
        std::vector<unsigned> sorted = *order;
        std::sort(sorted.begin(), sorted.end());
        REQUIRE(sorted == increasing);
        REQUIRE(*order != increasing);
        REQUIRE(*order != decreasing);
    }
    REQUIRE(shuffled.first != shuffled.second);
    REQUIRE(run(emu::Schedule::kShuffled, 11) == shuffled);
    REQUIRE(run(emu::Schedule::kShuffled, 12).first != shuffled.first);

    REQUIRE(emu::parse_schedule("reversed") == emu::Schedule::kReversed);
    REQUIRE_THROWS_WITH(emu::parse_schedule("random"), Contains("forward, reversed or shuffled"));
}

TEST_CASE("emulation: a missing __syncthreads() shows under the reversed or shuffled order",
          "[emulation][schedule]") {
    const unsigned block = 256, blocks = 4, n = block * blocks;
    std::vector<float> x(n), expected(n);
    for (unsigned i = 0; i < n; ++i) x[i] = float(i + 1);
    for (unsigned i = 0; i < n; ++i) expected[i] = i % block == 0 ? 0.0f : x[i - 1];
    const DeviceArray<float> device_x(x);
    auto run = [&](auto kernel, emu::Schedule schedule) {
        const ScopedSchedule scoped(schedule);
        DeviceArray<float> y(n);
        device_fill(y.data(), NAN, n);
        launch("shift_kernel", kernel, dim3(blocks), dim3(block), 0, nullptr, device_x.data(), y.data());
        return y.download();
    };
    for (const emu::Schedule schedule : kAllSchedules) {
        CAPTURE(emu::schedule_name(schedule));
        REQUIRE(run(shift_kernel<true>, schedule) == expected);
    }
#if defined(__SANITIZE_THREAD__)
    WARN("the barrier-less kernel is left to [.tsan_planted] under ThreadSanitizer");
#else
    // The bug hides under the forward order (thread t-1 always wrote before thread t reads).
    REQUIRE(run(shift_kernel<false>, emu::Schedule::kForward) == expected);
    const bool reversed_wrong = run(shift_kernel<false>, emu::Schedule::kReversed) != expected;
    const bool shuffled_wrong = run(shift_kernel<false>, emu::Schedule::kShuffled) != expected;
    CHECK(reversed_wrong);
    CHECK(shuffled_wrong);
    REQUIRE((reversed_wrong || shuffled_wrong));
#endif
}

TEST_CASE("emulation: ThreadSanitizer catches the planted missing __syncthreads()", "[.tsan_planted]") {
    // Run by tools/tsan.sh, which requires this to die with "ThreadSanitizer: data race".
    const unsigned block = 64;
    std::vector<float> x(block);
    std::iota(x.begin(), x.end(), 1.0f);
    const DeviceArray<float> device_x(x);
    DeviceArray<float> y(block);
    launch("shift_kernel", shift_kernel<false>, dim3(1), dim3(block), 0, nullptr, device_x.data(), y.data());
#if defined(__SANITIZE_THREAD__)
    FAIL("ThreadSanitizer did not report the planted race");
#else
    FAIL("this test is only meaningful under ThreadSanitizer: run tools/tsan.sh");
#endif
}

TEST_CASE("emulation: divergent barriers and deadlocks throw, and the emulator recovers",
          "[emulation][errors]") {
    DeviceArray<int> out(std::vector<int>(64, 0));
    destroyed_count = 0;
    REQUIRE_THROWS_WITH(
        launch("divergent_barrier_kernel", divergent_barrier_kernel, dim3(2), dim3(64), 0, nullptr, out.data()),
        Contains("kernel 'divergent_barrier_kernel'") && Contains("block (0, 0, 0)") &&
            Contains("different __syncthreads()") && Contains("16 at __syncthreads()") &&
            Contains("48 at __syncthreads()"));
    REQUIRE(destroyed_count == 64);  // the stuck threads were unwound, destructors ran
    REQUIRE(out.download() == std::vector<int>(64, 0));

    REQUIRE_THROWS_WITH(
        launch("warp_block_deadlock_kernel", warp_block_deadlock_kernel, dim3(1), dim3(32), 0, nullptr, out.data()),
        Contains("kernel 'warp_block_deadlock_kernel'") && Contains("deadlock") &&
            Contains("31 at __syncthreads()") && Contains("warp 0: 1 lanes at a warp operation"));

    destroyed_count = 0;
    const ScopedSchedule forward(emu::Schedule::kForward);  // fixes who has started when 37 throws
    REQUIRE_THROWS_WITH(
        launch("throwing_kernel", throwing_kernel, dim3(1), dim3(64), 0, nullptr, out.data()),
        Contains("kernel 'throwing_kernel'") && Contains("thread (37, 0, 0)") && Contains("planted failure"));
    // Threads 0..36 were waiting at the barrier, 37 threw, 38..63 never started.
    REQUIRE(destroyed_count == 38);

    // Still usable: a correct kernel right after.
    const DeviceArray<float> ones(std::vector<float>(300, 1.0f));
    DeviceArray<float> sums(3);
    launch("block_sum_kernel", block_sum_kernel, dim3(3), dim3(100), 0, nullptr, ones.data(), sums.data(), 300);
    REQUIRE(sums.download() == std::vector<float>{100.0f, 100.0f, 100.0f});
}

TEST_CASE("emulation: launch configurations are checked before anything runs", "[emulation][errors]") {
    DeviceArray<int> out(std::vector<int>(4, 0));
    REQUIRE_THROWS_WITH(launch("write_one_kernel", write_one_kernel, dim3(1), dim3(2048), 0, nullptr, out.data()),
                        Contains("'write_one_kernel'") && Contains("test_emulation.cpp") &&
                            Contains("2048 threads"));
    REQUIRE_THROWS_WITH(launch("write_one_kernel", write_one_kernel, dim3(1), dim3(1, 1, 65), 0, nullptr, out.data()),
                        Contains("z at most 64"));
    REQUIRE_THROWS_WITH(launch("write_one_kernel", write_one_kernel, dim3(1), dim3(0), 0, nullptr, out.data()),
                        Contains("has 0 threads"));
    REQUIRE_THROWS_WITH(launch("write_one_kernel", write_one_kernel, dim3(1, 70000), dim3(1), 0, nullptr, out.data()),
                        Contains("exceeds"));
    REQUIRE_THROWS_WITH(launch("write_one_kernel", write_one_kernel, dim3(1), dim3(1), 300 * 1024, nullptr, out.data()),
                        Contains("307200 bytes of dynamic shared memory"));
    // An empty grid launches nothing.
    launch("write_one_kernel", write_one_kernel, dim3(0), dim3(4), 0, nullptr, out.data());
    launch("write_one_kernel", write_one_kernel, dim3(1, 0, 1), dim3(4), 0, nullptr, out.data());
    REQUIRE(out.download() == std::vector<int>(4, 0));
    // No dynamic parallelism; built-ins outside a kernel are an error, not garbage.
    REQUIRE_THROWS_WITH(launch("nested_launch_kernel", nested_launch_kernel, dim3(1), dim3(1), 0, nullptr, out.data()),
                        Contains("no dynamic parallelism"));
    REQUIRE_THROWS_WITH(threadIdx.x, Contains("outside a running kernel"));
    launch("write_one_kernel", write_one_kernel, dim3(1), dim3(4), 0, nullptr, out.data());
    REQUIRE(out.download() == std::vector<int>(4, 1));
}

TEST_CASE("emulation: math intrinsics and built-in constants", "[emulation]") {
    const DeviceArray<float> in(std::vector<float>{float(M_E), 3.25f});
    DeviceArray<float> f(16);
    DeviceArray<int> i(6);
    DeviceArray<unsigned> u(2);
    launch("math_kernel", math_kernel, dim3(1), dim3(1), 0, nullptr, in.data(), f.data(), i.data(), u.data());
    const std::vector<float> gf = f.download();
    REQUIRE(gf[0] == 1.0f);
    REQUIRE(gf[1] == 0.0f);
    REQUIRE(gf[2] == Approx(M_E).epsilon(1e-6));
    REQUIRE(gf[3] == Approx(1.0).epsilon(1e-6));
    REQUIRE(gf[4] == 4.0f);
    REQUIRE(gf[5] == 0.5f);
    REQUIRE(gf[6] == 2.0f);
    REQUIRE(gf[7] == -1.0f);
    REQUIRE(gf[8] == 2.5f);
    REQUIRE(gf[9] == 0.25f);
    REQUIRE(gf[10] == 0.125f);
    REQUIRE(gf[11] == 3.25f);
    REQUIRE(gf[12] == std::numeric_limits<float>::max());
    REQUIRE(gf[13] == 2.0f);
    REQUIRE(gf[14] == 1.0f);
    REQUIRE(gf[15] == 1.5f);
    REQUIRE(i.download() == std::vector<int>{0, 1, 0x3f800000, 3, -4, 32});
    REQUIRE(u.download() == std::vector<unsigned>{0x80000000u, 5u});
}

// The emulated runtime's last error and capture rules (kernels/emu/runtime.hpp, capture.hpp), as
// the CUDA runtime has them: a failing call leaves its error until it is read; a refused call
// inside a capture spoils it; a spoiled capture's end fails and closes it.
TEST_CASE("emulation: the last error stays until read, as cudaGetLastError's", "[emulation][capture]") {
    REQUIRE(emu::get_last_error() == emu::Status::kSuccess);
    REQUIRE(emu::fail(emu::Status::kInvalidValue) == emu::Status::kInvalidValue);
    REQUIRE(emu::peek_last_error() == emu::Status::kInvalidValue);  // peeking keeps it
    REQUIRE(emu::get_last_error() == emu::Status::kInvalidValue);   // reading resets it
    REQUIRE(emu::get_last_error() == emu::Status::kSuccess);
    // A launch reports an error left behind, naming itself (as the nvcc launch() does)...
    DeviceArray<float> x(4);
    emu::fail(emu::Status::kMemoryAllocation);
    REQUIRE_THROWS_WITH(device_fill(x.data(), 1.0f, 4), Contains("'device_fill'") && Contains("cudaErrorMemoryAllocation"));
    // ...and reading it there cleared it.
    device_fill(x.data(), 1.0f, 4);
    REQUIRE(x.download() == std::vector<float>(4, 1.0f));
    // TWP_CUDA_CHECK clears the error of the call it reports.
    const auto failing_call = [] { TWP_CUDA_CHECK(emu::fail(emu::Status::kInvalidValue)); };
    REQUIRE_THROWS_WITH(failing_call(), Contains("cudaErrorInvalidValue"));
    REQUIRE(emu::peek_last_error() == emu::Status::kSuccess);
}

TEST_CASE("emulation: a capture refuses allocation, free, handles, host copies and synchronization, and is spoiled",
          "[emulation][capture]") {
    int stream_token = 0;
    const Stream stream = &stream_token;
    DeviceArray<float> before(8);
    std::vector<float> host(8, 0.0f);
    float* loose = static_cast<float*>(device_alloc(32));
    const std::vector<std::pair<const char*, std::function<void()>>> refused = {
        {"cudaMalloc", [] { DeviceArray<float> inside(8); }},
        {"cudaFree", [&] { device_free(loose); }},
        {"cublasCreate", [&] { LibraryHandles handles(stream); }},
        {"host to device", [&] { copy_to_device(before.data(), host.data(), 32, stream); }},
        {"device to host", [&] { copy_to_host(host.data(), before.data(), 32, stream); }},
        {"cudaStreamSynchronize", [&] { synchronize(stream); }},
    };
    for (const auto& [call, work] : refused) {
        CAPTURE(call);
        begin_capture(stream);
        REQUIRE(emu::capturing());
        device_fill(before.data(), 3.0f, 8, stream);  // recorded, not run
        if (std::string(call) == "cudaFree") {
            work();  // cannot throw: the capture is spoiled instead
            REQUIRE(emu::peek_last_error() == emu::Status::kSuccess);
        } else {
            REQUIRE_THROWS_WITH(work(), Contains(call) && Contains("cudaErrorStreamCaptureUnsupported"));
        }
        REQUIRE_THROWS_WITH(end_capture(stream), Contains("cudaErrorStreamCaptureInvalidated"));
        REQUIRE_FALSE(emu::capturing());
        REQUIRE(emu::peek_last_error() == emu::Status::kSuccess);
    }
    // Outside a capture the same calls work; nothing recorded ran.
    LibraryHandles handles(stream);
    REQUIRE(before.download() != std::vector<float>(8, 3.0f));
    // Begun twice, or ended without a beginning: the runtime's errors, and the first capture goes on.
    begin_capture(stream);
    REQUIRE_THROWS_WITH(begin_capture(stream), Contains("cudaErrorIllegalState"));
    device_fill(before.data(), 5.0f, 8, stream);
    const Graph graph = end_capture(stream);
    REQUIRE_THROWS_WITH(end_capture(stream), Contains("cudaErrorStreamCaptureUnmatched"));
    replay(graph, stream);
    destroy_graph(graph);
    REQUIRE(before.download() == std::vector<float>(8, 5.0f));
    // spoil_next_capture: the next capture fails at its end, as one whose graph cannot be made.
    emu::spoil_next_capture();
    begin_capture(stream);
    device_fill(before.data(), 6.0f, 8, stream);
    REQUIRE_THROWS_WITH(end_capture(stream), Contains("cudaErrorStreamCaptureInvalidated"));
    REQUIRE(before.download() == std::vector<float>(8, 5.0f));
    begin_capture(stream);  // and only the next one
    device_fill(before.data(), 7.0f, 8, stream);
    const Graph after = end_capture(stream);
    replay(after, stream);
    destroy_graph(after);
    REQUIRE(before.download() == std::vector<float>(8, 7.0f));
}

#endif  // TWP_CUDA_EMULATION
