// Device memory for kernel code and kernel tests, as plain C++ (no CUDA header): allocation,
// copies between host and device, synchronization, and a NaN fill for poisoning test outputs.
// kernels/device_memory.cu implements it twice: with the CUDA runtime under nvcc (every call
// checked), and with host memory under the CUDA emulation (256-byte aligned like cudaMalloc,
// memcpy, synchronous). Pointers returned here are device pointers: only kernels and these
// functions may dereference them (the emulation cannot tell host from device memory; the GPU
// build can, so run the GPU tests where there is a GPU).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include "engine/error.hpp"
#include "kernels/stream.hpp"

namespace twp::kernels {

void* device_alloc(std::size_t bytes);  // nullptr for 0 bytes; throws when out of memory
void device_free(void* pointer) noexcept;
// Host <-> device copies return once the host buffer may be reused (copy_to_host: once the data
// is there). Device-to-device copies are queued on the stream.
void copy_to_device(void* device_dst, const void* host_src, std::size_t bytes, Stream stream = nullptr);
void copy_to_host(void* host_dst, const void* device_src, std::size_t bytes, Stream stream = nullptr);
void copy_device_to_device(void* device_dst, const void* device_src, std::size_t bytes,
                           Stream stream = nullptr);
void synchronize(Stream stream = nullptr);
// device_dst[0..count) = value, by a kernel launched through kernels::launch (so the nvcc build
// compiles a real launch). Meant for poisoning outputs with NaN before a test runs a kernel.
void device_fill(float* device_dst, float value, std::int64_t count, Stream stream = nullptr);
bool native_gpu_build();  // true when compiled by nvcc, false under the emulation
int device_count();       // usable CUDA devices; 0 under the emulation or without a driver

// RAII array of `count` T in device memory. Movable, never copied; host transfers are explicit.
template <class T>
class DeviceArray {
    static_assert(std::is_trivially_copyable_v<T>, "DeviceArray holds trivially copyable types");

public:
    DeviceArray() = default;
    explicit DeviceArray(std::int64_t count) : count_(count) {
        TWP_CHECK(count >= 0, "DeviceArray of negative size " << count);
        data_ = static_cast<T*>(device_alloc(bytes()));
    }
    explicit DeviceArray(const std::vector<T>& host) : DeviceArray(std::int64_t(host.size())) {
        upload(host);
    }
    ~DeviceArray() { device_free(data_); }
    DeviceArray(const DeviceArray&) = delete;
    DeviceArray& operator=(const DeviceArray&) = delete;
    DeviceArray(DeviceArray&& other) noexcept
        : data_(std::exchange(other.data_, nullptr)), count_(std::exchange(other.count_, 0)) {}
    DeviceArray& operator=(DeviceArray&& other) noexcept {
        if (this != &other) {
            device_free(data_);
            data_ = std::exchange(other.data_, nullptr);
            count_ = std::exchange(other.count_, 0);
        }
        return *this;
    }

    std::int64_t count() const { return count_; }
    std::size_t bytes() const { return sizeof(T) * static_cast<std::size_t>(count_); }
    T* data() { return data_; }
    const T* data() const { return data_; }

    void upload(const std::vector<T>& host, Stream stream = nullptr) {
        TWP_CHECK(std::int64_t(host.size()) == count_,
                  "upload of " << host.size() << " elements into a DeviceArray of " << count_);
        copy_to_device(data_, host.data(), bytes(), stream);
    }
    std::vector<T> download(Stream stream = nullptr) const {
        std::vector<T> host(static_cast<std::size_t>(count_));
        copy_to_host(host.data(), data_, bytes(), stream);
        return host;
    }

private:
    T* data_ = nullptr;  // [count_] in device memory
    std::int64_t count_ = 0;
};

}  // namespace twp::kernels
