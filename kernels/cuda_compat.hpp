// The one CUDA header of every kernel file (kernels/<op>.cu), so that one source builds two ways:
// - nvcc (__CUDACC__): the real CUDA runtime, plus TWP_CUDA_CHECK for runtime calls;
// - g++ with TWP_CUDA_EMULATION=1 (the twp_kernels_emu target): kernels/emu/emulation.hpp, which
//   runs kernels on the CPU, one block after another, each thread a fiber (see kernels/README.md
//   for what it supports and what it refuses to compile).
// Anything else is a build mistake and stops here, instead of silently emulating a GPU build.
//
// TWP_CUDA_CHECK(call) evaluates a runtime call once and, when it fails, clears the runtime's last
// error (cudaGetLastError) before throwing twp::Error with the call, file:line, the error's name and
// message: a failure must not stay behind to be blamed on the next launch, which reads the last
// error (kernels/launch.hpp). Under the emulation the calls are the emulated runtime's
// (kernels/emu/runtime.hpp), with the same names, messages and last-error rule.
//
// TWP_DYNAMIC_SHARED(type, name) declares `type* name` pointing at the launch's dynamic shared
// memory (shared_bytes of kernels::launch), 16-byte aligned. It is always a byte array
// reinterpreted, so template kernels of different element types can share it without the
// "extern __shared__ redeclared with a different type" error.
#pragma once

#if defined(__CUDACC__)

#include <cuda_runtime.h>

#include "engine/error.hpp"

#define TWP_DYNAMIC_SHARED(type, name)                                         \
    extern __shared__ __align__(16) unsigned char twp_dynamic_shared_bytes_[]; \
    type* name = reinterpret_cast<type*>(twp_dynamic_shared_bytes_)

namespace twp::kernels::detail {

// What the user can do about a CUDA error, where there is something to say.
inline const char* cuda_error_advice(cudaError_t status) {
    switch (status) {
        case cudaErrorMemoryAllocation:
            return "out of GPU memory: use a smaller --batch_size or --no_cuda";
        case cudaErrorNoDevice:
        case cudaErrorInsufficientDriver:
            return "no usable CUDA device or driver: run with --no_cuda";
        case cudaErrorNoKernelImageForDevice:
            return "this GPU's architecture is not among CMAKE_CUDA_ARCHITECTURES: rebuild with it";
        default:
            return "";
    }
}

// Resets the runtime's last error: every failure path calls it before it throws (a failed cuBLAS
// or cuSOLVER call may have left a runtime error behind too).
inline void clear_last_error() { (void)cudaGetLastError(); }

}  // namespace twp::kernels::detail

// Evaluates a CUDA runtime call once; on failure clears the last error and throws twp::Error
// naming the call, file:line, CUDA's error name and message, and advice where there is some.
#define TWP_CUDA_CHECK(call)                                                                   \
    do {                                                                                       \
        const cudaError_t twp_cuda_status_ = (call);                                           \
        if (twp_cuda_status_ != cudaSuccess) {                                                 \
            ::twp::kernels::detail::clear_last_error();                                        \
            const char* twp_cuda_advice_ = ::twp::kernels::detail::cuda_error_advice(twp_cuda_status_); \
            TWP_FAIL(#call " failed: " << cudaGetErrorName(twp_cuda_status_) << ": "           \
                                       << cudaGetErrorString(twp_cuda_status_)                 \
                                       << (*twp_cuda_advice_ ? " (" : "") << twp_cuda_advice_  \
                                       << (*twp_cuda_advice_ ? ")" : ""));                     \
        }                                                                                      \
    } while (0)

#elif defined(TWP_CUDA_EMULATION) && TWP_CUDA_EMULATION

#include "engine/error.hpp"
#include "kernels/emu/emulation.hpp"
#include "kernels/emu/runtime.hpp"

namespace twp::kernels::detail {
inline void clear_last_error() { (void)::twp::emu::get_last_error(); }
}  // namespace twp::kernels::detail

// The emulated runtime's calls return twp::emu::Status (kernels/emu/runtime.hpp).
#define TWP_CUDA_CHECK(call)                                                                   \
    do {                                                                                       \
        const ::twp::emu::Status twp_cuda_status_ = (call);                                    \
        if (twp_cuda_status_ != ::twp::emu::Status::kSuccess) {                                \
            ::twp::kernels::detail::clear_last_error();                                        \
            TWP_FAIL(#call " failed: " << ::twp::emu::status_name(twp_cuda_status_) << ": "    \
                                       << ::twp::emu::status_text(twp_cuda_status_));          \
        }                                                                                      \
    } while (0)

#else
#error "kernels/cuda_compat.hpp: compile kernel code with nvcc, or with g++ and TWP_CUDA_EMULATION=1 (link twp_kernels_emu)"
#endif
