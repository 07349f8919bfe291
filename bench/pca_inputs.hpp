// What the PCA benchmarks (bench_pca, bench_pca_gpu) fit: the sample counts given with --sizes,
// and snapshot-like data of those sizes.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "engine/random.hpp"

namespace twp::bench {

// "200,1000,4000" -> {200, 1000, 4000}; each a sample count >= 2.
inline std::vector<int64_t> parse_sizes(const std::string& text) {
    std::vector<int64_t> sizes;
    std::stringstream stream(text);
    std::string item;
    while (std::getline(stream, item, ',')) {
        const long long value = std::atoll(item.c_str());
        TWP_CHECK(value >= 2, "--sizes: \"" << item << "\" is not a sample count >= 2");
        sizes.push_back(value);
    }
    return sizes;
}

// x[n, d]: a random walk from a small random start whose steps shrink as 1 / sqrt(1 + t / 100), as
// a training's weights move less and less, so its spectrum decays like real snapshots' and the
// small components are there to lose. Seeded: every run and both benchmarks see the same data.
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
