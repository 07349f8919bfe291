// Graph capture under the CUDA emulation: while a capture is open on this host thread, launches,
// device-to-device copies and GEMMs are recorded (their arguments copied, as a CUDA graph copies
// kernel parameters) instead of run; replaying runs the recording in order. Host<->device copies
// and synchronization are refused during a capture, as CUDA refuses them inside stream capture,
// so code that captures correctly under the emulation also captures on a GPU.
#pragma once

#include <functional>
#include <memory>
#include <vector>

namespace twp::emu {

using Recording = std::vector<std::function<void()>>;

bool capturing();                              // a capture is open on this thread
void record(std::function<void()> work);       // only while capturing
void begin_capture();                          // error if one is open already
std::unique_ptr<Recording> end_capture();      // error if none is open
// Throws naming `what` when a capture is open (for operations CUDA refuses during capture).
void refuse_during_capture(const char* what);

}  // namespace twp::emu
