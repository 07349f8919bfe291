// The CUDA surface the emulation offers kernel code compiled by g++ (included through
// kernels/cuda_compat.hpp when TWP_CUDA_EMULATION=1): dim3, the thread/block index built-ins,
// the qualifiers, __shared__ memory, barriers, warp shuffles, atomics and the math intrinsics our
// kernels use. It exists so that the kernel tests run on machines without a GPU and so that
// ordering bugs show: see kernels/README.md for the execution model and the list of what is
// refused (no declaration here means a compile error, which is the point).
//
// Execution model (kernels/emu/emulation.cpp): blocks run one after another on the launching OS
// thread; the threads of a block are fibers scheduled cooperatively, switching only at
// __syncthreads(), at warp operations and at exit. Hence:
// - __shared__ is `static thread_local`: one instance per OS thread = per running block. Static
//   shared memory is NOT reset between blocks (as on a GPU, its content at block start is
//   undefined); dynamic shared memory (TWP_DYNAMIC_SHARED) is refilled with 0xFF bytes (NaN as
//   float, -1 as int) at every block start so that reading what no thread wrote shows up.
// - between barriers the threads run in the order set by kernels/emu/schedule.hpp.
// - threadIdx etc. are macros calling into the emulator, usable exactly like CUDA's (threadIdx.x).
#pragma once

#include <math.h>  // the C math functions in the global namespace (expf, sqrtf, isfinite, ...)

#include <atomic>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/emu/schedule.hpp"

// ---- vector types ----
struct uint3 {
    unsigned x, y, z;
};

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
    constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
    constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
};

inline constexpr int warpSize = 32;

namespace twp::emu {

// Where a launch came from, for error messages.
struct LaunchSite {
    const char* kernel;
    const char* file;
    int line;
};

// Runs grid x block threads of run_thread(context), block after block; returns when all are done.
// Throws twp::Error for a deadlock, divergent __syncthreads(), a misused warp operation or an
// exception escaping a thread; the emulator stays usable afterwards. kernels::launch calls this.
void run_grid(const LaunchSite& site, dim3 grid, dim3 block, std::size_t shared_bytes,
              void (*run_thread)(void*), void* context);

// The running thread's built-ins; calling them outside a kernel throws.
uint3 thread_idx();
uint3 block_idx();
dim3 block_dim();
dim3 grid_dim();
void* dynamic_shared_memory();  // nullptr when the launch asked for 0 bytes

void sync_threads(const char* file, int line);

// One warp operation: every lane in `mask` that has not exited must arrive before any continues.
// kSync exchanges nothing; the shuffles return the source lane's bits, or the caller's own bits
// when the source lane lies outside the width segment (CUDA's rule), is not in the mask or has
// exited (undefined in CUDA).
enum class WarpOp { kSync, kIndex, kUp, kDown, kXor };
std::uint64_t warp_exchange(unsigned mask, WarpOp op, std::uint64_t bits, int operand, int width);

template <class T>
T shuffle(unsigned mask, T value, WarpOp op, int operand, int width) {
    static_assert(std::is_arithmetic_v<T> && sizeof(T) <= 8,
                  "the emulated __shfl_*_sync take int, unsigned, long, long long, float or double");
    std::uint64_t bits = 0;
    std::memcpy(&bits, &value, sizeof(T));
    bits = warp_exchange(mask, op, bits, operand, width);
    std::memcpy(&value, &bits, sizeof(T));
    return value;
}

// Atomics: blocks run one at a time today, but atomic_ref keeps them right should blocks ever run
// in parallel, and makes ThreadSanitizer see atomics rather than races. Relaxed, like CUDA's.
template <class T>
T atomic_fetch_add(T* address, T value) {
    return std::atomic_ref<T>(*address).fetch_add(value, std::memory_order_relaxed);
}
template <class T, class Better>
T atomic_update_if(T* address, T value, Better better) {
    std::atomic_ref<T> target(*address);
    T old = target.load(std::memory_order_relaxed);
    while (better(value, old) &&
           !target.compare_exchange_weak(old, value, std::memory_order_relaxed)) {
    }
    return old;
}

}  // namespace twp::emu

// ---- qualifiers ----
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
// __restrict__ is a GCC keyword already.
#define __shared__ static thread_local

// ---- built-in variables ----
#define threadIdx (::twp::emu::thread_idx())
#define blockIdx (::twp::emu::block_idx())
#define blockDim (::twp::emu::block_dim())
#define gridDim (::twp::emu::grid_dim())

#define TWP_DYNAMIC_SHARED(type, name) \
    type* name = static_cast<type*>(::twp::emu::dynamic_shared_memory())

// ---- synchronization ----
// A macro so that the barrier knows its call site: threads of a block waiting at different
// __syncthreads() is divergent code (undefined in CUDA) and reported as an error.
#define __syncthreads() ::twp::emu::sync_threads(__FILE__, __LINE__)

