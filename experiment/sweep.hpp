// Sweeps: `twp --sweep FLAG=V1,V2 [FLAG=V1,V2 ...] [flags] [--jobs N] [--resume]` runs every cell
// of the grid (the Cartesian product of the axes, the last axis varying fastest) as a full
// experiment of its own, as child processes of the same binary, at most --jobs at once, then
// writes one table (experiment/sweep_table.hpp). Layout of <results_dir>/sweep_<YYYYMMDD_HHMMSS>/:
//   sweep.json           the command, the axes, the base trainings and each cell's values, args,
//                        folder, status, exit code, seconds and log tail; rewritten atomically
//                        after every base and cell
//   base/base_<NN>/      one snapshot folder per distinct base training (the flags in
//                        base_training_flags()), trained once by `--mode train_base --resume`,
//                        with its log.txt
//   cells/cell_<NNN>/    each cell's --results_dir (its experiment_<time>/ lands there), log.txt,
//                        and snapshots/: hard links to its base's files, the cell's own
//                        --snapshot_dir. A full run holds its --snapshot_dir's lock for the whole
//                        experiment, so cells sharing one folder could not run at once; the links
//                        share the files without sharing the lock, and since twp replaces files
//                        by rename, never in place, nothing a cell does reaches the base's copy.
//                        The cell runs `--mode full --resume`, which finds every base run
//                        complete and trains nothing.
//   sweep_results.csv, sweep_summary.txt, plots/sweep_heatmap*.png|.csv
// Everything is checked before anything runs or is written (plan_sweep): each cell's arguments
// parse and plan as a full experiment, or the sweep is a UsageError (exit 2).
// Resume: the same command plus --resume continues the most recent sweep under --results_dir with
// the same command and axes that has cells not done: those rerun with --resume (an interrupted
// cell continues its own experiment), done cells are kept.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "experiment/config.hpp"

namespace twp {

struct SweepAxis {
    std::string flag;                 // as the CLI spells it, without "--" (sequence_length)
    bool is_switch = false;           // a flag without a value (apply_pca): values true|false
    std::vector<std::string> values;  // as given, in order
};

struct SweepCell {
    int index = 0;                    // 1-based, in grid order
    std::vector<std::string> values;  // (axes): the value of each axis
    std::vector<std::string> args;    // the experiment's flags: the command without the sweep's
                                      // own flags, each axis flag replaced by the cell's value
    Config config;                    // args parsed
    int base = 0;                     // index into SweepPlan::bases
    std::string folder;               // "cells/cell_001", relative to the sweep folder
};

// One distinct base training: the cells whose base_training_flags() agree.
struct SweepBase {
    std::string id;                 // "base_01"
    std::string key;                // the base flags and their values, "training_epochs=2 ..."
    std::vector<std::string> args;  // its first cell's args (the base flags are the same in all)
    std::vector<int> cells;         // indices into SweepPlan::cells
    std::string folder() const { return "base/" + id; }
};

struct SweepPlan {
    std::vector<std::string> command;  // the arguments without --resume and --jobs: what resume matches
    std::vector<SweepAxis> axes;
    std::vector<SweepCell> cells;
    std::vector<SweepBase> bases;
    std::filesystem::path results_dir;
    int jobs = 1;
    int threads = 0;  // --threads each child gets; 0: the command (or an axis) gives --threads
    bool resume = false;
};

constexpr int kMaxSweepCells = 999;  // cells/cell_001 .. cell_999

// The flags whose values make a base training what it is: cells agreeing on them share one.
const std::vector<std::string>& base_training_flags();

// Expands config.sweep into the grid and checks every cell; UsageError for an unknown or
// repeated axis, an axis on a flag the sweep sets itself (--sweep, --jobs, --resume,
// --results_dir, --snapshot_dir, --mode, --train_base, --help), a bad value, a mode other than
// full, a --snapshot_dir (the sweep keeps its bases in its folder), more than kMaxSweepCells cells.
SweepPlan plan_sweep(const Config& config);

// The arguments a cell's child process runs with: its args plus --mode full --resume and the
// cell's --snapshot_dir and --results_dir under `sweep_dir` (and --threads when plan.threads > 0).
std::vector<std::string> cell_child_args(const SweepPlan& plan, const SweepCell& cell,
                                         const std::filesystem::path& sweep_dir);

// Runs the plan: creates (or with --resume finds) the sweep folder, trains the bases, runs the
// cells, writes the table. `executable` is twp itself (/proc/self/exe). Prints one line per base
// and cell as it finishes. Returns 0 when every cell is done, else 1.
int run_sweep(const SweepPlan& plan, const std::filesystem::path& executable);

}  // namespace twp
