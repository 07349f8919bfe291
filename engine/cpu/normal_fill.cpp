// normal_fill on the CPU: standard normal noise from the counter-based generator, element i at
// counter offset + i of the seed's kNoise stream (engine/random.hpp: standard_normal). Each
// element is a pure function of its counter, so the threads' split of the loop cannot change it.
#include "engine/cpu/ops.hpp"
#include "engine/random.hpp"

namespace twp::cpu {

void normal_fill(float* x, int64_t count, uint64_t seed, uint64_t offset) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < count; ++i) x[i] = standard_normal(seed, offset + uint64_t(i));
}

}  // namespace twp::cpu
