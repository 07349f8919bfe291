// The experiment, stage by stage, as the mode asks:
//   base training -> snapshots and PCA -> predictor training (fitting the forecasters) ->
//   direct evaluation -> extrapolation -> plug-in test -> results folder.
// The plan (which stages run, what must be loaded) is computed once from the configuration;
// each stage is one function; the results own their data. main.cpp parses, runs and catches;
// tests run the same pipeline on a backend and a dataset of their own.
#pragma once

#include <optional>
#include <string>

#include "engine/backend.hpp"
#include "experiment/config.hpp"
#include "experiment/mnist.hpp"
#include "experiment/predictor_file.hpp"
#include "experiment/results.hpp"

namespace twp {

enum class Mode { kFull, kTrainBase, kTrainPredictor, kEvaluate, kExtrapolate, kPluginTest, kNowcast };

// --mode's spelling ("full", "train_base", ...) and back; UsageError for an unknown one.
Mode parse_mode(const std::string& text);
const char* mode_name(Mode mode);

struct Plan {
    Mode mode = Mode::kFull;
    bool trains_base = false;        // full, train_base
    bool needs_images = false;       // full, train_base, plugin_test
    bool loads_predictor = false;    // evaluate, extrapolate, plugin_test: --model_path
    bool trains_predictor = false;   // full, train_predictor
    bool evaluates_direct = false;   // full, evaluate
    bool extrapolates = false;       // full, extrapolate, plugin_test
    bool plug_in = false;            // full, plugin_test
    bool writes_results = false;     // all but train_base (nowcast writes its own: experiment/nowcast.hpp)
    bool nowcasts = false;           // nowcast
};

// The plan for `config`, refusing (UsageError) what needs no data to refuse: an evaluation mode
// without --model_path, a transformer as wide as the raw weights without --apply_pca.
Plan make_plan(const Config& config);

// What is read before anything is written or a backend is chosen, so that missing or bad inputs
// are refused first: the images (when the plan needs them) and the saved predictor.
struct Inputs {
    Dataset dataset;                          // empty unless plan.needs_images
    std::optional<LoadedPredictor> predictor;  // when plan.loads_predictor
};
Inputs load_inputs(const Config& config, const Plan& plan);

// Whether the configuration asks for a study (experiment/study.hpp): --repeats above 1 or a split
// other than time.
bool runs_study(const Config& config);
// Repeat `repeat` (1-based) of a study: repeat 1 is the configuration itself; repeat i > 1 seeds
// base training and predictors from random_seed + 1000 (i - 1) and keeps its snapshots in
// <snapshot_dir>/repeat_<i>.
Config repeat_config(const Config& config, int repeat);

// Runs the plan on `backend`: one experiment, or a study. device_note goes to config.txt. Prints
// progress to stderr and each stage's report to stdout; returns the results (their folder in
// .dir; a study's results hold only its mode and folder, its figures are in the folder).
ExperimentResults run_experiment(Backend& backend, const Config& config, const Plan& plan, Inputs& inputs,
                                 const std::string& device_note);

}  // namespace twp
