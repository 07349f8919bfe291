// A sweep's table: for each cell, each forecaster's direct (one-step) weight-space MSE from the
// cell's results.json and its ratio to last value's, and the best forecaster (the lowest ratio,
// last value itself aside). When results.json has a "verdicts" array (entries {"split",
// "forecaster", "ratio", "low", "high", "verdict"}), the ratios and verdicts are read from it (the
// first split listed); otherwise the ratio is weight_mse / last_value's weight_mse of the
// "direct_prediction" section. Written into the sweep folder:
//   sweep_results.csv    one row per cell: cell, the axis values, status, seconds, best,
//                        best_ratio, [split,] per forecaster <key>_weight_mse, <key>_ratio
//                        [, <key>_verdict, <key>_low, <key>_high], experiment
//   sweep_summary.txt    the same as an aligned table
//   plots/sweep_heatmap.png|.csv  the best ratio per cell: the first axis on x, the second on y
//                        (one axis: a single row); with more axes one map per combination of the
//                        others' values, sweep_heatmap_<flag>-<value>_....png
#pragma once

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

namespace twp {

struct ForecasterScore {
    std::string key;          // "linear", as results.json names it
    double weight_mse = NAN;  // direct prediction, weight space
    double ratio = NAN;       // to last value's (1 for last value)
    std::string verdict;      // from "verdicts", when there
    double low = NAN, high = NAN;
};

struct CellScores {
    std::vector<ForecasterScore> forecasters;  // results.json's order
    std::string split;                         // the verdicts' split, when there are verdicts
    std::string best;                          // lowest finite ratio, last_value aside; "" if none
    double best_ratio = NAN;
};

// Reads a cell's results.json; throws twp::Error naming the file when it is missing or has no
// direct prediction section.
CellScores read_cell_scores(const std::filesystem::path& results_json);

struct SweepTableRow {
    int cell = 0;
    std::vector<std::string> values;  // (axes)
    std::string status;               // done|failed|pending
    double seconds = 0;
    std::string experiment;           // relative to the sweep folder
    CellScores scores;                // empty unless done
};

// Writes the table and the heat maps into `sweep_dir` (see above); returns the summary's text.
// axis_values[a] lists axis a's values in order; each row's values are one of each.
std::string write_sweep_table(const std::filesystem::path& sweep_dir, const std::vector<std::string>& axis_flags,
                              const std::vector<std::vector<std::string>>& axis_values,
                              const std::vector<SweepTableRow>& rows);

}  // namespace twp
