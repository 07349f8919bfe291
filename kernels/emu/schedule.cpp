// The emulation's thread order between barriers (see schedule.hpp): one process-wide setting,
// read from TWP_EMU_SCHEDULE / TWP_EMU_SEED once, changed by set_schedule().
#include "kernels/emu/schedule.hpp"

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <random>

#include "engine/error.hpp"

namespace twp::emu {
namespace {

struct ScheduleState {
    std::mutex mutex;  // emulators of several OS threads may launch at once
    Schedule schedule = Schedule::kForward;
    std::uint64_t seed = 0;
    bool environment_read = false;
    std::mt19937_64 generator{0};
};

ScheduleState& state() {
    static ScheduleState instance;
    return instance;
}

// Called with the mutex held. Marks the environment read only once it parsed, so a bad value
// fails every launch rather than only the first.
void read_environment(ScheduleState& s) {
    if (s.environment_read) return;
    if (const char* text = std::getenv("TWP_EMU_SCHEDULE"); text && *text)
        s.schedule = parse_schedule(text);
    if (const char* text = std::getenv("TWP_EMU_SEED"); text && *text) {
        char* end = nullptr;
        const unsigned long long seed = std::strtoull(text, &end, 10);
        TWP_CHECK(*end == '\0', "TWP_EMU_SEED='" << text << "' is not a non-negative integer");
        s.seed = seed;
    }
    s.generator.seed(s.seed);
    s.environment_read = true;
}

}  // namespace

void set_schedule(Schedule schedule, std::uint64_t seed) {
    ScheduleState& s = state();
    std::lock_guard lock(s.mutex);
    read_environment(s);  // so that a later first launch does not override this call
    s.schedule = schedule;
    s.seed = seed;
    s.generator.seed(seed);
}

Schedule current_schedule() {
    ScheduleState& s = state();
    std::lock_guard lock(s.mutex);
    read_environment(s);
    return s.schedule;
}

std::uint64_t current_seed() {
    ScheduleState& s = state();
    std::lock_guard lock(s.mutex);
    read_environment(s);
    return s.seed;
}

const char* schedule_name(Schedule schedule) {
    switch (schedule) {
        case Schedule::kForward: return "forward";
        case Schedule::kReversed: return "reversed";
        case Schedule::kShuffled: return "shuffled";
    }
    return "?";
}

Schedule parse_schedule(const std::string& text) {
    if (text == "forward") return Schedule::kForward;
    if (text == "reversed") return Schedule::kReversed;
    if (text == "shuffled") return Schedule::kShuffled;
    TWP_FAIL("TWP_EMU_SCHEDULE='" << text << "': expected forward, reversed or shuffled");
}

namespace detail {

// Touches only host-side data (the run list and the generator), never the fibers' bookkeeping.
void order_threads(std::vector<unsigned>& runnable) {
    ScheduleState& s = state();
    std::lock_guard lock(s.mutex);
    read_environment(s);
    switch (s.schedule) {
        case Schedule::kForward: break;  // already increasing
        case Schedule::kReversed: std::reverse(runnable.begin(), runnable.end()); break;
        case Schedule::kShuffled: std::shuffle(runnable.begin(), runnable.end(), s.generator); break;
    }
}

}  // namespace detail
}  // namespace twp::emu
