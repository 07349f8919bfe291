// The feature space and the predictor's data; see feature_space.hpp.
#include "experiment/feature_space.hpp"

#include <algorithm>
#include <cmath>

#include "engine/error.hpp"

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

void check_windows(const WeightRuns& runs, int64_t sequence_length) {
    TWP_CHECK(sequence_length >= 1, "--sequence_length must be at least 1, got " << sequence_length);
    TWP_CHECK(!make_windows(runs, sequence_length, true).empty(),
              "--sequence_length " << sequence_length << " leaves no training window: each run's train part "
                                   << "needs at least sequence_length + 1 snapshots (take more snapshots per "
                                   << "epoch, more epochs, a larger --train_split or a shorter sequence)");
    TWP_CHECK(!make_windows(runs, sequence_length, false).empty(),
              "--sequence_length " << sequence_length << " leaves no test window: each run's test part "
                                   << "needs at least sequence_length + 1 snapshots (take more snapshots, a "
                                   << "smaller --train_split or a shorter sequence)");
}

// Each run's PCA scores (into data.scores).
void compute_scores(Backend& backend, PredictorData& data) {
    for (const RunSnapshots& r : data.runs.runs) data.scores.push_back(data.space.to_pca(backend, r.vectors.data(), r.count));
}

// The model-space snapshots and the windows, once the scores are there.
PredictorData finish(PredictorData data, int64_t sequence_length) {
    for (size_t r = 0; r < data.runs.runs.size(); ++r) {
        std::vector<float> model = data.scores[r];
        data.space.to_model(model.data(), data.runs.runs[r].count);
        data.model.push_back(std::move(model));
    }
    data.sequence_length = sequence_length;
    data.train_windows = make_windows(data.runs, sequence_length, true);
    data.test_windows = make_windows(data.runs, sequence_length, false);
    return data;
}

// Mean and standard deviation of every score over the train snapshots of all runs.
void fit_standardization(PredictorData& data) {
    FeatureSpace& space = data.space;
    const int64_t d = space.dim(), n_train = data.runs.train_snapshots();
    std::vector<double> sum(d, 0.0), sum_sq(d, 0.0);
    for (size_t r = 0; r < data.runs.runs.size(); ++r) {
        const float* scores = data.scores[r].data();
        for (int64_t i = 0; i < data.runs.runs[r].split; ++i)
            for (int64_t j = 0; j < d; ++j) {
                sum[j] += scores[i * d + j];
                sum_sq[j] += double(scores[i * d + j]) * scores[i * d + j];
            }
    }
    space.standardize = true;
    space.mean.resize(d);
    space.scale.resize(d);
    for (int64_t j = 0; j < d; ++j) {
        const double mean = sum[j] / double(n_train);
        const double var = std::max(sum_sq[j] / double(n_train) - mean * mean, 0.0);
        space.mean[j] = float(mean);
        // A constant feature (e.g. a zero-variance PCA tail) keeps scale 1: no division by 0.
        space.scale[j] = var > 1e-24 ? float(std::sqrt(var)) : 1.0f;
    }
}

}  // namespace

PredictorData prepare_predictor_data(Backend& backend, WeightRuns runs, int64_t sequence_length, bool use_pca,
                                     int64_t components, bool standardize, std::string& note) {
    check_windows(runs, sequence_length);  // before the (expensive) PCA
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
            train.insert(train.end(), run.vectors.begin(), run.vectors.begin() + run.split * r.dim);
        const int64_t used = std::min({components, n_train, r.dim});
        if (used < components)
            note += "PCA: --n_components " + std::to_string(components) + " capped at " + std::to_string(used) +
                    " (the number of training snapshots" + (used == r.dim ? ", the weight count" : "") +
                    "), as the reference does\n";
        data.space.pca = fit_pca(backend, train.data(), n_train, r.dim, used);
    }
    compute_scores(backend, data);
    if (standardize) fit_standardization(data);
    return finish(std::move(data), sequence_length);
}

PredictorData apply_feature_space(Backend& backend, WeightRuns runs, int64_t sequence_length, FeatureSpace space) {
    TWP_CHECK(space.raw_dim == runs.dim, "the model was fitted on snapshots of " << space.raw_dim
                                                                               << " weights, these have " << runs.dim);
    check_windows(runs, sequence_length);
    PredictorData data;
    data.runs = std::move(runs);
    data.space = std::move(space);
    compute_scores(backend, data);
    return finish(std::move(data), sequence_length);
}

}  // namespace twp
