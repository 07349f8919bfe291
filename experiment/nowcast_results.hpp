// A nowcasting experiment's results folder (results/experiment_<time>/, --mode nowcast):
//   config.txt, nowcast_plan.json   the command, and what a --resume must match
//   runs/<key>/seed_<s>/            each run's snapshots (training_runs/run_1/, nowcast_log.json)
//   models/                         what the learned forecasters saved while fitting
//   results_summary.txt             per forecaster: steps and seconds to each target with the
//                                   saving against plain SGD, accuracy at the control's last step,
//                                   jumps that made the test loss worse; a verdict per forecaster
//   results.json                    all of it, per seed too, and every run's accuracy series
//   nowcast_accuracy.csv            forecaster, seed, step, seconds, test accuracy and loss, jump
//   nowcast_targets.csv             forecaster, seed, target, steps and seconds to reach it
//   nowcast_jumps.csv               forecaster, seed, step, test loss and accuracy before and after
//   plots/nowcast_accuracy.png      test accuracy against SGD steps, mean and 95% band over seeds
//   plots/nowcast_accuracy_top.png  the same from one point below the lowest target
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "experiment/nowcast_measures.hpp"
#include "experiment/results.hpp"

namespace twp {

struct NowcastResults {
    std::filesystem::path dir;
    std::string backend, dataset;
    std::string command;  // the arguments, for the summary's "made by"
    // The plan.
    int64_t every = 0, history = 0;
    int horizon = 0;
    std::string momentum;
    std::vector<double> targets;
    std::vector<uint64_t> seeds;
    std::vector<std::string> keys;  // "control" first
    int fit_runs = 0;               // the trajectories the forecasters were fitted on
    std::vector<ForecasterInfo> forecasters;  // [keys without control], with what each fit chose
    // What was measured.
    std::vector<NowcastRun> runs;
    std::vector<NowcastMeasure> measures;  // [keys]
    std::string notes;
    std::vector<std::pair<std::string, double>> stage_seconds;
};

// The figure a user quotes: the saving of steps to the highest target, mean with its interval.
std::string nowcast_summary_text(const NowcastResults& results);
void write_nowcast_results(const NowcastResults& results);

}  // namespace twp
