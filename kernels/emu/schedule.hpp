// The order in which the CUDA emulation runs a block's threads between two barriers. On a GPU that
// order is unspecified, so a kernel whose result depends on it has a bug (typically a missing
// __syncthreads()); running the tests under more than one order exposes it:
// - kForward:  threads in increasing linear index (x + y*bx + z*bx*by), the default;
// - kReversed: decreasing index;
// - kShuffled: a fresh permutation at every barrier phase, from a generator seeded by `seed`, so a
//   failing order can be replayed.
// The environment variable TWP_EMU_SCHEDULE=forward|reversed|shuffled (and TWP_EMU_SEED=N for the
// shuffle) sets it at the first launch; set_schedule() overrides it from then on.
// Plain C++: tests include it without the CUDA surface of kernels/emu/emulation.hpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace twp::emu {

enum class Schedule { kForward, kReversed, kShuffled };

void set_schedule(Schedule schedule, std::uint64_t seed = 0);
Schedule current_schedule();
std::uint64_t current_seed();
const char* schedule_name(Schedule schedule);
// "forward", "reversed" or "shuffled"; anything else throws twp::Error naming the choices.
Schedule parse_schedule(const std::string& text);

namespace detail {
// Puts the runnable threads (linear indices, increasing) of one barrier phase into run order.
void order_threads(std::vector<unsigned>& runnable);
}  // namespace detail

}  // namespace twp::emu
