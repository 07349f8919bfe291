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
//   beside the true snapshot and the true snapshot after a PCA round trip (what PCA alone loses);
// - spread, for the sampling forecasters (Forecaster::samples() > 0), whose point figures above are
//   the means of their draws: coverage, CRPS and the memorization check of the direct draws
//   (experiment/calibration.hpp) beside a Gaussian around last value with the train steps' RMS per
//   component, and in the plug-in test the accuracy of every draw of every path.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "experiment/base_training.hpp"
#include "experiment/calibration.hpp"
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
    std::vector<std::vector<float>> draws;   // [forecaster]: [windows, S, D] PCA space; empty for point forecasters
};

// The spread of the sampling forecasters' direct draws, and of the Gaussian baseline.
struct SpreadEvaluation {
    struct Entry {
        std::string key;  // a forecaster's, or "gaussian"
        SpreadScore score;
        Memorization memorization;  // sampling forecasters only
        int64_t samples = 0;
    };
    std::vector<Entry> entries;           // the sampling forecasters in the list's order, then gaussian
    std::vector<double> gaussian_sd;      // [D]: the baseline's standard deviation per component
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
        std::vector<std::vector<float>> sampled;            // [forecaster], [S, steps, D]; empty for point forecasters
    };
    std::vector<RunPath> paths;
};

struct PluginEvaluation {
    // [series][step]: mean test accuracy (%) over runs. Series: the forecasters' keys, then
    // true_snapshot and true_pca_round_trip.
    std::vector<std::string> series;
    std::vector<std::vector<double>> accuracy;
    std::vector<std::vector<std::vector<double>>> per_run;  // [series][run][step]
    // The sampling forecasters' draws, each path's every draw scored: per step, over the runs'
    // draws together.
    struct DrawAccuracy {
        std::string key;
        int64_t samples = 0;
        std::vector<double> mean, sd, min, max;  // [step]: of the draws' accuracies (%)
        std::vector<double> within;              // [step]: fraction within 0.5 points of the true snapshot's
    };
    std::vector<DrawAccuracy> draws;
};

DirectEvaluation evaluate_direct(Backend& backend, Forecasters& forecasters, const PredictorData& data);
Extrapolation extrapolate(Backend& backend, Forecasters& forecasters, const PredictorData& data, int steps);
PluginEvaluation plugin_test(Backend& backend, Forecasters& forecasters, const ImageSet& test_set,
                             const PredictorData& data, const Extrapolation& extrapolation);
// Needs the direct evaluation's draws; entries only for the forecasters that sample, and gaussian.
SpreadEvaluation evaluate_spread(const Forecasters& forecasters, const PredictorData& data, const DirectEvaluation& direct);

}  // namespace twp
