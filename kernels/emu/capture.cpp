// kernels/emu/capture.hpp.
#include "kernels/emu/capture.hpp"

#include <utility>

#include "engine/error.hpp"

namespace twp::emu {

namespace {
thread_local std::unique_ptr<Recording> open_recording;
thread_local bool spoiled = false;             // the open capture saw a refused call
thread_local bool spoil_next = false;          // spoil_next_capture()
}  // namespace

bool capturing() { return open_recording != nullptr; }

void record(std::function<void()> work) {
    TWP_CHECK(open_recording, "emulation: record() outside a graph capture");
    open_recording->push_back(std::move(work));
}

Status begin_capture() {
    if (open_recording) return fail(Status::kIllegalState);
    open_recording = std::make_unique<Recording>();
    spoiled = std::exchange(spoil_next, false);
    return Status::kSuccess;
}

Status end_capture(std::unique_ptr<Recording>& recording) {
    recording.reset();
    if (!open_recording) return fail(Status::kStreamCaptureUnmatched);
    std::unique_ptr<Recording> closed = std::move(open_recording);
    if (std::exchange(spoiled, false)) return fail(Status::kStreamCaptureInvalidated);
    recording = std::move(closed);
    return Status::kSuccess;
}

Status refuse_while_capturing(const char*) {
    if (!open_recording) return Status::kSuccess;
    spoiled = true;
    return fail(Status::kStreamCaptureUnsupported);
}

void spoil_next_capture() { spoil_next = true; }

}  // namespace twp::emu
