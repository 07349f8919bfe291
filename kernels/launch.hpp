// kernels::launch: the one way kernel files start a kernel, identical under nvcc and under the
// CUDA emulation. It checks the launch configuration on the host first (the same checks and the
// same error text both ways), then
// - under nvcc: kernel<<<grid, block, shared_bytes, stream>>>(args...) and cudaGetLastError();
//   dynamic shared memory above the default 48 KiB is opted into with cudaFuncSetAttribute;
// - under the emulation: runs the whole grid right away on this CPU thread (kernels/emu/), or,
//   inside a graph capture, records it to run at each replay (kernels/emu/capture.hpp).
// Errors throw twp::Error naming the kernel and the file:line of the launch call.
// A grid with a zero dimension launches nothing (CUDA would call it an invalid configuration).
//
//   launch("relu_forward", relu_forward_kernel, dim3(blocks), dim3(256), 0, stream, x, y, n);
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "engine/error.hpp"
#include "kernels/cuda_compat.hpp"
#include "kernels/stream.hpp"
#if !defined(__CUDACC__)
#include "kernels/emu/capture.hpp"
#endif

namespace twp::kernels {

// Hardware limits of every GPU we target (compute capability >= 8.0).
inline constexpr std::uint64_t kMaxThreadsPerBlock = 1024;
inline constexpr unsigned kMaxBlockDimZ = 64;
inline constexpr unsigned kMaxGridDimYZ = 65535;
inline constexpr std::size_t kDefaultSharedBytes = 48 * 1024;  // without an opt-in
inline constexpr std::size_t kMaxSharedBytes = 227 * 1024;     // sm_90's opt-in maximum

// A kernel's name for error messages, plus where launch() was called from: the default arguments
// are evaluated at the call site, so a string literal converts implicitly and brings its location.
struct KernelName {
    const char* name;
    const char* file;
    int line;
    KernelName(const char* kernel_name, const char* call_file = __builtin_FILE(),
               int call_line = __builtin_LINE())
        : name(kernel_name), file(call_file), line(call_line) {}
};

namespace detail {

// Throws for a configuration no GPU would run; returns true when the grid is empty (no launch).
inline bool check_launch(const KernelName& kernel, dim3 grid, dim3 block, std::size_t shared_bytes) {
    const std::uint64_t threads = std::uint64_t(block.x) * block.y * block.z;
    TWP_CHECK(threads >= 1 && threads <= kMaxThreadsPerBlock && block.z <= kMaxBlockDimZ,
              "launch of kernel '" << kernel.name << "' at " << kernel.file << ":" << kernel.line
                                   << ": block (" << block.x << ", " << block.y << ", " << block.z
                                   << ") has " << threads << " threads; a block holds 1 to "
                                   << kMaxThreadsPerBlock << " threads, z at most " << kMaxBlockDimZ);
    TWP_CHECK(grid.x <= 0x7fffffffu && grid.y <= kMaxGridDimYZ && grid.z <= kMaxGridDimYZ,
              "launch of kernel '" << kernel.name << "' at " << kernel.file << ":" << kernel.line
                                   << ": grid (" << grid.x << ", " << grid.y << ", " << grid.z
                                   << ") exceeds (2^31-1, 65535, 65535)");
    TWP_CHECK(shared_bytes <= kMaxSharedBytes,
              "launch of kernel '" << kernel.name << "' at " << kernel.file << ":" << kernel.line
                                   << ": " << shared_bytes << " bytes of dynamic shared memory, at most "
                                   << kMaxSharedBytes << " per block");
    return grid.x == 0 || grid.y == 0 || grid.z == 0;
}

}  // namespace detail

// Launches `kernel` over grid x block threads with `shared_bytes` of dynamic shared memory on
// `stream`. args convert to the kernel's parameters as in a CUDA launch (by value).
template <class... Params, class... Args>
void launch(KernelName kernel_name, void (*kernel)(Params...), dim3 grid, dim3 block,
            std::size_t shared_bytes, Stream stream, Args&&... args) {
    static_assert(sizeof...(Params) == sizeof...(Args), "launch: wrong number of kernel arguments");
    static_assert((!std::is_reference_v<Params> && ...),
                  "launch: kernel parameters are passed by value (no references to host memory)");
    if (detail::check_launch(kernel_name, grid, block, shared_bytes)) return;
#if defined(__CUDACC__)
    if (shared_bytes > kDefaultSharedBytes)
        TWP_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                            static_cast<int>(shared_bytes)));
    kernel<<<grid, block, shared_bytes, static_cast<cudaStream_t>(stream)>>>(std::forward<Args>(args)...);
    const cudaError_t status = cudaGetLastError();
    if (status != cudaSuccess) {
        const char* advice = detail::cuda_error_advice(status);
        TWP_FAIL("launch of kernel '" << kernel_name.name << "' at " << kernel_name.file << ":"
                                      << kernel_name.line << " failed: " << cudaGetErrorName(status)
                                      << ": " << cudaGetErrorString(status) << (*advice ? " (" : "")
                                      << advice << (*advice ? ")" : ""));
    }
#else
    (void)stream;  // the emulation runs everything synchronously, in launch order
    if (emu::capturing()) {
        // Inside a graph capture (kernels/device.cuh) the launch is recorded with copies of its
        // arguments, as CUDA copies kernel parameters into the graph, and runs at each replay.
        emu::record([kernel_name, kernel, grid, block, shared_bytes, ... copies = std::forward<Args>(args)] {
            launch(kernel_name, kernel, grid, block, shared_bytes, nullptr, copies...);
        });
    } else {
        // Every emulated thread calls the kernel with its own copies of the arguments, as on a GPU.
        auto run_one_thread = [&]() { kernel(args...); };
        using Body = decltype(run_one_thread);
        emu::run_grid(emu::LaunchSite{kernel_name.name, kernel_name.file, kernel_name.line}, grid, block,
                      shared_bytes, [](void* body) { (*static_cast<Body*>(body))(); }, &run_one_thread);
    }
    // As the nvcc branch reads cudaGetLastError(): an error some earlier runtime call left behind
    // is reported here, naming this kernel (kernels/emu/runtime.hpp).
    const emu::Status status = emu::get_last_error();
    if (status != emu::Status::kSuccess)
        TWP_FAIL("launch of kernel '" << kernel_name.name << "' at " << kernel_name.file << ":"
                                      << kernel_name.line << " failed: " << emu::status_name(status)
                                      << ": " << emu::status_text(status));
#endif
}

}  // namespace twp::kernels
