// Evaluation of every forecaster of the list (experiment/forecaster.hpp), the transformer beside
// the baselines, in the list's order:
// - direct: one-step MSE over all test windows, in PCA space and in weight space (a forecaster's
//   weights: its own where it forecasts weights, else its scores mapped back through the PCA;
//   against the true snapshot), overall and per run;
// - extrapolation: from each tested run's first test window in the time split (the history: the
//   run up to it; a run held out in the runs split starts at the same place), each
//   forecaster's path of steps; step i against that run's true snapshot at the same position; MSE
//   per step over runs;
// - plug-in: each extrapolated step's weights put back into LeNet-5 and scored on the test set,
//   beside the true snapshot and the true snapshot after a PCA round trip (what PCA alone loses).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "experiment/base_training.hpp"
#include "experiment/forecaster.hpp"

namespace twp {

struct ForecastError {
    double pca_mse = 0, weight_mse = 0;                  // over all windows
    std::vector<double> per_run_pca, per_run_weight;     // per run (NaN where a run has no window)
    std::vector<double> per_window_pca, per_window_weight;  // per test window, in window order
};

struct DirectEvaluation {
    int64_t windows = 0;
    std::vector<Window> tested;              // the test windows, in order
    std::vector<ForecastError> forecasters;  // in the list's order
};

struct Extrapolation {
    int steps = 0;  // the longest any run allows (<= requested)
    // [forecaster][step]: mean over the runs that have the step; NaN where none has.
    std::vector<std::vector<double>> pca_mse, weight_mse;
    std::vector<std::vector<int>> runs_per_step;  // [forecaster][step]
    // Per run: each forecaster's path and where it starts.
    struct RunPath {
        int run_index = 0;
        int64_t start = 0;  // first target snapshot index
        int steps = 0;
        std::vector<std::vector<float>> predicted;          // [forecaster], [steps, D] PCA space
        std::vector<std::vector<float>> predicted_weights;  // [forecaster], [steps, raw_dim]
    };
    std::vector<RunPath> paths;
};

struct PluginEvaluation {
    // [series][step]: mean test accuracy (%) over runs. Series: the forecasters' keys, then
    // true_snapshot and true_pca_round_trip.
    std::vector<std::string> series;
    std::vector<std::vector<double>> accuracy;
    std::vector<std::vector<std::vector<double>>> per_run;  // [series][run][step]
};

DirectEvaluation evaluate_direct(Backend& backend, Forecasters& forecasters, const PredictorData& data);
Extrapolation extrapolate(Backend& backend, Forecasters& forecasters, const PredictorData& data, int steps);
PluginEvaluation plugin_test(Backend& backend, const Forecasters& forecasters, const ImageSet& test_set,
                             const PredictorData& data, const Extrapolation& extrapolation);

}  // namespace twp
