// The weight-sequence dataset: every run's snapshots (base training's output) as flat vectors in
// training order, and windows of k consecutive snapshots that predict the next one. Two splits:
// - time (the reference's): each run's first int(n * train_split) snapshots are train, the rest
//   test;
// - runs: one run held out whole (all its windows test), every snapshot of the others train.
// Windows never cross runs or the split, so no test snapshot leaks into training. The last
// windows of each run's train part can be kept apart as validation windows, on which models and
// hyperparameters are chosen: the test windows are touched by the final evaluation only.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace twp {

struct RunSnapshots {
    int run = 0;
    std::string dataset;                  // from the snapshots' index
    int64_t split = 0;                    // int(count * train_split): where extrapolation starts
    int64_t count = 0;                    // snapshots in this run
    // Snapshots [0, train_end) are train (their windows train, the PCA fitted on them); windows
    // starting at test_begin or later are test. Both are `split` in the time split; a run held
    // out has 0 and 0, the others count and count.
    int64_t train_end = 0, test_begin = 0;
    std::vector<float> vectors;           // [count, dim], training order
    std::vector<double> test_accuracy;    // [count], recorded when each snapshot was taken
    std::vector<double> test_loss;        // [count], likewise
    std::vector<double> epoch_position;   // [count], epoch - 1 + epoch_fraction
};

struct WeightRuns {
    int64_t dim = 0;
    std::vector<RunSnapshots> runs;
    int64_t train_snapshots() const;      // over all runs (their train_end)
};

// A window: snapshots [first, first + k) of one run predict snapshot first + k.
struct Window {
    int run_index = 0;  // into WeightRuns::runs
    int64_t first = 0;
};

// Reads <snapshot_dir>/training_runs/run_<r>/ (every run found, in run order). Clear errors for a
// missing or empty folder and snapshots of different sizes.
WeightRuns load_weight_runs(const std::filesystem::path& snapshot_dir, double train_split);

// The runs split with run `held_out` (an index into runs.runs) tested: it becomes all test, the
// others all train.
WeightRuns hold_out_run(WeightRuns runs, int held_out);

// Windows of k inputs whose target lies in the train part (train = true) or the test part.
std::vector<Window> make_windows(const WeightRuns& runs, int64_t k, bool train);

// Moves the last ceil(fraction x n) of each run's n train windows out of `train` into the
// validation windows it returns, keeping at least one train window per run (fraction 0: none).
std::vector<Window> split_off_validation(std::vector<Window>& train, double fraction);

}  // namespace twp
