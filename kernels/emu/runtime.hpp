// The CUDA runtime's error state under the CUDA emulation: the runtime's error codes that the
// emulated runtime calls (kernels/device_memory.cu, kernels/device.cu, the library handles) can
// return, under the runtime's names and messages, and the per-thread "last error" the runtime
// keeps. As in CUDA, a failing runtime call leaves its error behind: the next cudaGetLastError()
// returns it and resets it, and kernels::launch reads it after every launch, so an error nobody
// cleared is blamed on the next, innocent kernel. TWP_CUDA_CHECK (kernels/cuda_compat.hpp) clears
// it on failure in both builds; the emulated launch checks it exactly as the nvcc one does.
#pragma once

namespace twp::emu {

enum class Status {
    kSuccess,                    // cudaSuccess
    kInvalidValue,               // cudaErrorInvalidValue
    kMemoryAllocation,           // cudaErrorMemoryAllocation
    kIllegalState,               // cudaErrorIllegalState: a capture begun twice
    kStreamCaptureUnsupported,   // cudaErrorStreamCaptureUnsupported: refused while capturing
    kStreamCaptureInvalidated,   // cudaErrorStreamCaptureInvalidated: end of a spoiled capture
    kStreamCaptureUnmatched,     // cudaErrorStreamCaptureUnmatched: end of a capture never begun
};

const char* status_name(Status status);  // "cudaErrorStreamCaptureUnsupported"
const char* status_text(Status status);  // the runtime's message for it

Status fail(Status status);  // what a failing runtime call does: `status` becomes the last error
Status get_last_error();     // cudaGetLastError: the last error, then reset to kSuccess
Status peek_last_error();    // cudaPeekAtLastError: the last error, kept

}  // namespace twp::emu
