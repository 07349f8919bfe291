// Timing work queued on a stream, for benchmarks: CUDA events under nvcc (the GPU's own clock,
// launch overhead on the host excluded), the host clock under the CUDA emulation (which runs
// everything synchronously). Plain C++, no CUDA header.
#pragma once

#include "kernels/stream.hpp"

namespace twp::kernels {

class StreamTimer {
public:
    explicit StreamTimer(Stream stream);
    ~StreamTimer();
    StreamTimer(const StreamTimer&) = delete;
    StreamTimer& operator=(const StreamTimer&) = delete;

    void start();           // queued on the stream
    void stop();            // queued on the stream
    double milliseconds();  // waits for stop, then the time between start and stop

private:
    Stream stream_;
    void* start_ = nullptr;  // cudaEvent_t, or the host time in the emulation
    void* stop_ = nullptr;
};

}  // namespace twp::kernels
