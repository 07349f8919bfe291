// The results folder of an experiment, results/experiment_YYYYMMDD_HHMMSS/:
//   config.txt           every argument, backend and device, build version, dataset
//   results_summary.txt  the reference's sections (base model accuracy, direct prediction MSE,
//                        multi-step MSEs, plug-in accuracies) with every forecaster of the list
//                        (the baselines beside the transformer), and a verdict line per section
//   results.json         all of it, plus per-run and per-step arrays, PCA explained variance,
//                        each stage's time
//   models/              <key>_best.safetensors and <key>_last.safetensors of each learned
//                        transformer forecaster (seed, transformer), pca.safetensors
//   plots/               training_loss, weight_trajectory, extrapolation_error, plug_in_accuracy,
//                        base_training: .png and the plotted data as .csv
// A new folder every time (a suffix when the second is taken): results are never overwritten.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "experiment/base_training.hpp"
#include "experiment/config.hpp"
#include "experiment/evaluation.hpp"
#include "experiment/forecaster.hpp"
#include "experiment/predictor_checkpoint.hpp"
#include "experiment/statistics.hpp"
#include "experiment/transformer.hpp"

namespace twp {

// A forecaster as the outputs name it, with what its fit chose.
struct ForecasterInfo {
    ForecasterNames names;
    ForecasterRole role = ForecasterRole::kBaseline;
    std::vector<ForecasterFact> facts;  // what its fit chose
};

// A transformer forecaster (seed, transformer), as the results report it.
struct PredictorRecord {
    ForecasterNames names;
    TransformerConfig model;
    bool delta_target = false;
    bool standardized = false;
    std::string model_path;                   // the predictor evaluated
    std::optional<PredictorHistory> history;  // when this experiment trained it
};

// Everything an experiment found, owned: what the results folder and the summary are written from.
struct ExperimentResults {
    std::string mode, backend, dataset;
    std::vector<RunSummary> base_runs;                 // when this experiment trained them
    std::optional<PredictorData> data;                 // the snapshots used, their scores and windows
    std::string notes;                                 // caps and choices the user should know
    std::vector<ForecasterInfo> forecasters;           // the evaluations' order
    std::vector<PredictorRecord> predictors;           // the transformer forecasters, in the list's order
    std::optional<DirectEvaluation> direct;
    std::vector<RatioVerdict> verdicts;                // [forecaster]: direct weight-space MSE against last value's
    std::optional<Extrapolation> extrapolation;
    std::optional<PluginEvaluation> plugin;
    std::optional<SpreadEvaluation> spread;           // when a forecaster samples
    std::vector<std::pair<std::string, double>> stage_seconds;
    std::filesystem::path dir;                         // the results folder (none for train_base)
};

// Creates results_dir/experiment_<timestamp>[_N] with models/ and plots/.
std::filesystem::path create_experiment_dir(const std::filesystem::path& results_dir);

void write_config(const std::filesystem::path& dir, const Config& config, const std::string& backend,
                  const std::string& device_note);
std::string summary_text(const ExperimentResults& results);
void write_results(const std::filesystem::path& dir, const ExperimentResults& results);
void write_plots(const std::filesystem::path& dir, const ExperimentResults& results);

}  // namespace twp
