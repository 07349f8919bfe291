// Dropout on the CPU. The mask is a pure function of (seed, counter) (DropoutSpec,
// engine/op_params.hpp; dropout_keep in engine/random.hpp), so forward and backward draw the same
// mask without storing it, and any backend draws the same one. Kept values are multiplied by
// 1 / (1 - p), dropped ones by 0 (as torch's input * noise, so a NaN input stays NaN).
#include <algorithm>
#include <cstring>

#include "engine/cpu/ops.hpp"
#include "engine/random.hpp"

namespace twp::cpu {
namespace {

// Elements per work item: their multipliers live on the stack, and a chunk boundary splits at
// most one Philox block (drawn twice, with the same result).
constexpr int64_t kChunk = 1024;

}  // namespace

template <class T>
void dropout_multipliers(const DropoutSpec& spec, uint64_t first_counter, int64_t count,
                         T* multipliers) {
    if (spec.p == 0.0f) {
        std::fill(multipliers, multipliers + count, T(1));
        return;
    }
    // p == 1 drops everything: the scale is never used, and 1 / 0 is never computed.
    const T scale = spec.p < 1.0f ? T(1) / (T(1) - T(spec.p)) : T(0);
    int64_t i = 0;
    while (i < count) {
        const uint64_t counter = first_counter + uint64_t(i);
        const PhiloxBlock bits = dropout_block(spec.seed, counter >> 2);
        for (uint64_t lane = counter & 3; lane < 4 && i < count; ++lane, ++i)
            multipliers[i] = dropout_keep(bits[lane], spec.p) ? scale : T(0);
    }
}

template <class T>
void dropout(const T* x, T* y, int64_t count, const DropoutSpec& spec) {
    if (spec.p == 0.0f) {  // the identity: no random numbers
        if (x != y) std::memcpy(y, x, sizeof(T) * count);
        return;
    }
    const int64_t chunks = (count + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static)
    for (int64_t chunk = 0; chunk < chunks; ++chunk) {
        const int64_t first = chunk * kChunk, n = std::min(kChunk, count - first);
        T multipliers[kChunk];
        dropout_multipliers(spec, spec.offset + uint64_t(first), n, multipliers);
#pragma omp simd
        for (int64_t i = 0; i < n; ++i) y[first + i] = x[first + i] * multipliers[i];
    }
}

template void dropout_multipliers<float>(const DropoutSpec&, uint64_t, int64_t, float*);
template void dropout_multipliers<double>(const DropoutSpec&, uint64_t, int64_t, double*);
template void dropout<float>(const float*, float*, int64_t, const DropoutSpec&);
template void dropout<double>(const double*, double*, int64_t, const DropoutSpec&);

}  // namespace twp::cpu
