// Tensor views: a pointer into backend memory plus a shape. Views own nothing; memory is owned by
// a Buffer (engine/buffer.hpp). Layout convention for the whole project, stated once here:
// row-major, last dimension contiguous; images are NCHW ([batch, channels, height, width]); a
// linear layer's weight is [out_features, in_features] as in PyTorch.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <sstream>
#include <string>

#include "engine/error.hpp"

namespace twp {

constexpr int kMaxRank = 4;

struct Shape {
    std::array<int64_t, kMaxRank> dims{};  // unused trailing dims are 1
    int rank = 0;

    Shape() = default;
    Shape(std::initializer_list<int64_t> list) {
        TWP_CHECK(list.size() <= kMaxRank, "shape of rank " << list.size() << " exceeds " << kMaxRank);
        dims.fill(1);
        for (int64_t d : list) dims[rank++] = d;
    }
    int64_t operator[](int i) const { return dims[i]; }
    int64_t numel() const {
        int64_t n = 1;
        for (int i = 0; i < rank; ++i) n *= dims[i];
        return n;
    }
    bool operator==(const Shape& other) const {
        if (rank != other.rank) return false;
        for (int i = 0; i < rank; ++i)
            if (dims[i] != other.dims[i]) return false;
        return true;
    }
    std::string str() const {
        std::ostringstream text;
        text << "[";
        for (int i = 0; i < rank; ++i) text << (i ? ", " : "") << dims[i];
        text << "]";
        return text.str();
    }
};

template <class T>
struct View {
    T* data = nullptr;  // backend memory (host memory on the CPU backend)
    Shape shape;

    int64_t numel() const { return shape.numel(); }
    int64_t dim(int i) const { return shape[i]; }
    bool empty() const { return data == nullptr; }
    // The same memory seen with another shape of the same element count (e.g. [B,16,5,5] as [B,400]).
    View reshaped(Shape new_shape) const {
        TWP_CHECK(new_shape.numel() == numel(),
                  "cannot view " << shape.str() << " as " << new_shape.str());
        return View{data, new_shape};
    }
    // The first `rows` items along dimension 0 (a partial last batch).
    View first(int64_t rows) const {
        TWP_CHECK(rows >= 0 && rows <= shape[0], "first(" << rows << ") of " << shape.str());
        View v{data, shape};
        v.shape.dims[0] = rows;
        return v;
    }
};

using Tensor = View<float>;
using IndexTensor = View<int32_t>;

// Shape checks used by every backend's op entry points before any memory is touched.
#define TWP_CHECK_SHAPE(view, ...)                                                          \
    TWP_CHECK((view).shape == ::twp::Shape({__VA_ARGS__}),                                 \
              #view " has shape " << (view).shape.str() << ", expected "                   \
                                  << ::twp::Shape({__VA_ARGS__}).str())

}  // namespace twp
