// Snapshot-like data for the PCA benchmarks (bench_pca, bench_pca_gpu): x[n, d] is a random walk
// from a small random start whose steps shrink as 1 / sqrt(1 + t / 100), as a training's weights
// move less and less, so its spectrum decays like real snapshots' and the small components are
// there to lose. Seeded: every run and both benchmarks see the same data.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "engine/random.hpp"

namespace twp::bench {

inline std::vector<float> random_walk(int64_t n, int64_t d, uint64_t seed) {
    std::vector<float> x(n * d);
    Rng rng(seed, RngStream::kInit);
    for (int64_t j = 0; j < d; ++j) x[j] = rng.uniform(0.1f);
    for (int64_t t = 1; t < n; ++t) {
        const float step = 0.01f / std::sqrt(1.0f + float(t) / 100.0f);
        for (int64_t j = 0; j < d; ++j) x[t * d + j] = x[(t - 1) * d + j] + step * rng.uniform(1.0f);
    }
    return x;
}

}  // namespace twp::bench
