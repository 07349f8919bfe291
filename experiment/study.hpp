// A study: the experiment repeated (--repeats N, new seeds for base training and predictors each
// time) and tested on one or both splits (--split time|runs|both), every unit (one repeat, one
// split, one fold of the runs split) a complete experiment folder of its own, and the figures a
// user quotes aggregated over the repeats with their spread:
//   results/experiment_<time>/
//     config.txt, results_summary.txt, results.json   the aggregate: every headline figure as the
//                                                     mean over repeats with its 95% interval,
//                                                     each forecaster's ratio to last value
//                                                     (paired bootstrap) and its verdict
//     plots/   extrapolation_error_<split>, plug_in_accuracy_<split>, direct_ratio_<split>: bands
//              over the repeats
//     repeat_<i>/time/, repeat_<i>/runs/fold_<r>/     the units, each as a single experiment
// The runs split holds out one run at a time (PCA, standardization, every fit on the others) and
// merges the folds: each run is tested once.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "experiment/results.hpp"
#include "experiment/statistics.hpp"

namespace twp {

// What the aggregate keeps of one unit (the unit's folder keeps the rest).
struct UnitRecord {
    int repeat = 1;
    std::string split;  // "time" | "runs"
    int fold = 0;       // the held-out run's number in the runs split, 0 in the time split
    std::filesystem::path dir;
    std::vector<ForecasterInfo> forecasters;
    DirectEvaluation direct;
    std::vector<int> run_of_window;           // each tested window's run number
    std::vector<std::vector<double>> extrapolation_weight_mse;  // [forecaster][step], this unit's runs
    std::vector<std::vector<int>> runs_per_step;                // [forecaster][step]
    std::vector<std::string> plugin_series;
    std::vector<std::vector<std::vector<double>>> plugin_per_run;  // [series][run][step]
    std::vector<RunSummary> base_runs;        // of its repeat, on the first unit of a repeat
    std::vector<SpreadEvaluation::Entry> spread;  // the sampling forecasters' and the Gaussian's (evaluation.hpp)
};

// Keeps what the aggregate needs of a finished unit.
UnitRecord record_unit(const ExperimentResults& unit, int repeat, const std::string& split, int fold);

// One split aggregated over repeats.
struct SplitAggregate {
    std::string split;
    std::vector<ForecasterInfo> forecasters;
    std::vector<Interval> weight_mse, pca_mse;                  // [forecaster], over repeats
    std::vector<std::vector<double>> weight_mse_per_repeat;     // [forecaster][repeat]
    std::vector<RatioVerdict> verdicts;                         // [forecaster], against last value
    std::vector<std::vector<Interval>> extrapolation;           // [forecaster][step], weight space
    std::vector<std::string> plugin_series;
    std::vector<std::vector<Interval>> plugin;                  // [series][step], accuracy %
    int64_t windows = 0;                                        // test windows per repeat
    // The spread of the sampling forecasters and the Gaussian baseline, over repeats (a repeat's
    // folds pooled, weighted by the values they score).
    struct Spread {
        std::string key;
        Interval coverage50, coverage90, crps;
        Interval crps_ratio;  // to the Gaussian's, per repeat (NaN for the Gaussian itself)
    };
    std::vector<Spread> spread;
};

struct StudyResults {
    int repeats = 1;
    std::string mode, backend, dataset, notes;
    std::vector<std::vector<RunSummary>> base_runs;  // per repeat (when this study trained them)
    std::vector<UnitRecord> units;
    std::vector<SplitAggregate> splits;
    std::vector<std::pair<std::string, double>> stage_seconds;
    std::filesystem::path dir;
};

// The aggregate of `units` for each split they hold.
std::vector<SplitAggregate> aggregate_units(const std::vector<UnitRecord>& units, uint64_t seed);

// Each forecaster's ratio to last value in one experiment (the paired bootstrap over its test
// windows, each run a stratum); "n/a" verdicts when last_value is not in the list.
std::vector<RatioVerdict> unit_verdicts(const std::vector<ForecasterInfo>& forecasters, const DirectEvaluation& direct,
                                        uint64_t seed);

std::string study_summary_text(const StudyResults& study);
void write_study(const StudyResults& study);  // results_summary.txt, results.json, plots/

}  // namespace twp
