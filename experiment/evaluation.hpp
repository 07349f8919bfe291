// Evaluation of the predictor, always beside two baselines that need no training:
//   last value  next = current                (x_t)
//   linear      next = 2 * current - previous (x_t + (x_t - x_{t-1}))
// - direct: one-step MSE over all test windows, in PCA space and in weight space (the predicted
//   scores mapped back through the PCA, against the true snapshot), overall and per run;
// - extrapolation: from each run's first test window, predictions fed back autoregressively;
//   step i against that run's true snapshot at the same position; MSE per step over runs;
// - plug-in: each extrapolated step's weights put back into LeNet-5 and scored on the test set,
//   beside the true snapshot, the true snapshot after a PCA round trip (what PCA alone loses)
//   and the baselines.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "experiment/base_training.hpp"
#include "experiment/predictor.hpp"

namespace twp {

inline const std::vector<std::string> kMethods = {"transformer", "last_value", "linear"};

struct MethodError {
    double pca_mse = 0, weight_mse = 0;                  // over all windows
    std::vector<double> per_run_pca, per_run_weight;     // per run (NaN where a run has no window)
};

struct DirectEvaluation {
    int64_t windows = 0;
    std::vector<MethodError> methods;  // in kMethods order
};

struct Extrapolation {
    int steps = 0;  // the longest any run allows (<= requested)
    // [method][step]: mean over the runs that have the step; NaN where none has.
    std::vector<std::vector<double>> pca_mse, weight_mse;
    std::vector<std::vector<int>> runs_per_step;         // [method][step]
    // Per run: predicted PCA scores per step [method][steps_run * D] and the true indices.
    struct RunPath {
        int run_index = 0;
        int64_t start = 0;       // first target snapshot index
        int steps = 0;
        std::vector<std::vector<float>> predicted;  // [method], [steps, D] PCA space
    };
    std::vector<RunPath> paths;
};

struct PluginEvaluation {
    // [series][step]: mean test accuracy (%) over runs. Series: transformer, last_value, linear,
    // true_snapshot, true_pca_round_trip.
    std::vector<std::string> series;
    std::vector<std::vector<double>> accuracy;
    std::vector<std::vector<std::vector<double>>> per_run;  // [series][run][step]
};

DirectEvaluation evaluate_direct(Predictor& predictor, const PredictorData& data);
Extrapolation extrapolate(Predictor& predictor, const PredictorData& data, int steps);
PluginEvaluation plugin_test(Backend& backend, const ImageSet& test_set, const PredictorData& data,
                             const Extrapolation& extrapolation);

}  // namespace twp
