// Device memory (see device_memory.hpp), compiled by nvcc for the GPU and by g++ for the CUDA
// emulation (through the generated wrapper build/emu/device_memory.cpp).
#include "kernels/cuda_compat.hpp"
#include "kernels/launch.hpp"

#include <algorithm>
#include <cstring>
#include <new>

#include "kernels/device_memory.hpp"

namespace twp::kernels {
namespace {

// dst[0..count) = value, grid-stride so that any grid covers any count.
__global__ void fill_kernel(float* __restrict__ dst, float value, std::int64_t count) {
    const std::int64_t stride = std::int64_t(gridDim.x) * blockDim.x;
    for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride)
        dst[i] = value;
}

}  // namespace

void device_fill(float* device_dst, float value, std::int64_t count, Stream stream) {
    TWP_CHECK(count >= 0, "device_fill of negative count " << count);
    if (count == 0) return;
    TWP_CHECK(device_dst != nullptr, "device_fill of " << count << " floats into nullptr");
    constexpr int kThreads = 256;
    // At most 64 blocks: plenty to poison test outputs on a GPU, and few emulated threads.
    const std::int64_t blocks = std::min<std::int64_t>((count + kThreads - 1) / kThreads, 64);
    launch("device_fill", fill_kernel, dim3(unsigned(blocks)), dim3(kThreads), 0, stream,
           device_dst, value, count);
}

#if defined(__CUDACC__)

void* device_alloc(std::size_t bytes) {
    if (bytes == 0) return nullptr;
    void* pointer = nullptr;
    const cudaError_t status = cudaMalloc(&pointer, bytes);
    if (status != cudaSuccess) {
        cudaGetLastError();  // clear it: an allocation failure must not poison later launches
        TWP_FAIL("cudaMalloc of " << bytes << " bytes failed: " << cudaGetErrorName(status) << ": "
                                  << cudaGetErrorString(status) << " ("
                                  << (status == cudaErrorMemoryAllocation
                                          ? detail::cuda_error_advice(status)
                                          : "check the device with nvidia-smi, or use --no_cuda")
                                  << ")");
    }
    return pointer;
}

void device_free(void* pointer) noexcept {
    // Destructors never throw, so a failure is not reported here, and its error is cleared rather
    // than left for the next launch to report as its own. A cudaFree inside a capture spoils the
    // capture, whose end reports it; a sticky error (a broken context) fails the next call anyway.
    if (pointer != nullptr && cudaFree(pointer) != cudaSuccess) detail::clear_last_error();
}

void copy_to_device(void* device_dst, const void* host_src, std::size_t bytes, Stream stream) {
    if (bytes == 0) return;
    const auto s = static_cast<cudaStream_t>(stream);
    TWP_CUDA_CHECK(cudaMemcpyAsync(device_dst, host_src, bytes, cudaMemcpyHostToDevice, s));
    // The host buffer may be pinned, in which case the copy is truly asynchronous: wait, so the
    // caller may reuse or free it on return.
    TWP_CUDA_CHECK(cudaStreamSynchronize(s));
}

void copy_to_host(void* host_dst, const void* device_src, std::size_t bytes, Stream stream) {
    if (bytes == 0) return;
    const auto s = static_cast<cudaStream_t>(stream);
    TWP_CUDA_CHECK(cudaMemcpyAsync(host_dst, device_src, bytes, cudaMemcpyDeviceToHost, s));
    TWP_CUDA_CHECK(cudaStreamSynchronize(s));
}

void copy_device_to_device(void* device_dst, const void* device_src, std::size_t bytes, Stream stream) {
    if (bytes == 0) return;
    TWP_CUDA_CHECK(cudaMemcpyAsync(device_dst, device_src, bytes, cudaMemcpyDeviceToDevice,
                                   static_cast<cudaStream_t>(stream)));
}

void synchronize(Stream stream) { TWP_CUDA_CHECK(cudaStreamSynchronize(static_cast<cudaStream_t>(stream))); }

bool native_gpu_build() { return true; }

int device_count() {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        cudaGetLastError();  // no driver or no device: an answer, not an error
        return 0;
    }
    return count;
}

#else  // the CUDA emulation: device memory is host memory

namespace {
// cudaMalloc's alignment, so that vectorized loads behave the same. Exactly `bytes` are
// allocated (no rounding) so that AddressSanitizer catches a kernel reading past the end.
constexpr std::align_val_t kDeviceAlignment{256};
}  // namespace

void* device_alloc(std::size_t bytes) {
    if (bytes == 0) return nullptr;
    TWP_CUDA_CHECK(emu::refuse_while_capturing("cudaMalloc"));
    void* pointer = ::operator new(bytes, kDeviceAlignment, std::nothrow);
    if (pointer == nullptr)
        TWP_FAIL("out of memory allocating " << bytes << " bytes of emulated device memory");
    return pointer;
}

void device_free(void* pointer) noexcept {
    if (pointer == nullptr) return;
    // cudaFree inside a capture fails and spoils the capture, whose end reports it; the error is
    // cleared as the nvcc branch clears it. The memory is freed all the same (a GPU would keep it;
    // nothing here can tell).
    if (emu::refuse_while_capturing("cudaFree") != emu::Status::kSuccess) detail::clear_last_error();
    ::operator delete(pointer, kDeviceAlignment);
}

void copy_to_device(void* device_dst, const void* host_src, std::size_t bytes, Stream) {
    if (bytes == 0) return;
    TWP_CUDA_CHECK(emu::refuse_while_capturing("cudaMemcpyAsync (host to device) + cudaStreamSynchronize"));
    TWP_CHECK(device_dst != nullptr && host_src != nullptr, "copy_to_device of " << bytes << " bytes with a null pointer");
    std::memcpy(device_dst, host_src, bytes);
}

void copy_to_host(void* host_dst, const void* device_src, std::size_t bytes, Stream) {
    if (bytes == 0) return;
    TWP_CUDA_CHECK(emu::refuse_while_capturing("cudaMemcpyAsync (device to host) + cudaStreamSynchronize"));
    TWP_CHECK(host_dst != nullptr && device_src != nullptr, "copy_to_host of " << bytes << " bytes with a null pointer");
    std::memcpy(host_dst, device_src, bytes);
}

void copy_device_to_device(void* device_dst, const void* device_src, std::size_t bytes, Stream) {
    if (bytes == 0) return;
    TWP_CHECK(device_dst != nullptr && device_src != nullptr,
              "copy_device_to_device of " << bytes << " bytes with a null pointer");
    if (emu::capturing())  // a copy node of the graph
        emu::record([=] { std::memmove(device_dst, device_src, bytes); });
    else
        std::memmove(device_dst, device_src, bytes);
}

void synchronize(Stream) { TWP_CUDA_CHECK(emu::refuse_while_capturing("cudaStreamSynchronize")); }

bool native_gpu_build() { return false; }

int device_count() { return 0; }

#endif

}  // namespace twp::kernels
