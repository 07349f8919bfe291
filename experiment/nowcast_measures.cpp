// The nowcasting measures; see nowcast_measures.hpp.
#include "experiment/nowcast_measures.hpp"

#include <cmath>

#include "engine/error.hpp"

namespace twp {

NowcastRun make_nowcast_run(const std::string& key, uint64_t seed, const std::vector<SnapshotRecord>& records,
                            const NowcastLog& log) {
    NowcastRun run;
    run.key = key;
    run.seed = seed;
    TWP_CHECK(log.snapshots.size() == records.size(),
              key << " seed " << seed << ": the log lists " << log.snapshots.size() << " snapshots, the index "
                  << records.size());
    for (size_t i = 0; i < records.size(); ++i) {
        TWP_CHECK(log.snapshots[i].step == records[i].step,
                  key << " seed " << seed << ": the log's snapshot " << i << " is at step " << log.snapshots[i].step
                      << ", the index's at " << records[i].step);
        run.steps.push_back(records[i].step);
        run.seconds.push_back(log.snapshots[i].seconds);
        run.accuracy.push_back(records[i].test_accuracy);
        run.loss.push_back(records[i].test_loss);
    }
    size_t at = 0;
    for (const JumpRecord& j : log.jumps) {
        while (at < records.size() && records[at].step < j.step) ++at;
        TWP_CHECK(at < records.size() && records[at].step == j.step,
                  key << " seed " << seed << ": a jump at step " << j.step << " has no snapshot");
        run.jumps.push_back(j);
        run.loss_after.push_back(records[at].test_loss);
        run.accuracy_after.push_back(records[at].test_accuracy);
    }
    return run;
}

int64_t first_reaching(const std::vector<double>& accuracy, double target) {
    for (size_t i = 0; i < accuracy.size(); ++i)
        if (accuracy[i] >= target) return int64_t(i);
    return -1;
}

namespace {

const NowcastRun& find_run(const std::vector<NowcastRun>& runs, const std::string& key, uint64_t seed) {
    for (const NowcastRun& r : runs)
        if (r.key == key && r.seed == seed) return r;
    TWP_FAIL("no " << key << " run with seed " << seed << " among the nowcast runs");
}

// The last snapshot taken at or before `step`; -1 when none.
int64_t last_at_or_before(const NowcastRun& run, int64_t step) {
    int64_t found = -1;
    for (size_t i = 0; i < run.steps.size(); ++i)
        if (run.steps[i] <= step) found = int64_t(i);
    return found;
}

double saving(double value, double control) {
    return std::isfinite(value) && std::isfinite(control) && control > 0 ? 1.0 - value / control : NAN;
}

}  // namespace

std::vector<NowcastMeasure> measure_nowcasts(const std::vector<NowcastRun>& runs, const std::vector<std::string>& keys,
                                             const std::vector<uint64_t>& seeds, const std::vector<double>& targets) {
    std::vector<NowcastMeasure> measures;
    for (const std::string& key : keys) {
        NowcastMeasure m;
        m.key = key;
        m.seeds = seeds;
        for (double target : targets) {
            TargetMeasure t;
            t.target = target;
            for (uint64_t seed : seeds) {
                const NowcastRun& run = find_run(runs, key, seed);
                const NowcastRun& control = find_run(runs, "control", seed);
                const int64_t at = first_reaching(run.accuracy, target);
                const int64_t control_at = first_reaching(control.accuracy, target);
                t.steps.push_back(at >= 0 ? double(run.steps[at]) : NAN);
                t.seconds.push_back(at >= 0 ? run.seconds[at] : NAN);
                t.reached += at >= 0;
                const double control_steps = control_at >= 0 ? double(control.steps[control_at]) : NAN;
                const double control_seconds = control_at >= 0 ? control.seconds[control_at] : NAN;
                t.step_saving.push_back(saving(t.steps.back(), control_steps));
                t.time_saving.push_back(saving(t.seconds.back(), control_seconds));
            }
            t.steps_interval = mean_interval(t.steps);
            t.seconds_interval = mean_interval(t.seconds);
            t.step_saving_interval = mean_interval(t.step_saving);
            t.time_saving_interval = mean_interval(t.time_saving);
            m.targets.push_back(t);
        }
        for (uint64_t seed : seeds) {
            const NowcastRun& run = find_run(runs, key, seed);
            const NowcastRun& control = find_run(runs, "control", seed);
            TWP_CHECK(!control.steps.empty(), "the control run with seed " << seed << " has no snapshot");
            const int64_t at = last_at_or_before(run, control.steps.back());
            m.final_accuracy.push_back(at >= 0 ? run.accuracy[at] : NAN);
            m.final_gain.push_back(m.final_accuracy.back() - control.accuracy.back());
            m.jumps += int64_t(run.jumps.size());
            for (size_t j = 0; j < run.jumps.size(); ++j) m.worse_jumps += run.loss_after[j] > run.jumps[j].loss_before;
        }
        m.final_accuracy_interval = mean_interval(m.final_accuracy);
        m.final_gain_interval = mean_interval(m.final_gain);
        measures.push_back(std::move(m));
    }
    return measures;
}

}  // namespace twp
