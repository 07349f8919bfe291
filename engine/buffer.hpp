// Buffer<T>: RAII ownership of `count` elements of T in a backend's memory. Movable, never copied
// (a copy of device memory is an explicit call, not an accident of assignment). Copies to and from
// the host are explicit too: upload() and download().
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "engine/backend.hpp"

namespace twp {

template <class T>
class Buffer {
public:
    Buffer() = default;
    Buffer(Backend& backend, int64_t count) : backend_(&backend), count_(count) {
        TWP_CHECK(count >= 0, "negative buffer size " << count);
        if (count > 0) data_ = static_cast<T*>(backend.allocate_bytes(sizeof(T) * count));
    }
    ~Buffer() { reset(); }
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    Buffer(Buffer&& other) noexcept { swap(other); }
    Buffer& operator=(Buffer&& other) noexcept {
        if (this != &other) {
            reset();
            swap(other);
        }
        return *this;
    }

    T* data() const { return data_; }
    int64_t count() const { return count_; }
    View<T> view(Shape shape) const {
        TWP_CHECK(shape.numel() <= count_,
                  "view " << shape.str() << " does not fit a buffer of " << count_);
        return View<T>{data_, shape};
    }
    View<T> view() const { return view(Shape{count_}); }

    void upload(const T* host, int64_t count, int64_t offset = 0) {
        TWP_CHECK(offset >= 0 && offset + count <= count_, "upload out of range");
        if (count) backend_->copy_from_host(data_ + offset, host, sizeof(T) * count);
    }
    void upload(const std::vector<T>& host) { upload(host.data(), static_cast<int64_t>(host.size())); }
    void download(T* host, int64_t count, int64_t offset = 0) const {
        TWP_CHECK(offset >= 0 && offset + count <= count_, "download out of range");
        if (count) backend_->copy_to_host(host, data_ + offset, sizeof(T) * count);
    }
    std::vector<T> download() const {
        std::vector<T> host(count_);
        download(host.data(), count_);
        return host;
    }

private:
    void reset() noexcept {
        if (data_) backend_->free_bytes(data_);
        data_ = nullptr;
        count_ = 0;
    }
    void swap(Buffer& other) noexcept {
        std::swap(backend_, other.backend_);
        std::swap(data_, other.data_);
        std::swap(count_, other.count_);
    }

    Backend* backend_ = nullptr;
    T* data_ = nullptr;
    int64_t count_ = 0;
};

}  // namespace twp
