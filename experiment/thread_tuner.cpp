// ThreadTuner: see thread_tuner.hpp.
#include "experiment/thread_tuner.hpp"

#include <algorithm>

#include "engine/error.hpp"

namespace twp {

ThreadTuner::ThreadTuner(int max_threads) {
    TWP_CHECK(max_threads >= 1, "ThreadTuner needs at least 1 thread, got " << max_threads);
    for (int n = max_threads; n >= 1; n /= 2) ladder_.push_back(n);
    if (ladder_.back() != 1) ladder_.push_back(1);
}

int ThreadTuner::threads() const {
    for (const Window& w : probe_)
        if (!w.done) return ladder_[w.rung];
    return ladder_[current_];
}

void ThreadTuner::record(double seconds) {
    if (ladder_.size() == 1) return;  // one thread: nothing to choose
    if (probe_.empty()) {
        watch_.seconds += seconds;
        if (++watch_.steps == kWindow || (watch_.seconds >= kWindowSeconds && watch_.steps >= 2)) {
            const bool slowed = reference_ > 0 && watch_.mean() > kSlowdown * reference_;
            watch_ = {};
            if (slowed) return start_probe();
        }
        if (--steps_until_probe_ <= 0) start_probe();
        return;
    }
    const auto open = std::find_if(probe_.begin(), probe_.end(), [](const Window& w) { return !w.done; });
    Window& w = *open;
    w.seconds += seconds;
    ++w.steps;
    const Window& first = probe_.front();
    const bool neighbour = open != probe_.begin() && open + 1 != probe_.end();
    w.done = w.steps == kWindow || (w.seconds >= kWindowSeconds && w.steps >= 2) ||
             (neighbour && w.seconds > first.seconds);  // lost already
    if (w.done && open + 1 == probe_.end()) finish_probe();
}

void ThreadTuner::start_probe() {
    // Current, its neighbours, current again: drift during the probe touches both sides.
    probe_.clear();
    probe_.push_back({current_});
    if (current_ > 0) probe_.push_back({current_ - 1});
    if (current_ + 1 < int(ladder_.size())) probe_.push_back({current_ + 1});
    probe_.push_back({current_});
    watch_ = {};
}

void ThreadTuner::finish_probe() {
    const Window& before = probe_.front();
    const Window& after = probe_.back();
    const double current_mean = (before.seconds + after.seconds) / double(before.steps + after.steps);
    int best = current_;
    double best_mean = current_mean;
    for (size_t i = 1; i + 1 < probe_.size(); ++i) {
        const double m = probe_[i].mean();
        if (m < (1.0 - kMargin) * current_mean && m < best_mean) {
            best = probe_[i].rung;
            best_mean = m;
        }
    }
    ++probes_;
    if (best != current_) {
        current_ = best;
        ++changes_;
        interval_ = kFirstInterval;
    } else {
        interval_ = std::min(2 * interval_, kMaxInterval);
    }
    reference_ = best_mean;
    steps_until_probe_ = interval_;
    probe_.clear();
}

}  // namespace twp
