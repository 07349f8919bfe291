// The device a CUDA backend runs on: selecting it, its stream, and CUDA graphs (record a
// sequence of launches once, replay it with one call). Plain C++, no CUDA header. Under the CUDA
// emulation there is one pretend device (index 0), streams are tokens, and graphs are recordings
// of the launches (kernels/emu/capture.hpp), so the capture-and-replay path runs in CPU tests.
#pragma once

#include "kernels/stream.hpp"

namespace twp::kernels {

void set_device(int index);         // throws naming the index and the devices there are
Stream create_stream();             // a non-blocking stream (graphs cannot capture the default one)
void destroy_stream(Stream stream) noexcept;

// Between begin_capture and end_capture, work queued on `stream` is recorded, not run.
using Graph = void*;                // an instantiated, launchable graph
void begin_capture(Stream stream);
Graph end_capture(Stream stream);
void replay(Graph graph, Stream stream);  // queued on the stream like a launch
void destroy_graph(Graph graph) noexcept;

// Resets the runtime's last error (cudaGetLastError), for failure paths that did not go through
// TWP_CUDA_CHECK: an error left behind would be reported by the next launch as its own.
void clear_last_error() noexcept;

}  // namespace twp::kernels
