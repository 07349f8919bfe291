// Counter-based random numbers: Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy
// as 1, 2, 3", SC 2011). The value at counter c under key k is a pure function of (c, k), so any
// backend (a CUDA thread, a CPU loop) can draw the same numbers without sharing state: the seed is
// the key, and a stream id plus a position form the counter.
//
// The stateless functions (philox4x32 to dropout_keep) are TWP_HOST_DEVICE: the dropout kernels
// call them, so the GPU's mask is the CPU's by construction. PhiloxBlock is a std::array, whose
// constexpr accessors nvcc lets device code use with --expt-relaxed-constexpr (twp_kernels_cuda
// compiles with it).
//
// Rng is the sequential view used on the host: initialization, shuffling. Its whole state is
// (seed, stream, position, used): a checkpoint saves position and used (RngState) and a resumed
// run continues the exact sequence.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>

#include "engine/host_device.hpp"

namespace twp {

using PhiloxBlock = std::array<uint32_t, 4>;

// Ten rounds of Philox4x32 on `counter` under the 64-bit key.
TWP_HOST_DEVICE constexpr PhiloxBlock philox4x32(PhiloxBlock counter, uint64_t key) {
    uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
    for (int round = 0; round < 10; ++round) {
        const uint64_t p0 = uint64_t{0xD2511F53u} * counter[0];
        const uint64_t p1 = uint64_t{0xCD9E8D57u} * counter[2];
        counter = {static_cast<uint32_t>(p1 >> 32) ^ counter[1] ^ k0, static_cast<uint32_t>(p1),
                   static_cast<uint32_t>(p0 >> 32) ^ counter[3] ^ k1, static_cast<uint32_t>(p0)};
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return counter;
}

// A uniform float in [0, 1) from the top 24 bits: every value is exactly representable.
TWP_HOST_DEVICE constexpr float uniform_from_bits(uint32_t bits) { return float(bits >> 8) * (1.0f / 16777216.0f); }

// Independent streams of one seed: what a stream is used for picks its id.
enum class RngStream : uint32_t { kInit = 1, kShuffle = 2, kDropout = 3, kBootstrap = 4, kNoise = 5 };

// Dropout's random bits (DropoutSpec, engine/op_params.hpp): counter c is word c & 3 of Philox block
// c >> 2 of the kDropout stream, so four consecutive counters cost one block.
TWP_HOST_DEVICE constexpr PhiloxBlock dropout_block(uint64_t seed, uint64_t block) {
    return philox4x32({static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32),
                       static_cast<uint32_t>(RngStream::kDropout), 0}, seed);
}
TWP_HOST_DEVICE constexpr bool dropout_keep(uint32_t bits, float p) { return uniform_from_bits(bits) >= p; }
// Whether dropout with probability p keeps the element at `counter` (= offset + index).
TWP_HOST_DEVICE constexpr bool dropout_keep(uint64_t seed, uint64_t counter, float p) {
    return dropout_keep(dropout_block(seed, counter >> 2)[counter & 3], p);
}

// The standard normal at `counter` of seed's kNoise stream (Backend::normal_fill): Box-Muller on
// the first two words of Philox block `counter`, one draw per block, so that element i of a
// tensor is a pure function of (seed, offset + i) whatever the backend's order. u1 is in (0, 1]
// (never 0: the log stays finite), u2 in [0, 1). The GPU's libm rounds log, sqrt and cos its own
// way, so its draws agree with the CPU's to a few ulps, not bit for bit.
TWP_HOST_DEVICE inline float standard_normal(uint64_t seed, uint64_t counter) {
    const PhiloxBlock bits = philox4x32({static_cast<uint32_t>(counter), static_cast<uint32_t>(counter >> 32),
                                         static_cast<uint32_t>(RngStream::kNoise), 0}, seed);
    const float u1 = (float(bits[0] >> 8) + 1.0f) * (1.0f / 16777216.0f);
    const float u2 = uniform_from_bits(bits[1]);
    return sqrtf(-2.0f * logf(u1)) * cosf(6.28318530717958647692f * u2);
}

// Where an Rng stands in its stream: `position` blocks generated, `used` of the current block's
// four words consumed (4: none left, the next draw generates block `position`).
struct RngState {
    uint64_t position = 0;
    int used = 4;
};

class Rng {
public:
    Rng(uint64_t seed, RngStream stream) : seed_(seed), stream_(static_cast<uint32_t>(stream)) {}

    RngState state() const { return {position_, used_}; }
    // Continues from a saved state of the same seed and stream. The current block is a pure
    // function of the position, so it is regenerated rather than stored. Returns false (and
    // changes nothing) for a state no Rng can be in.
    bool set_state(const RngState& state) {
        if (state.used < 0 || state.used > 4 || (state.position == 0 && state.used != 4)) return false;
        position_ = state.position;
        used_ = state.used;
        if (used_ < 4) block_ = generate(position_ - 1);
        return true;
    }

    uint32_t next_u32() {
        if (used_ == 4) {
            block_ = generate(position_);
            ++position_;
            used_ = 0;
        }
        return block_[used_++];
    }
    float uniform() { return uniform_from_bits(next_u32()); }
    // Uniform in [-bound, bound).
    float uniform(float bound) { return (2.0f * uniform() - 1.0f) * bound; }
    // Uniform integer in [0, n), n > 0, without modulo bias (rejection of the short last range).
    uint32_t below(uint32_t n) {
        const uint32_t limit = UINT32_MAX - UINT32_MAX % n;
        uint32_t r;
        do r = next_u32();
        while (r >= limit);
        return r % n;
    }

private:
    PhiloxBlock generate(uint64_t block) const {
        return philox4x32({static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), stream_, 0},
                          seed_);
    }

    uint64_t seed_;
    uint32_t stream_;
    uint64_t position_ = 0;
    PhiloxBlock block_{};
    int used_ = 4;
};

}  // namespace twp
