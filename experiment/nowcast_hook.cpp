// The nowcasting hook; see nowcast_hook.hpp.
#include "experiment/nowcast_hook.hpp"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/atomic_file.hpp"
#include "engine/error.hpp"
#include "experiment/config.hpp"
#include "experiment/numbers.hpp"

namespace twp {
namespace {

using Json = nlohmann::ordered_json;

constexpr int64_t kWeights = LeNet5::kParameterCount;

double seconds_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

void write_log(const std::filesystem::path& run_dir, const NowcastLog& log) {
    Json snapshots = Json::array(), jumps = Json::array();
    for (const SnapshotTime& s : log.snapshots) snapshots.push_back({{"step", s.step}, {"seconds", s.seconds}});
    for (const JumpRecord& j : log.jumps)
        jumps.push_back({{"step", j.step},
                         {"test_loss_before", j.loss_before},
                         {"test_accuracy_before", j.accuracy_before},
                         {"forecast_seconds", j.forecast_seconds}});
    write_file_atomically(nowcast_log_path(run_dir), Json{{"snapshots", snapshots}, {"jumps", jumps}}.dump(1) + "\n");
}

}  // namespace

MomentumAtJump parse_momentum_at_jump(const std::string& text) {
    if (text == "keep") return MomentumAtJump::kKeep;
    if (text == "reset") return MomentumAtJump::kReset;
    if (text == "rescale") return MomentumAtJump::kRescale;
    throw UsageError("--nowcast_momentum " + text + " is not a policy (keep, reset, rescale)");
}

const char* momentum_at_jump_name(MomentumAtJump policy) {
    switch (policy) {
        case MomentumAtJump::kKeep: return "keep";
        case MomentumAtJump::kReset: return "reset";
        case MomentumAtJump::kRescale: return "rescale";
    }
    return "?";
}

std::filesystem::path nowcast_log_path(const std::filesystem::path& run_dir) { return run_dir / "nowcast_log.json"; }

NowcastLog read_nowcast_log(const std::filesystem::path& run_dir) {
    const std::filesystem::path path = nowcast_log_path(run_dir);
    std::ifstream in(path);
    TWP_CHECK(in, "cannot read " << path.string() << ": the nowcast run's log is missing; start the experiment "
                                    "afresh without --resume");
    NowcastLog log;
    try {
        const Json j = Json::parse(in);
        for (const Json& s : j.at("snapshots")) log.snapshots.push_back({s.at("step"), s.at("seconds")});
        for (const Json& r : j.at("jumps"))
            log.jumps.push_back({r.at("step"), r.at("test_loss_before"), r.at("test_accuracy_before"),
                                 r.at("forecast_seconds")});
    } catch (const nlohmann::json::exception& e) {
        TWP_FAIL(path.string() << " is not a nowcast log (" << e.what() << "); start the experiment afresh without "
                                  "--resume");
    }
    return log;
}

NowcastHook::NowcastHook(Backend& backend, JumpPolicy policy) : backend_(backend), policy_(std::move(policy)) {
    TWP_CHECK(policy_.every >= 1 && policy_.history >= 1 && policy_.horizon >= 1,
              "a jump needs an interval, a history and a horizon of at least 1");
}

void NowcastHook::begin_run(const std::filesystem::path& run_dir, const std::vector<SnapshotRecord>& records) {
    run_dir_ = run_dir;
    log_ = {};
    history_.clear();
    history_steps_.clear();
    last_jump_step_ = 0;
    carried_seconds_ = excluded_seconds_ = 0;
    if (!records.empty()) {
        // Resuming after the checkpoint's snapshot: the log as it stood then, and the stretch of
        // snapshots since the last jump from their files.
        const int64_t step = records.back().step;
        const NowcastLog written = read_nowcast_log(run_dir);
        for (const SnapshotTime& s : written.snapshots)
            if (s.step <= step) log_.snapshots.push_back(s);
        for (const JumpRecord& j : written.jumps)
            if (j.step <= step) log_.jumps.push_back(j);
        TWP_CHECK(!log_.snapshots.empty() && log_.snapshots.back().step == step,
                  nowcast_log_path(run_dir).string() << " has no entry for the checkpoint's step " << step
                                                     << "; start the experiment afresh without --resume");
        carried_seconds_ = log_.snapshots.back().seconds;
        if (!log_.jumps.empty()) last_jump_step_ = log_.jumps.back().step;
        for (const SnapshotRecord& r : records)
            if (r.step >= last_jump_step_) {
                history_.push_back(read_snapshot(run_dir / r.file));
                history_steps_.push_back(r.step);
            }
        while (int64_t(history_.size()) > policy_.history) {
            history_.erase(history_.begin());
            history_steps_.erase(history_steps_.begin());
        }
    }
    started_ = Clock::now();
}

void NowcastHook::before_snapshot(const SnapshotMoment& m) {
    std::vector<float> weights(kWeights);
    backend_.copy_to_host(weights.data(), m.parameters.data, sizeof(float) * kWeights);
    history_.push_back(std::move(weights));
    history_steps_.push_back(m.step);
    if (int64_t(history_.size()) > policy_.history) {
        history_.erase(history_.begin());
        history_steps_.erase(history_steps_.begin());
    }
    if (policy_.forecast && int64_t(history_.size()) >= policy_.history && m.step - last_jump_step_ >= policy_.every)
        jump(m);
    log_.snapshots.push_back({m.step, carried_seconds_ + seconds_between(started_, Clock::now()) - excluded_seconds_});
    write_log(run_dir_, log_);
}

void NowcastHook::jump(const SnapshotMoment& m) {
    const auto measure = Clock::now();
    const Evaluation before = evaluate(backend_, m.model, m.test, m.test_batch_size);
    const auto start = Clock::now();
    excluded_seconds_ += seconds_between(measure, start);

    const int64_t length = int64_t(history_.size());
    std::vector<float> series;
    series.reserve(size_t(length * kWeights));
    for (const std::vector<float>& h : history_) series.insert(series.end(), h.begin(), h.end());
    std::vector<float> next = policy_.forecast(series, length);
    TWP_CHECK(int64_t(next.size()) == kWeights, "a jump's forecast holds " << next.size() << " weights, LeNet-5 has "
                                                                          << kWeights);
    if (const int64_t bad = first_non_finite(next.data(), kWeights); bad >= 0)
        TWP_FAIL("run " << m.run << ", step " << m.step << ": the forecast to jump to holds "
                        << number_text(next[bad]) << " (" << LeNet5::layout().entry_at(bad).name
                        << "); the forecaster diverged on this run's history: try another --forecasters entry or a "
                           "shorter --nowcast_horizon");
    backend_.copy_from_host(m.parameters.data, next.data(), sizeof(float) * kWeights);
    if (policy_.momentum == MomentumAtJump::kReset) {
        backend_.fill(m.momentum, 0.0f);
    } else if (policy_.momentum == MomentumAtJump::kRescale) {
        const double interval = length > 1 ? double(history_steps_.back() - history_steps_.front()) / double(length - 1)
                                           : double(policy_.every);
        const double scale = -1.0 / (double(policy_.learning_rate) * interval * policy_.horizon);
        std::vector<float> velocity(kWeights);
        const std::vector<float>& now = history_.back();
        for (int64_t i = 0; i < kWeights; ++i) velocity[i] = float((double(next[i]) - now[i]) * scale);
        backend_.copy_from_host(m.momentum.data, velocity.data(), sizeof(float) * kWeights);
    }
    log_.jumps.push_back({m.step, before.loss, before.accuracy, seconds_between(start, Clock::now())});
    last_jump_step_ = m.step;
    history_.assign(1, std::move(next));
    history_steps_.assign(1, m.step);
}

}  // namespace twp
