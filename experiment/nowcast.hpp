// --mode nowcast: can the forecasters train LeNet-5 in fewer SGD steps? (The reference's
// "learned optimizer using the predictive model"; WNN, Jang et al. 2023; NiNo, Knyazev et al. 2025.)
// 1. The forecasters are fitted on other runs' trajectories only: the base runs of
//    --snapshot_dir (trained there first, as --mode train_base would, where they are missing or
//    unfinished; complete ones are reused), every snapshot of them train but the last
//    --validation_fraction of each run's windows, on which the fits choose.
// 2. For each of --repeats seeds (random_seed + kNowcastSeedOffset + i, never a fitted run's), a
//    control run (plain base training) and one run per forecaster that jumps as
//    experiment/nowcast_hook.hpp says (--nowcast_every, --nowcast_horizon, --nowcast_momentum,
//    a history of --sequence_length snapshots, or more where a forecaster needs them), with the
//    same seed, data order and evaluation schedule.
// 3. The measures of experiment/nowcast_measures.hpp into the results folder
//    (experiment/nowcast_results.hpp). With --resume the most recent unfinished nowcast folder
//    under --results_dir continues: finished runs are kept, an interrupted one continues from its
//    checkpoint, and the forecasters are fitted again (deterministically, on the same runs).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/backend.hpp"
#include "experiment/config.hpp"
#include "experiment/mnist.hpp"

namespace twp {

constexpr uint64_t kNowcastSeedOffset = 100;

// The forecasters nowcasting runs without --forecasters: the ones that forecast the weights
// themselves (a PCA fitted on other seeds' weights does not span a new run's).
std::vector<std::string> default_nowcasters();
// --forecasters, or the default ones.
std::vector<std::string> nowcast_keys(const Config& config);
// Repeat i's seed: random_seed + kNowcastSeedOffset + i - 1.
std::vector<uint64_t> nowcast_seeds(const Config& config);

// What the command line alone refuses (UsageError), before anything is read or written.
void check_nowcast_config(const Config& config);

// The experiment on `backend`; returns its results folder.
std::filesystem::path run_nowcast(Backend& backend, const Config& config, const Dataset& dataset,
                                  const std::string& device_note);

}  // namespace twp
