// kernels/emu/capture.hpp.
#include "kernels/emu/capture.hpp"

#include <utility>

#include "engine/error.hpp"

namespace twp::emu {

namespace {
thread_local std::unique_ptr<Recording> open_recording;
}  // namespace

bool capturing() { return open_recording != nullptr; }

void record(std::function<void()> work) {
    TWP_CHECK(open_recording, "emulation: record() outside a graph capture");
    open_recording->push_back(std::move(work));
}

void begin_capture() {
    TWP_CHECK(!open_recording, "emulation: a graph capture is already open on this thread");
    open_recording = std::make_unique<Recording>();
}

std::unique_ptr<Recording> end_capture() {
    TWP_CHECK(open_recording, "emulation: end of a graph capture that was never begun");
    return std::move(open_recording);
}

void refuse_during_capture(const char* what) {
    TWP_CHECK(!open_recording, what << " during a CUDA graph capture: CUDA does not allow it (only kernels, "
                                       "device-to-device copies and GEMMs can be captured)");
}

}  // namespace twp::emu
