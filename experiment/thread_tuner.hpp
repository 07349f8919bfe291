// ThreadTuner: picks the CPU thread count for training steps from how long the steps take, so
// that a shared machine (another busy process, two twp jobs side by side) does not collapse the
// run. OpenMP's threads spin and wait for the slowest at every op's barrier: when a core is busy
// with someone else, the thread on it holds back every op, and one thread on the free core is
// faster than two. (Measured on 2 cores: LeNet-5 training at 33,000 images/s alone fell to 7,400
// with a busy shell loop beside it, and to 5,100 + 6,800 as two processes; with 1 thread each,
// 14,700 beside the loop and 12,800 + 13,400 as two.)
//
// The ladder of candidates is max, max/2, max/4, ..., 1. Training runs at the current count; a
// probe measures a window at the current count, then one at each neighbour on the ladder, then
// the current count again, and keeps the candidate with the lowest mean step time (the current
// count unless a neighbour is more than kMargin faster, so noise does not flip it). A window is
// kWindow steps or kWindowSeconds, whichever ends first; a neighbour's window also ends as soon
// as it has lost (its time so far exceeds what the current count took for the whole window), so
// a probe of a collapsing count costs little. The mean, not the median: on shared cores most
// steps run at full speed and a few wait milliseconds for a descheduled thread, and those few are
// what the run loses.
// Probes come every `interval` steps, the interval doubling (up to kMaxInterval) while the count
// stays and resetting when it changes; and at once when a window in between (kWindow steps or
// kWindowSeconds) runs kSlowdown times slower than the count's last measured mean (load arrived).
// Only the thread count changes, never what is computed: the CPU ops give the same bits for any
// thread count.
//
// Pure logic (no clock, no backend): the caller times each step and reports it, and uses the
// thread count it is told.
#pragma once

#include <cstdint>
#include <vector>

namespace twp {

class ThreadTuner {
public:
    static constexpr int64_t kWindow = 16;           // steps per measurement, at most
    static constexpr double kWindowSeconds = 0.1;    // time per measurement, at most
    static constexpr int64_t kFirstInterval = 32;    // steps before the first probe
    static constexpr int64_t kMaxInterval = 4096;    // steps between probes, at most
    static constexpr double kMargin = 0.05;          // a neighbour must be this much faster
    static constexpr double kSlowdown = 1.5;         // a window this much slower probes at once

    explicit ThreadTuner(int max_threads);

    int threads() const;  // for the next step
    // The duration of the step just run with threads() threads.
    void record(double seconds);

    int max_threads() const { return ladder_.front(); }
    int64_t probes() const { return probes_; }    // completed
    int64_t changes() const { return changes_; }  // probes that changed the count

private:
    struct Window {
        int rung = 0;  // index into ladder_
        int64_t steps = 0;
        double seconds = 0;
        bool done = false;
        double mean() const { return seconds / double(steps); }
    };

    void start_probe();
    void finish_probe();

    std::vector<int> ladder_;  // max, max/2, ..., 1
    int current_ = 0;          // index into ladder_
    double reference_ = 0;     // the current count's mean step time at the last probe; 0: none yet
    int64_t interval_ = kFirstInterval;
    int64_t steps_until_probe_ = kFirstInterval;
    Window watch_;               // between probes: the latest kWindow steps, against reference_
    std::vector<Window> probe_;  // during a probe: current, neighbours, current; empty otherwise
    int64_t probes_ = 0, changes_ = 0;
};

}  // namespace twp
