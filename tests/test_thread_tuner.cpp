// ThreadTuner (experiment/thread_tuner.hpp) on simulated step times: it finds the faster thread
// count, keeps it, probes less often while nothing changes, and ignores differences within its
// margin.
#include <catch2/catch.hpp>

#include <functional>

#include "experiment/thread_tuner.hpp"

using namespace twp;

namespace {

// Runs `steps` steps whose time is cost(threads); returns how many ran at each count (index = count).
std::vector<int64_t> simulate(ThreadTuner& tuner, int64_t steps, const std::function<double(int)>& cost) {
    std::vector<int64_t> at(size_t(tuner.max_threads()) + 1, 0);
    for (int64_t i = 0; i < steps; ++i) {
        const int n = tuner.threads();
        ++at[size_t(n)];
        tuner.record(cost(n));
    }
    return at;
}

}  // namespace

TEST_CASE("the thread tuner moves to one thread when two are slower and stays there", "[thread_tuner]") {
    ThreadTuner tuner(2);
    REQUIRE(tuner.threads() == 2);
    // A busy core: two threads take twice as long as one (measured: 7,400 vs 14,700 images/s).
    const auto busy = [](int n) { return n == 2 ? 2e-3 : 1e-3; };
    // The first probe starts after kFirstInterval steps and measures 2, 1, 2 for kWindow steps each.
    const int64_t first_probe_end = ThreadTuner::kFirstInterval + 3 * ThreadTuner::kWindow;
    simulate(tuner, first_probe_end, busy);
    REQUIRE(tuner.probes() == 1);
    REQUIRE(tuner.changes() == 1);
    REQUIRE(tuner.threads() == 1);
    // Then it stays at 1 except while probing 2 again, and each such window stops as soon as it
    // has lost: at 2 ms a step against the 16 x 1 ms of the window before it, after 9 steps.
    const std::vector<int64_t> at = simulate(tuner, 20000, busy);
    REQUIRE(tuner.threads() == 1);
    REQUIRE(tuner.changes() == 1);
    REQUIRE(at[2] == (tuner.probes() - 1) * 9);
    // Probes back off: intervals 32, 64, ..., 4096, so about a dozen in 20,000 steps, not 300.
    REQUIRE(tuner.probes() >= 6);
    REQUIRE(tuner.probes() <= 13);
}

TEST_CASE("the thread tuner probes at once when the steps slow down, and cuts a collapsing window short",
          "[thread_tuner]") {
    ThreadTuner tuner(2);
    const auto quiet = [](int n) { return n == 2 ? 1e-3 : 1.9e-3; };
    simulate(tuner, 20000, quiet);  // the interval has grown to its longest
    REQUIRE(tuner.threads() == 2);
    const int64_t probes = tuner.probes();
    // Load arrives and two threads collapse (100 ms a step, as measured with two processes at 2
    // threads each): the next window sees it and probes, long before the interval is up.
    const auto collapsed = [](int n) { return n == 2 ? 0.1 : 3e-3; };
    int64_t steps = 0;
    double seconds = 0;
    while (tuner.threads() == 2 || tuner.probes() == probes) {
        seconds += collapsed(tuner.threads());
        tuner.record(collapsed(tuner.threads()));
        ++steps;
        REQUIRE(steps < 200);
    }
    REQUIRE(tuner.threads() == 1);
    REQUIRE(tuner.probes() == probes + 1);
    // Three windows of 2 slow steps each (the one that noticed, then the probe's two at the
    // current count: each ends at kWindowSeconds) and the 1-thread window: under a second, where
    // waiting out a 4096-step interval would take 400 s.
    REQUIRE(seconds < 1.0);
}

TEST_CASE("the thread tuner keeps all threads on a quiet machine and comes back when the load goes",
          "[thread_tuner]") {
    ThreadTuner tuner(2);
    const auto quiet = [](int n) { return n == 2 ? 1e-3 : 1.9e-3; };
    std::vector<int64_t> at = simulate(tuner, 10000, quiet);
    REQUIRE(tuner.threads() == 2);
    REQUIRE(tuner.changes() == 0);
    // One thread ran only inside probes: under 1.5% of the steps.
    REQUIRE(double(at[1]) < 0.015 * 10000);

    // Load arrives: within a maximal interval plus a probe it moves; load goes: it moves back,
    // as promptly.
    const int64_t longest_wait = ThreadTuner::kMaxInterval + 4 * ThreadTuner::kWindow;
    simulate(tuner, longest_wait, [](int n) { return n == 2 ? 3e-3 : 1.5e-3; });
    REQUIRE(tuner.threads() == 1);
    simulate(tuner, longest_wait, quiet);
    REQUIRE(tuner.threads() == 2);
    REQUIRE(tuner.changes() == 2);
}

TEST_CASE("the thread tuner ignores differences within its margin and walks the halving ladder",
          "[thread_tuner]") {
    ThreadTuner flat(2);
    simulate(flat, 5000, [](int n) { return n == 2 ? 1.0e-3 : 0.98e-3; });  // 2% faster: noise
    REQUIRE(flat.threads() == 2);
    REQUIRE(flat.changes() == 0);

    // 8 cores, 4 of them busy: the ladder 8, 4, 2, 1 is walked one rung per probe, to 4.
    ThreadTuner wide(8);
    const auto cost = [](int n) { return n == 4 ? 1e-3 : n == 8 ? 3e-3 : n == 2 ? 1.8e-3 : 3.5e-3; };
    simulate(wide, 2000, cost);
    REQUIRE(wide.threads() == 4);
    REQUIRE(wide.changes() == 1);

    ThreadTuner one(1);
    simulate(one, 1000, [](int) { return 1e-3; });
    REQUIRE(one.threads() == 1);
    REQUIRE(one.probes() == 0);
}
