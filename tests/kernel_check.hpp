// What the kernel tests share (tests/test_kernels_*.cpp, built emulated and natively): the CPU
// backend they compare against, device arrays filled from the host, and outputs poisoned before
// every launch (NaN for floats, -7 for indices), so an element a kernel forgets to write fails.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "engine/cpu_backend.hpp"
#include "engine/tensor.hpp"
#include "kernels/device_memory.hpp"

namespace twp::test {

inline constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

inline size_t as_size(int64_t count) { return static_cast<size_t>(count); }

// The reference every kernel is compared with.
inline CpuBackend& cpu() {
    static CpuBackend instance;
    return instance;
}

template <class T>
kernels::DeviceArray<T> on_device(const std::vector<T>& host) {
    kernels::DeviceArray<T> array(int64_t(host.size()));
    array.upload(host);
    return array;
}

// Shaped views of device arrays and host vectors, for the backends' ops and the launchers.
template <class T>
View<T> view(kernels::DeviceArray<T>& array, Shape shape) { return View<T>{array.data(), shape}; }
template <class T>
View<T> view(std::vector<T>& host, Shape shape) { return View<T>{host.data(), shape}; }

// After the queued work: the array's values on the host.
template <class T>
std::vector<T> download(const kernels::DeviceArray<T>& array) {
    kernels::synchronize(nullptr);
    return array.download();
}

inline void poison(kernels::DeviceArray<float>& array) {
    kernels::device_fill(array.data(), kNaN, array.count(), nullptr);
}
inline kernels::DeviceArray<float> poisoned_floats(int64_t count) {
    kernels::DeviceArray<float> array(count);
    poison(array);
    return array;
}
inline kernels::DeviceArray<int32_t> poisoned_indices(int64_t count) {
    return on_device(std::vector<int32_t>(as_size(count), -7));
}

}  // namespace twp::test
