// Weight trajectories with a known next step, for the per-weight forecaster's tests: each weight's
// step decays geometrically, d_{t+1} = decay * d_t, from a first step of random sign and a
// per-weight random size (log-uniform over a decade, times its group's scale), so "the last value"
// misses by decay * d_t and a model of the steps can do far better. Small enough to fit in a few
// seconds, under the CUDA emulation too.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "engine/backend.hpp"
#include "engine/random.hpp"
#include "experiment/feature_space.hpp"

namespace twp::test {

// `runs` runs of `count` snapshots of the groups' weights (group g: group_sizes[g] weights whose
// steps are about group_scales[g]), split in time at `split`.
inline WeightRuns decaying_runs(int runs, int64_t count, int64_t split, const std::vector<int64_t>& group_sizes,
                                const std::vector<float>& group_scales, float decay, uint64_t seed) {
    Rng rng(seed, RngStream::kInit);
    WeightRuns result;
    for (int64_t size : group_sizes) result.dim += size;
    for (int r = 0; r < runs; ++r) {
        RunSnapshots run;
        run.run = r + 1;
        run.dataset = "synthetic";
        run.count = count;
        run.split = run.train_end = run.test_begin = split;
        run.vectors.resize(count * result.dim);
        run.test_accuracy.assign(count, 0.0);
        run.test_loss.assign(count, 0.0);
        run.epoch_position.assign(count, 0.0);
        int64_t j = 0;
        for (size_t g = 0; g < group_sizes.size(); ++g)
            for (int64_t i = 0; i < group_sizes[g]; ++i, ++j) {
                float x = rng.uniform(0.1f);
                float step = group_scales[g] * std::pow(10.0f, -rng.uniform()) * (rng.uniform() < 0.5f ? -1.0f : 1.0f);
                for (int64_t t = 0; t < count; ++t) {
                    run.vectors[t * result.dim + j] = x;
                    x += step;
                    step *= decay;
                }
            }
        result.runs.push_back(std::move(run));
    }
    return result;
}

// The predictor's data on raw weights (no PCA) with windows of k snapshots.
inline PredictorData raw_data(Backend& backend, WeightRuns runs, int64_t k, double validation_fraction) {
    FeatureSpace space;
    space.raw_dim = runs.dim;
    return apply_feature_space(backend, std::move(runs), k, validation_fraction, std::move(space));
}

}  // namespace twp::test
