// kernels/timer.cuh.
#include "kernels/timer.cuh"

#include "kernels/cuda_compat.hpp"

#if !defined(__CUDACC__)
#include <chrono>
#endif

namespace twp::kernels {

#if defined(__CUDACC__)

StreamTimer::StreamTimer(Stream stream) : stream_(stream) {
    cudaEvent_t start = nullptr, stop = nullptr;
    TWP_CUDA_CHECK(cudaEventCreate(&start));
    const cudaError_t status = cudaEventCreate(&stop);
    if (status != cudaSuccess) cudaEventDestroy(start);
    TWP_CUDA_CHECK(status);
    start_ = start;
    stop_ = stop;
}

StreamTimer::~StreamTimer() {
    cudaEventDestroy(static_cast<cudaEvent_t>(start_));
    cudaEventDestroy(static_cast<cudaEvent_t>(stop_));
}

void StreamTimer::start() {
    TWP_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(start_), static_cast<cudaStream_t>(stream_)));
}

void StreamTimer::stop() {
    TWP_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(stop_), static_cast<cudaStream_t>(stream_)));
}

double StreamTimer::milliseconds() {
    TWP_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(stop_)));
    float ms = 0;
    TWP_CUDA_CHECK(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start_), static_cast<cudaEvent_t>(stop_)));
    return ms;
}

#else  // the emulation: host time points, kept in the two pointers' storage

namespace {
using Clock = std::chrono::steady_clock;
void* now() { return new Clock::time_point(Clock::now()); }
}  // namespace

StreamTimer::StreamTimer(Stream stream) : stream_(stream), start_(now()), stop_(now()) {}

StreamTimer::~StreamTimer() {
    delete static_cast<Clock::time_point*>(start_);
    delete static_cast<Clock::time_point*>(stop_);
}

void StreamTimer::start() { *static_cast<Clock::time_point*>(start_) = Clock::now(); }
void StreamTimer::stop() { *static_cast<Clock::time_point*>(stop_) = Clock::now(); }

double StreamTimer::milliseconds() {
    (void)stream_;
    return std::chrono::duration<double, std::milli>(*static_cast<Clock::time_point*>(stop_) -
                                                     *static_cast<Clock::time_point*>(start_))
        .count();
}

#endif

}  // namespace twp::kernels
