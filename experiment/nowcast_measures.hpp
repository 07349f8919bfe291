// What a nowcasting experiment measures, from its runs' records: for each forecaster against the
// control (plain SGD, same seed, data order and evaluation schedule), per seed and as a mean with
// its 95% Student-t interval over seeds,
// - the SGD steps and the training seconds to first reach each target test accuracy, and the
//   saving 1 - nowcast / control (paired by seed; a seed where either never reaches the target
//   has no saving, and the count of seeds that reach it is reported);
// - the test accuracy at the control's final step count, and its gain over the control's;
// - how often a jump made the test loss worse (the loss of the weights it jumped to, scored at
//   its snapshot, against the loss just before it).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "experiment/nowcast_hook.hpp"
#include "experiment/statistics.hpp"

namespace twp {

// One run of the experiment, control or nowcast, as its folder records it.
struct NowcastRun {
    std::string key;  // "control" or the forecaster's key
    uint64_t seed = 0;
    std::vector<int64_t> steps;                     // [snapshot]
    std::vector<double> seconds, accuracy, loss;    // [snapshot]
    std::vector<JumpRecord> jumps;
    std::vector<double> loss_after, accuracy_after;  // [jump]: scored at the jump's snapshot
};

// The run from its snapshots' records and its log (the jumps' "after" from the snapshot at each
// jump's step); twp::Error when they disagree.
NowcastRun make_nowcast_run(const std::string& key, uint64_t seed, const std::vector<SnapshotRecord>& records,
                            const NowcastLog& log);

// The index of the first value at or above `target`; -1 when none is.
int64_t first_reaching(const std::vector<double>& accuracy, double target);

struct TargetMeasure {
    double target = 0;                      // percent
    std::vector<double> steps, seconds;     // [seed]; NaN: not reached
    std::vector<double> step_saving, time_saving;  // [seed], 1 - this / control; NaN where either is NaN
    Interval steps_interval, seconds_interval, step_saving_interval, time_saving_interval;
    int reached = 0;                        // seeds that reach the target
};

struct NowcastMeasure {
    std::string key;                        // "control" first, then the forecasters
    std::vector<uint64_t> seeds;
    std::vector<TargetMeasure> targets;
    std::vector<double> final_accuracy;     // [seed], at the control's final step count
    std::vector<double> final_gain;         // [seed], final_accuracy - the control's
    Interval final_accuracy_interval, final_gain_interval;
    int64_t jumps = 0, worse_jumps = 0;     // over all seeds
};

// One measure per key of `keys` ("control" must be among them), each over `seeds`; every
// (key, seed) needs its run in `runs`.
std::vector<NowcastMeasure> measure_nowcasts(const std::vector<NowcastRun>& runs, const std::vector<std::string>& keys,
                                             const std::vector<uint64_t>& seeds, const std::vector<double>& targets);

}  // namespace twp
