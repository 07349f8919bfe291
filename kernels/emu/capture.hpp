// Graph capture under the CUDA emulation: while a capture is open on this host thread, launches,
// device-to-device copies and GEMMs are recorded (their arguments copied, as a CUDA graph copies
// kernel parameters) instead of run; replaying runs the recording in order.
//
// What CUDA refuses inside a capture (cudaStreamCaptureModeThreadLocal, the mode kernels/device.cu
// uses), the emulation refuses the same way: device allocation and free, creating a cuBLAS or
// cuSOLVER handle (they allocate), copies to or from the host and synchronization each fail with
// kStreamCaptureUnsupported, which becomes the last error (kernels/emu/runtime.hpp), AND spoil
// the capture: its end then fails with kStreamCaptureInvalidated, as cudaStreamEndCapture does.
// So code that captures under the emulation also captures on a GPU.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "kernels/emu/runtime.hpp"

namespace twp::emu {

using Recording = std::vector<std::function<void()>>;

bool capturing();                         // a capture is open on this thread
void record(std::function<void()> work);  // only while capturing
Status begin_capture();                   // kIllegalState when one is open already
// The recording into `recording`; kStreamCaptureUnmatched when none is open, and
// kStreamCaptureInvalidated (nothing recorded) when something refused spoiled it. Either way the
// capture is closed.
Status end_capture(std::unique_ptr<Recording>& recording);

// A runtime call CUDA refuses while this thread captures (`call` names it, for the error text of
// the TWP_CUDA_CHECK around it): with a capture open, it spoils the capture and fails with
// kStreamCaptureUnsupported; otherwise kSuccess.
Status refuse_while_capturing(const char* call);

// For tests of the callers' fallback: the next capture to end fails with
// kStreamCaptureInvalidated, as a GPU's would when its graph cannot be made.
void spoil_next_capture();

}  // namespace twp::emu
