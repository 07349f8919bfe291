// kernels/device.cuh: the CUDA runtime under nvcc, kernels/emu/capture.hpp under the emulation.
#include "kernels/device.cuh"

#include "engine/error.hpp"
#include "kernels/cuda_compat.hpp"
#include "kernels/device_memory.hpp"

#if !defined(__CUDACC__)
#include "kernels/emu/capture.hpp"
#endif

namespace twp::kernels {

#if defined(__CUDACC__)

void set_device(int index) {
    const int count = device_count();
    TWP_CHECK(index >= 0 && index < count, "--device " << index << ": this machine has " << count
                                                        << " CUDA device" << (count == 1 ? "" : "s")
                                                        << (count ? " (0.." + std::to_string(count - 1) + ")" : std::string()));
    TWP_CUDA_CHECK(cudaSetDevice(index));
}

Stream create_stream() {
    cudaStream_t stream = nullptr;
    TWP_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    return stream;
}

void destroy_stream(Stream stream) noexcept {
    if (stream) cudaStreamDestroy(static_cast<cudaStream_t>(stream));
}

void begin_capture(Stream stream) {
    TWP_CHECK(stream != nullptr, "a CUDA graph cannot capture the default stream");
    // Thread-local mode: another thread's unrelated CUDA calls do not break this capture.
    TWP_CUDA_CHECK(cudaStreamBeginCapture(static_cast<cudaStream_t>(stream), cudaStreamCaptureModeThreadLocal));
}

Graph end_capture(Stream stream) {
    // A capture that something spoiled ends with cudaErrorStreamCaptureInvalidated (and may hand
    // back a partial graph, destroyed here); either way the stream is no longer capturing.
    cudaGraph_t graph = nullptr;
    const cudaError_t ended = cudaStreamEndCapture(static_cast<cudaStream_t>(stream), &graph);
    if (ended != cudaSuccess && graph != nullptr) cudaGraphDestroy(graph);
    TWP_CUDA_CHECK(ended);
    cudaGraphExec_t exec = nullptr;
    const cudaError_t status = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);  // the executable graph keeps what it needs
    TWP_CUDA_CHECK(status);
    return exec;
}

void replay(Graph graph, Stream stream) {
    TWP_CUDA_CHECK(cudaGraphLaunch(static_cast<cudaGraphExec_t>(graph), static_cast<cudaStream_t>(stream)));
}

void destroy_graph(Graph graph) noexcept {
    if (graph) cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(graph));
}


#else  // the CUDA emulation

namespace {
// Streams are tokens: everything runs synchronously on the calling thread.
char stream_token;
}  // namespace

void set_device(int index) {
    TWP_CHECK(index == 0, "--device " << index << ": the CUDA emulation has one device, 0");
}

Stream create_stream() { return &stream_token; }
void destroy_stream(Stream) noexcept {}

void begin_capture(Stream stream) {
    TWP_CHECK(stream != nullptr, "a CUDA graph cannot capture the default stream");
    TWP_CUDA_CHECK(emu::begin_capture());
}

Graph end_capture(Stream) {
    std::unique_ptr<emu::Recording> recording;
    TWP_CUDA_CHECK(emu::end_capture(recording));
    return recording.release();
}

void replay(Graph graph, Stream) {
    TWP_CHECK(graph != nullptr, "replay of a null graph");
    // A GPU would capture the launch of a graph as a child graph; twp never does that, and
    // refusing it keeps recordings flat.
    TWP_CUDA_CHECK(emu::refuse_while_capturing("cudaGraphLaunch"));
    for (const auto& work : *static_cast<emu::Recording*>(graph)) work();
}

void destroy_graph(Graph graph) noexcept { delete static_cast<emu::Recording*>(graph); }


#endif

void clear_last_error() noexcept { detail::clear_last_error(); }

}  // namespace twp::kernels
