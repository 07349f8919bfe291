// The spaces the predictor pipeline works in, and its data:
// - FeatureSpace: raw LeNet-5 weights -> PCA scores (the "PCA space" every MSE is reported in)
//   -> optionally standardized scores (the "model space" the transformer sees);
// - PredictorData: the runs' snapshots (owned), each run's snapshots in PCA space and in model
//   space (each computed once), and the train, validation and test windows.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/backend.hpp"
#include "engine/pca.hpp"
#include "experiment/weight_dataset.hpp"

namespace twp {

struct FeatureSpace {
    bool use_pca = false;
    PcaModel pca;                    // when use_pca
    bool standardize = false;
    std::vector<float> mean, scale;  // [D], train statistics of the PCA scores (standardize)
    int64_t raw_dim = 0;

    int64_t dim() const { return use_pca ? pca.components : raw_dim; }
    // Through the PCA on `backend` (cuBLAS on the GPU, BLAS on the CPU); the identity without PCA.
    std::vector<float> to_pca(Backend& backend, const float* raw, int64_t rows) const;     // [rows, D]
    std::vector<float> from_pca(Backend& backend, const float* scores, int64_t rows) const;  // [rows, raw_dim]
    void to_model(float* scores, int64_t rows) const;    // in place, PCA space -> model space
    void from_model(float* values, int64_t rows) const;  // in place, model space -> PCA space
};

struct PredictorData {
    WeightRuns runs;
    FeatureSpace space;
    std::vector<std::vector<float>> scores;  // per run, [count, D], PCA space
    std::vector<std::vector<float>> model;   // per run, [count, D], model space
    int64_t sequence_length = 0;             // of the windows
    // Validation windows are the last of each run's train windows (split_off_validation), not
    // among train_windows: what models and hyperparameters are chosen on.
    std::vector<Window> train_windows, validation_windows, test_windows;
};

// How the predictor's data is made from the runs.
struct DataOptions {
    int64_t sequence_length = 3;
    bool use_pca = false;
    int64_t components = 0;           // when use_pca
    bool standardize = false;
    double validation_fraction = 0;   // of each run's train windows, [0, 1)
    bool needs_test_windows = true;   // false: every snapshot may be train (nowcasting fits on whole runs)
};

// A standard deviation below this fraction of the largest one is floored at it when scores are
// standardized: a PCA tail whose train variance almost vanishes is not divided by almost zero.
constexpr double kStandardizeFloor = 1e-2;

// The mean and scale of each of the `d` columns of `series` (per run, [count, d]) over the
// runs' train snapshots ([0, train_end)); returns how many scales were floored.
int64_t fit_standardization(const std::vector<std::vector<float>>& series, const WeightRuns& runs, int64_t d,
                            std::vector<float>& mean, std::vector<float>& scale);

// Builds the feature space on the train snapshots of all runs (PCA fit with `components`
// components when use_pca; standardization statistics of the train scores when standardize),
// then the scores and the windows. `note` receives what the user should know (e.g. the component
// count was capped, scales were floored). Refuses before the PCA when no train window fits, or
// no test window where options.needs_test_windows.
PredictorData prepare_predictor_data(Backend& backend, WeightRuns runs, const DataOptions& options, std::string& note);
// The same with a feature space loaded from a saved model (evaluation modes).
PredictorData apply_feature_space(Backend& backend, WeightRuns runs, int64_t sequence_length,
                                  double validation_fraction, FeatureSpace space);

}  // namespace twp
