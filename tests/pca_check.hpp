// What the PCA tests share (tests/test_pca.cpp, CPU; tests/test_pca_device.cpp, CUDA): data
// shaped like weight snapshots, and checks of a fitted model.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "engine/pca.hpp"
#include "engine/random.hpp"

namespace twp::test {

// x[n, d]: a seeded random walk around 1, steps shrinking as 1/sqrt(t) (a spectrum decaying like
// 1/i², like a training trajectory's).
inline std::vector<float> random_walk(int64_t n, int64_t d, uint64_t seed) {
    Rng rng(seed, RngStream::kInit);
    std::vector<float> x(n * d);
    for (int64_t j = 0; j < d; ++j) x[j] = 1.0f + rng.uniform(0.1f);
    for (int64_t t = 1; t < n; ++t) {
        const float step = 0.1f / std::sqrt(float(t));
        for (int64_t j = 0; j < d; ++j) x[t * d + j] = x[(t - 1) * d + j] + step * rng.uniform(1.0f);
    }
    return x;
}

// max |B·Bᵀ - I| over basis[k, d], in double.
inline double orthonormality_error(const PcaModel& model) {
    const int64_t k = model.components, d = model.dim;
    double worst = 0;
    for (int64_t a = 0; a < k; ++a)
        for (int64_t b = 0; b <= a; ++b) {
            double dot = 0;
            for (int64_t j = 0; j < d; ++j) dot += double(model.basis[a * d + j]) * double(model.basis[b * d + j]);
            worst = std::max(worst, std::abs(dot - (a == b ? 1.0 : 0.0)));
        }
    return worst;
}

// No NaN or Inf anywhere in the model.
inline bool all_finite(const PcaModel& model) {
    for (float v : model.mean) if (!std::isfinite(v)) return false;
    for (float v : model.basis) if (!std::isfinite(v)) return false;
    for (double v : model.explained_variance) if (!std::isfinite(v)) return false;
    for (double v : model.explained_variance_ratio) if (!std::isfinite(v)) return false;
    return true;
}

}  // namespace twp::test
