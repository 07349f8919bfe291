// The feature space and the predictor's data; see feature_space.hpp.
#include "experiment/feature_space.hpp"

#include <algorithm>
#include <cmath>

#include "engine/error.hpp"
#include "experiment/numbers.hpp"

namespace twp {

std::vector<float> FeatureSpace::to_pca(Backend& backend, const float* raw, int64_t rows) const {
    if (!use_pca) return std::vector<float>(raw, raw + rows * raw_dim);
    std::vector<float> scores(rows * pca.components);
    pca.transform(backend, raw, rows, scores.data());
    return scores;
}

std::vector<float> FeatureSpace::from_pca(Backend& backend, const float* scores, int64_t rows) const {
    if (!use_pca) return std::vector<float>(scores, scores + rows * raw_dim);
    std::vector<float> raw(rows * raw_dim);
    pca.inverse_transform(backend, scores, rows, raw.data());
    return raw;
}

void FeatureSpace::to_model(float* values, int64_t rows) const {
    if (!standardize) return;
    const int64_t d = dim();
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < d; ++j) values[r * d + j] = (values[r * d + j] - mean[j]) / scale[j];
}

void FeatureSpace::from_model(float* values, int64_t rows) const {
    if (!standardize) return;
    const int64_t d = dim();
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < d; ++j) values[r * d + j] = values[r * d + j] * scale[j] + mean[j];
}

namespace {

void check_windows(const WeightRuns& runs, int64_t sequence_length, bool needs_test_windows = true) {
    TWP_CHECK(sequence_length >= 1, "--sequence_length must be at least 1, got " << sequence_length);
    TWP_CHECK(!make_windows(runs, sequence_length, true).empty(),
              "--sequence_length " << sequence_length << " leaves no training window: each run's train part "
                                   << "needs at least sequence_length + 1 snapshots (take more snapshots per "
                                   << "epoch, more epochs, a larger --train_split or a shorter sequence)");
    TWP_CHECK(!needs_test_windows || !make_windows(runs, sequence_length, false).empty(),
              "--sequence_length " << sequence_length << " leaves no test window: each run's test part "
                                   << "needs at least sequence_length + 1 snapshots (take more snapshots, a "
                                   << "smaller --train_split or a shorter sequence)");
}

// Each run's PCA scores (into data.scores).
void compute_scores(Backend& backend, PredictorData& data) {
    for (const RunSnapshots& r : data.runs.runs) data.scores.push_back(data.space.to_pca(backend, r.vectors.data(), r.count));
}

// The model-space snapshots and the windows, once the scores are there.
PredictorData finish(PredictorData data, int64_t sequence_length, double validation_fraction) {
    for (size_t r = 0; r < data.runs.runs.size(); ++r) {
        std::vector<float> model = data.scores[r];
        data.space.to_model(model.data(), data.runs.runs[r].count);
        data.model.push_back(std::move(model));
    }
    data.sequence_length = sequence_length;
    data.train_windows = make_windows(data.runs, sequence_length, true);
    data.validation_windows = split_off_validation(data.train_windows, validation_fraction);
    data.test_windows = make_windows(data.runs, sequence_length, false);
    return data;
}

}  // namespace

int64_t fit_standardization(const std::vector<std::vector<float>>& series, const WeightRuns& runs, int64_t d,
                            std::vector<float>& mean, std::vector<float>& scale) {
    std::vector<double> sum(d, 0.0), sum_sq(d, 0.0);
    int64_t n = 0;
    for (size_t r = 0; r < runs.runs.size(); ++r) {
        const float* values = series[r].data();
        for (int64_t i = 0; i < runs.runs[r].train_end; ++i, ++n)
            for (int64_t j = 0; j < d; ++j) {
                sum[j] += values[i * d + j];
                sum_sq[j] += double(values[i * d + j]) * values[i * d + j];
            }
    }
    TWP_CHECK(n > 0, "standardization needs train snapshots");
    std::vector<double> sd(d);
    double largest = 0;
    mean.resize(d);
    scale.resize(d);
    for (int64_t j = 0; j < d; ++j) {
        const double m = sum[j] / double(n);
        mean[j] = float(m);
        sd[j] = std::sqrt(std::max(sum_sq[j] / double(n) - m * m, 0.0));
        largest = std::max(largest, sd[j]);
    }
    // All constant: nothing to scale (scale 1).
    const double floor = largest > 0 ? kStandardizeFloor * largest : 1.0;
    int64_t floored = 0;
    for (int64_t j = 0; j < d; ++j) {
        floored += sd[j] < floor;
        scale[j] = float(std::max(sd[j], floor));
    }
    return floored;
}

PredictorData prepare_predictor_data(Backend& backend, WeightRuns runs, const DataOptions& options, std::string& note) {
    const int64_t sequence_length = options.sequence_length, components = options.components;
    const bool use_pca = options.use_pca;
    check_windows(runs, sequence_length, options.needs_test_windows);  // before the (expensive) PCA
    PredictorData data;
    data.runs = std::move(runs);
    const WeightRuns& r = data.runs;
    data.space.raw_dim = r.dim;
    data.space.use_pca = use_pca;
    if (use_pca) {
        TWP_CHECK(components >= 1, "--n_components must be at least 1, got " << components);
        const int64_t n_train = r.train_snapshots();
        std::vector<float> train;
        for (const RunSnapshots& run : r.runs)
            train.insert(train.end(), run.vectors.begin(), run.vectors.begin() + run.train_end * r.dim);
        const int64_t used = std::min({components, n_train, r.dim});
        if (used < components)
            note += "PCA: --n_components " + std::to_string(components) + " capped at " + std::to_string(used) +
                    " (the number of training snapshots" + (used == r.dim ? ", the weight count" : "") +
                    "), as the reference does\n";
        data.space.pca = fit_pca(backend, train.data(), n_train, r.dim, used);
    }
    compute_scores(backend, data);
    if (options.standardize) {
        FeatureSpace& space = data.space;
        space.standardize = true;
        const int64_t floored = fit_standardization(data.scores, data.runs, space.dim(), space.mean, space.scale);
        if (floored > 0)
            note += "--standardize: " + std::to_string(floored) + " of " + std::to_string(space.dim()) +
                    " components have a train standard deviation below " + number_text(kStandardizeFloor) +
                    " of the largest; they are divided by that floor instead\n";
    }
    return finish(std::move(data), sequence_length, options.validation_fraction);
}

PredictorData apply_feature_space(Backend& backend, WeightRuns runs, int64_t sequence_length,
                                  double validation_fraction, FeatureSpace space) {
    TWP_CHECK(space.raw_dim == runs.dim, "the model was fitted on snapshots of " << space.raw_dim
                                                                               << " weights, these have " << runs.dim);
    check_windows(runs, sequence_length);
    PredictorData data;
    data.runs = std::move(runs);
    data.space = std::move(space);
    compute_scores(backend, data);
    return finish(std::move(data), sequence_length, validation_fraction);
}

}  // namespace twp
