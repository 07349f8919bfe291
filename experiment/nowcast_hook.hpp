// Nowcasting's jump (WNN, Jang et al. 2023; NiNo, Knyazev et al. 2025), as a base-training hook:
// at a snapshot, the run's parameters are replaced by a forecast of where its trajectory will be
// `horizon` snapshot intervals later, made from the run's own snapshots since its previous jump,
// and SGD continues from there.
//
// When: at the first snapshot at least `every` SGD steps after the previous jump (or the start)
// at which the run has taken `history` snapshots since then. The state a jump leaves is the first
// snapshot of the next stretch, so the series a forecaster sees is always plain SGD at the
// snapshot interval, as the trajectories it was fitted on: it never spans a jump.
// The snapshot taken at a jump records the jumped weights (what training continues from and what
// a user would stop with); the test loss and accuracy just before the jump go to the run's log.
//
// The momentum buffer at a jump (--nowcast_momentum): kept; reset to zero; or rescaled: set to
// the velocity that carries the weights over the jump's displacement d in the steps it skips,
// v = -d / (lr x steps), steps = horizon x the history's mean snapshot interval (SGD moves the
// weights by -lr v a step).
//
// A jump is one copy of the forecast into the parameter buffer (and, rescaled, one into the
// momentum buffer): nothing moves between host and device at the other steps. Without a
// forecaster (the control) the hook only keeps the log, so the control is plain base training.
//
// The run's log, <run_dir>/nowcast_log.json, rewritten (atomically) at every snapshot: each
// snapshot's step and the seconds the run has trained until it, the forecasts' cost included and
// the extra test pass before each jump left out (it measures, the method does not need it); and
// each jump's step, the test loss and accuracy before it and the forecast's seconds. On resume the
// log is cut back to the run's checkpoint and the history read back from the snapshot files.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "experiment/base_training.hpp"

namespace twp {

enum class MomentumAtJump { kKeep, kReset, kRescale };

// "keep", "reset", "rescale" and back; UsageError for another word.
MomentumAtJump parse_momentum_at_jump(const std::string& text);
const char* momentum_at_jump_name(MomentumAtJump policy);

// weights [length, kParameterCount], oldest first -> the forecast [kParameterCount].
using JumpForecast = std::function<std::vector<float>(const std::vector<float>& weights, int64_t length)>;

struct JumpPolicy {
    JumpForecast forecast;  // none: never jump (the control)
    int64_t every = 1;      // SGD steps between jumps, at least
    int64_t history = 3;    // snapshots since the previous jump a forecast needs
    int horizon = 1;        // snapshot intervals ahead
    MomentumAtJump momentum = MomentumAtJump::kKeep;
    float learning_rate = 0.005f;  // SGD's (rescale)
};

struct JumpRecord {
    int64_t step = 0;
    double loss_before = 0, accuracy_before = 0;
    double forecast_seconds = 0;
};

struct SnapshotTime {
    int64_t step = 0;
    double seconds = 0;
};

struct NowcastLog {
    std::vector<SnapshotTime> snapshots;
    std::vector<JumpRecord> jumps;
};

std::filesystem::path nowcast_log_path(const std::filesystem::path& run_dir);
NowcastLog read_nowcast_log(const std::filesystem::path& run_dir);  // twp::Error naming the file

class NowcastHook : public SnapshotHook {
public:
    NowcastHook(Backend& backend, JumpPolicy policy);
    void begin_run(const std::filesystem::path& run_dir, const std::vector<SnapshotRecord>& records) override;
    void before_snapshot(const SnapshotMoment& moment) override;

private:
    using Clock = std::chrono::steady_clock;
    void jump(const SnapshotMoment& moment);

    Backend& backend_;
    const JumpPolicy policy_;
    std::filesystem::path run_dir_;
    NowcastLog log_;
    std::vector<std::vector<float>> history_;  // the snapshots since the last jump, oldest first
    std::vector<int64_t> history_steps_;
    int64_t last_jump_step_ = 0;
    Clock::time_point started_;
    double carried_seconds_ = 0;   // trained before this process (resume)
    double excluded_seconds_ = 0;  // the test passes before jumps
};

}  // namespace twp
