// Shape checks for the backend ops, shared by every backend: each op entry point calls its check
// before touching memory, so a wrong shape is an error that names the tensors, never an
// out-of-bounds access. Returns the geometry the op needs.
#pragma once

#include "engine/cpu/ops.hpp"
#include "engine/tensor.hpp"

namespace twp::checks {

inline Conv2dDims conv2d(Shape x, Shape w, int padding) {
    TWP_CHECK(x.rank == 4 && w.rank == 4, "conv2d wants x [B,Ci,H,W] and w [Co,Ci,K,K], got x "
                                              << x.str() << " and w " << w.str());
    TWP_CHECK(w[1] == x[1], "conv2d weight " << w.str() << " does not match input " << x.str());
    TWP_CHECK(w[2] == w[3], "conv2d kernel must be square, got " << w.str());
    TWP_CHECK(padding >= 0, "conv2d padding " << padding << " is negative");
    Conv2dDims d{x[0], x[1], x[2], x[3], w[0], w[2], padding};
    TWP_CHECK(d.out_height() > 0 && d.out_width() > 0,
              "conv2d kernel " << w.str() << " larger than padded input " << x.str());
    return d;
}

inline Conv2dDims conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& y,
                         int padding) {
    Conv2dDims d = conv2d(x.shape, w.shape, padding);
    TWP_CHECK_SHAPE(b, d.out_channels);
    TWP_CHECK_SHAPE(y, d.batch, d.out_channels, d.out_height(), d.out_width());
    return d;
}

inline void workspace(const Tensor& workspace, int64_t needed, const char* op) {
    TWP_CHECK(workspace.numel() >= needed,
              op << " workspace holds " << workspace.numel() << " floats, needs " << needed);
}

inline void maxpool2(const Tensor& x, const Tensor& y, const IndexTensor& argmax) {
    TWP_CHECK(x.shape.rank == 4 && x.dim(2) % 2 == 0 && x.dim(3) % 2 == 0,
              "maxpool2 wants [B,C,H,W] with even H and W, got " << x.shape.str());
    TWP_CHECK_SHAPE(y, x.dim(0), x.dim(1), x.dim(2) / 2, x.dim(3) / 2);
    TWP_CHECK(argmax.shape == y.shape, "maxpool2 argmax " << argmax.shape.str()
                                                          << " differs from output " << y.shape.str());
}

inline void same_size(const Tensor& a, const Tensor& b, const char* op) {
    TWP_CHECK(a.numel() == b.numel(),
              op << ": sizes differ, " << a.shape.str() << " vs " << b.shape.str());
}

// x [B,In], w [Out,In], b [Out], y [B,Out]
inline void linear(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& y) {
    TWP_CHECK(x.shape.rank == 2 && w.shape.rank == 2 && w.dim(1) == x.dim(1),
              "linear wants x [B,In] and w [Out,In], got " << x.shape.str() << " and "
                                                           << w.shape.str());
    TWP_CHECK_SHAPE(b, w.dim(0));
    TWP_CHECK_SHAPE(y, x.dim(0), w.dim(0));
}

inline void classification(const Tensor& logits, const IndexTensor& labels) {
    TWP_CHECK(logits.shape.rank == 2, "logits must be [B,K], got " << logits.shape.str());
    TWP_CHECK(labels.shape == Shape({logits.dim(0)}),
              "labels " << labels.shape.str() << " do not match logits " << logits.shape.str());
}

}  // namespace twp::checks
