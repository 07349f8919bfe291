// The weight-sequence dataset: every run's snapshots (base training's output) as flat vectors in
// training order, split chronologically per run — the first int(n * train_split) snapshots of a
// run are train, the rest test — and windows of k consecutive snapshots that predict the next
// one. Windows never cross runs or the split, so no test snapshot leaks into training.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace twp {

struct RunSnapshots {
    int run = 0;
    std::string dataset;                  // from the snapshots' index
    int64_t split = 0;                    // first test snapshot: int(count * train_split)
    int64_t count = 0;                    // snapshots in this run
    std::vector<float> vectors;           // [count, dim], training order
    std::vector<double> test_accuracy;    // [count], recorded when each snapshot was taken
    std::vector<double> test_loss;        // [count], likewise
    std::vector<double> epoch_position;   // [count], epoch - 1 + epoch_fraction
};

struct WeightRuns {
    int64_t dim = 0;
    std::vector<RunSnapshots> runs;
    int64_t train_snapshots() const;      // over all runs
};

// A window: snapshots [first, first + k) of one run predict snapshot first + k.
struct Window {
    int run_index = 0;  // into WeightRuns::runs
    int64_t first = 0;
};

// Reads <snapshot_dir>/training_runs/run_<r>/ (every run found, in run order). Clear errors for a
// missing or empty folder and snapshots of different sizes.
WeightRuns load_weight_runs(const std::filesystem::path& snapshot_dir, double train_split);

// Windows of k inputs whose target lies in the train part (train = true) or the test part.
std::vector<Window> make_windows(const WeightRuns& runs, int64_t k, bool train);

}  // namespace twp
