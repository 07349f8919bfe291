// kernels/emu/runtime.hpp.
#include "kernels/emu/runtime.hpp"

namespace twp::emu {

namespace {
thread_local Status last_error = Status::kSuccess;  // the runtime's is per host thread too
}  // namespace

const char* status_name(Status status) {
    switch (status) {
        case Status::kSuccess: return "cudaSuccess";
        case Status::kInvalidValue: return "cudaErrorInvalidValue";
        case Status::kMemoryAllocation: return "cudaErrorMemoryAllocation";
        case Status::kIllegalState: return "cudaErrorIllegalState";
        case Status::kStreamCaptureUnsupported: return "cudaErrorStreamCaptureUnsupported";
        case Status::kStreamCaptureInvalidated: return "cudaErrorStreamCaptureInvalidated";
        case Status::kStreamCaptureUnmatched: return "cudaErrorStreamCaptureUnmatched";
    }
    return "unknown emulated CUDA status";
}

const char* status_text(Status status) {
    switch (status) {
        case Status::kSuccess: return "no error";
        case Status::kInvalidValue: return "invalid argument";
        case Status::kMemoryAllocation: return "out of memory";
        case Status::kIllegalState: return "the operation cannot be performed in the present state";
        case Status::kStreamCaptureUnsupported: return "operation not permitted when stream is capturing";
        case Status::kStreamCaptureInvalidated: return "operation failed due to a previous error during capture";
        case Status::kStreamCaptureUnmatched: return "the capture was not initiated in this stream";
    }
    return "unknown emulated CUDA status";
}

Status fail(Status status) {
    if (status != Status::kSuccess) last_error = status;
    return status;
}

Status get_last_error() {
    const Status status = last_error;
    last_error = Status::kSuccess;
    return status;
}

Status peek_last_error() { return last_error; }

}  // namespace twp::emu
