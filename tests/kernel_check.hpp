// What the kernel tests share (tests/test_kernels_*.cpp, tests/test_pca_device.cpp, built
// emulated and natively): the CPU backend they compare against, device arrays filled from the
// host, outputs poisoned before every launch (NaN for floats, -7 for indices, so an element a
// kernel forgets to write fails), and guard regions around every array (as ggml's
// test-backend-ops puts sentinels around its outputs, so a kernel that writes past either end of
// its output fails). The comparisons themselves are tests/check.hpp's.
#pragma once

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iomanip>
#include <limits>
#include <sstream>
#include <string>
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

// The guard pattern of the array numbered `id`: a signalling NaN whose payload carries the id, as
// float (0x7fa00000 | id) or double (0x7ff4000000000000 | id), which arithmetic never produces (it
// returns quiet NaNs), and the same bits, an unlikely large value, as an int32. One pattern per
// array, so that an elementwise kernel that runs one element too far, copying its input's guard
// into its output's, changes the output's guard too.
template <class T>
T guard_sentinel(uint32_t id) {
    static_assert(sizeof(T) == 4 || sizeof(T) == 8, "guards for 4- and 8-byte elements");
    T value;
    if constexpr (sizeof(T) == 4) {
        const uint32_t bits = 0x7fa00000u | (id & 0x1fffffu);
        std::memcpy(&value, &bits, sizeof value);
    } else {
        const uint64_t bits = 0x7ff4000000000000ull | id;
        std::memcpy(&value, &bits, sizeof value);
    }
    return value;
}

inline uint32_t next_guard_id() {
    static uint32_t count = 0;
    return ++count;
}

// `count` T of device memory between two guards of 256 bytes each, filled with the array's own
// guard_sentinel<T>(id) when the array is made. download() requires both guards intact before it
// returns the values, so every comparison of a kernel's output also checks that the kernel wrote
// nothing just before or after it. 256 bytes keep data() as aligned as a plain allocation
// (cudaMalloc's 256 bytes), so a kernel takes the same (e.g. vectorized) path it takes on a
// DeviceArray. The same interface as kernels::DeviceArray: movable, never copied, explicit
// transfers.
template <class T>
class GuardedArray {
public:
    static constexpr int64_t kGuard = int64_t(256 / sizeof(T));  // elements on each side

    explicit GuardedArray(int64_t count)
        : storage_(count + 2 * kGuard), count_(count), sentinel_(guard_sentinel<T>(next_guard_id())) {
        const std::vector<T> guard(as_size(kGuard), sentinel_);
        kernels::copy_to_device(storage_.data(), guard.data(), guard_bytes());
        kernels::copy_to_device(storage_.data() + kGuard + count_, guard.data(), guard_bytes());
    }
    explicit GuardedArray(const std::vector<T>& host) : GuardedArray(int64_t(host.size())) { upload(host); }

    int64_t count() const { return count_; }
    size_t bytes() const { return sizeof(T) * as_size(count_); }
    T* data() { return storage_.data() + kGuard; }
    const T* data() const { return storage_.data() + kGuard; }

    void upload(const std::vector<T>& host) {
        TWP_CHECK(int64_t(host.size()) == count_,
                  "upload of " << host.size() << " elements into a GuardedArray of " << count_);
        kernels::copy_to_device(data(), host.data(), bytes());
    }

    // Where the guards were changed ("" when both are intact): the first changed element of each.
    std::string guard_damage() const {
        std::vector<T> before(as_size(kGuard)), after(as_size(kGuard));
        kernels::copy_to_host(before.data(), storage_.data(), guard_bytes());
        kernels::copy_to_host(after.data(), storage_.data() + kGuard + count_, guard_bytes());
        std::ostringstream text;
        for (int64_t i = kGuard - 1; i >= 0; --i)  // nearest the array first
            if (std::memcmp(&before[as_size(i)], &sentinel_, sizeof(T)) != 0) {
                text << "written " << kGuard - i << " element(s) before the start of the " << count_
                     << "-element array (value " << before[as_size(i)] << "); ";
                break;
            }
        for (int64_t i = 0; i < kGuard; ++i)
            if (std::memcmp(&after[as_size(i)], &sentinel_, sizeof(T)) != 0) {
                text << "written " << i + 1 << " element(s) past the end of the " << count_
                     << "-element array (value " << after[as_size(i)] << "); ";
                break;
            }
        return text.str();
    }

    // The values, after requiring both guards intact (the caller synchronizes: download() below).
    std::vector<T> download() const {
        const std::string damage = guard_damage();
        INFO("a guard around the output changed: " << damage);
        REQUIRE(damage.empty());
        std::vector<T> host(as_size(count_));
        kernels::copy_to_host(host.data(), data(), bytes());
        return host;
    }

private:
    size_t guard_bytes() const { return sizeof(T) * as_size(kGuard); }

    kernels::DeviceArray<T> storage_;  // [kGuard guard, count_ values, kGuard guard]
    int64_t count_ = 0;
    T sentinel_;  // this array's guard pattern
};

template <class T>
GuardedArray<T> on_device(const std::vector<T>& host) {
    return GuardedArray<T>(host);
}

// Shaped views of device arrays and host vectors, for the backends' ops and the launchers.
template <class T>
View<T> view(GuardedArray<T>& array, Shape shape) { return View<T>{array.data(), shape}; }
template <class T>
View<T> view(kernels::DeviceArray<T>& array, Shape shape) { return View<T>{array.data(), shape}; }
template <class T>
View<T> view(std::vector<T>& host, Shape shape) { return View<T>{host.data(), shape}; }

// After the queued work: the array's values on the host (its guards checked).
template <class T>
std::vector<T> download(const GuardedArray<T>& array) {
    kernels::synchronize(nullptr);
    return array.download();
}

inline void poison(GuardedArray<float>& array) {
    kernels::device_fill(array.data(), kNaN, array.count(), nullptr);
}
inline GuardedArray<float> poisoned_floats(int64_t count) {
    GuardedArray<float> array(count);
    poison(array);
    return array;
}
inline GuardedArray<int32_t> poisoned_indices(int64_t count) {
    return on_device(std::vector<int32_t>(as_size(count), -7));
}

}  // namespace twp::test