inline void __syncwarp(unsigned mask = 0xffffffffu) {
    ::twp::emu::warp_exchange(mask, ::twp::emu::WarpOp::kSync, 0, 0, warpSize);
}

template <class T>
T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize) {
    return ::twp::emu::shuffle(mask, var, ::twp::emu::WarpOp::kIndex, src_lane, width);
}
template <class T>
T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
    return ::twp::emu::shuffle(mask, var, ::twp::emu::WarpOp::kUp, int(delta), width);
}
template <class T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
    return ::twp::emu::shuffle(mask, var, ::twp::emu::WarpOp::kDown, int(delta), width);
}
template <class T>
T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize) {
    return ::twp::emu::shuffle(mask, var, ::twp::emu::WarpOp::kXor, lane_mask, width);
}

// ---- atomics (return the old value) ----
inline int atomicAdd(int* address, int value) { return ::twp::emu::atomic_fetch_add(address, value); }
inline unsigned atomicAdd(unsigned* address, unsigned value) {
    return ::twp::emu::atomic_fetch_add(address, value);
}
inline unsigned long long atomicAdd(unsigned long long* address, unsigned long long value) {
    return ::twp::emu::atomic_fetch_add(address, value);
}
inline float atomicAdd(float* address, float value) { return ::twp::emu::atomic_fetch_add(address, value); }
inline double atomicAdd(double* address, double value) {
    return ::twp::emu::atomic_fetch_add(address, value);
}
inline int atomicSub(int* address, int value) { return ::twp::emu::atomic_fetch_add(address, -value); }
inline unsigned atomicSub(unsigned* address, unsigned value) {
    return ::twp::emu::atomic_fetch_add(address, 0u - value);
}
inline int atomicMax(int* address, int value) {
    return ::twp::emu::atomic_update_if(address, value, [](int a, int b) { return a > b; });
}
inline unsigned atomicMax(unsigned* address, unsigned value) {
    return ::twp::emu::atomic_update_if(address, value, [](unsigned a, unsigned b) { return a > b; });
}
inline int atomicMin(int* address, int value) {
    return ::twp::emu::atomic_update_if(address, value, [](int a, int b) { return a < b; });
}
inline unsigned atomicMin(unsigned* address, unsigned value) {
    return ::twp::emu::atomic_update_if(address, value, [](unsigned a, unsigned b) { return a < b; });
}
inline int atomicExch(int* address, int value) {
    return std::atomic_ref<int>(*address).exchange(value, std::memory_order_relaxed);
}
inline unsigned atomicExch(unsigned* address, unsigned value) {
    return std::atomic_ref<unsigned>(*address).exchange(value, std::memory_order_relaxed);
}
inline float atomicExch(float* address, float value) {
    return std::atomic_ref<float>(*address).exchange(value, std::memory_order_relaxed);
}
inline int atomicCAS(int* address, int compare, int value) {
    std::atomic_ref<int>(*address).compare_exchange_strong(compare, value, std::memory_order_relaxed);
    return compare;  // the old value, whether or not it was swapped
}
inline unsigned atomicCAS(unsigned* address, unsigned compare, unsigned value) {
    std::atomic_ref<unsigned>(*address).compare_exchange_strong(compare, value,
                                                                std::memory_order_relaxed);
    return compare;
}

// ---- math intrinsics: the fast CUDA variants are computed exactly here, so compare kernel
// results with a tolerance that covers the GPU's approximations (__expf: 2 ulp + range error). ----
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
// The IEEE round-to-nearest operations kernels use to forbid FMA contraction (nvcc fuses a * b + c
// by default): each is one correctly rounded operation, which is what plain float arithmetic is
// here (the emulation is compiled as ISO C++, without contraction).
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fsqrt_rn(float x) { return std::sqrt(x); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dsub_rn(double a, double b) { return a - b; }
inline double __dmul_rn(double a, double b) { return a * b; }
template <class T>
T __ldg(const T* address) {
    return *address;
}
inline int __float_as_int(float x) { return std::bit_cast<int>(x); }
inline unsigned __float_as_uint(float x) { return std::bit_cast<unsigned>(x); }
inline float __int_as_float(int x) { return std::bit_cast<float>(x); }
inline float __uint_as_float(unsigned x) { return std::bit_cast<float>(x); }

// CUDA's global min/max overloads (the integer ones are what kernels use; float/double forward
// to fminf/fmaxf semantics as in CUDA).
#define TWP_EMU_MIN_MAX(type)                                               \
    inline type min(type a, type b) { return b < a ? b : a; }              \
    inline type max(type a, type b) { return a < b ? b : a; }
TWP_EMU_MIN_MAX(int)
TWP_EMU_MIN_MAX(unsigned)
TWP_EMU_MIN_MAX(long)
TWP_EMU_MIN_MAX(unsigned long)
TWP_EMU_MIN_MAX(long long)
TWP_EMU_MIN_MAX(unsigned long long)
#undef TWP_EMU_MIN_MAX
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline double max(double a, double b) { return fmax(a, b); }
