// Shape checks for the backend ops, shared by every backend: each op entry point (the CPU
// backend's, engine/cpu_backend.cpp; the CUDA kernels' launchers, kernels/*.cu; the CUDA
// backend's linear layer) calls its op's check before touching memory, so a wrong shape is an
// error that names the tensors, never an out-of-bounds access, and both backends refuse the same
// shapes with the same words. Returns the geometry the op needs. Part of the vocabulary shared by
// the engine and the kernels (engine/op_params.hpp): includes only the standard library and the
// other vocabulary headers. What only one backend checks (the CPU's label and row indices, read
// from host memory; a kernel's own limits) stays with that backend.
#pragma once

#include <cstdint>

#include "engine/error.hpp"
#include "engine/op_dims.hpp"
#include "engine/op_params.hpp"
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

// x, y: any shape whose element count is a multiple of row's; returns the number of rows.
inline int64_t row_broadcast(const Tensor& x, const Tensor& row, const Tensor& y) {
    TWP_CHECK(row.numel() > 0 && x.numel() % row.numel() == 0,
              "add_row_broadcast: x " << x.shape.str() << " is not a whole number of rows "
                                      << row.shape.str());
    same_size(x, y, "add_row_broadcast");
    return x.numel() / row.numel();
}

// src [B, ...] rows into dst [N, ...] at rows [B]; returns the row size.
inline int64_t scatter_rows(const Tensor& src, const IndexTensor& rows, const Tensor& dst) {
    TWP_CHECK(rows.shape.rank == 1 && src.shape.rank >= 1 && src.dim(0) == rows.dim(0),
              "scatter_rows: " << rows.shape.str() << " rows from " << src.shape.str());
    TWP_CHECK(dst.shape.rank >= 1 && dst.dim(0) > 0, "scatter_rows: no rows in dst " << dst.shape.str());
    const int64_t row_size = dst.numel() / dst.dim(0);
    TWP_CHECK(src.numel() == src.dim(0) * row_size,
              "scatter_rows: source rows " << src.shape.str() << " differ from " << dst.shape.str());
    return row_size;
}

// x [N, D], gamma [D], mean and rstd [N].
inline void layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& mean, const Tensor& rstd) {
    TWP_CHECK(x.shape.rank == 2 && x.dim(1) > 0,
              "layer_norm wants x [N, D] with D > 0, got " << x.shape.str());
    TWP_CHECK_SHAPE(gamma, x.dim(1));
    TWP_CHECK_SHAPE(mean, x.dim(0));
    TWP_CHECK_SHAPE(rstd, x.dim(0));
}

inline void dropout(const DropoutSpec& spec, const char* op) {
    TWP_CHECK(spec.p >= 0.0f && spec.p <= 1.0f, op << ": dropout probability " << spec.p
                                                   << " outside [0, 1]");
}

// qkv [B, S, 3D], probs [B, H, S, S], out [B, S, D], with H dividing D.
inline AttentionDims attention(const Tensor& qkv, int heads, const Tensor& probs, const Tensor& out) {
    TWP_CHECK(qkv.shape.rank == 3 && qkv.dim(2) % 3 == 0 && qkv.dim(2) > 0,
              "attention wants qkv [B, S, 3D], got " << qkv.shape.str());
    const int64_t dim = qkv.dim(2) / 3;
    TWP_CHECK(heads > 0 && dim % heads == 0,
              "attention: " << heads << " heads do not divide the width D = " << dim << " of qkv "
                            << qkv.shape.str());
    TWP_CHECK_SHAPE(probs, qkv.dim(0), heads, qkv.dim(1), qkv.dim(1));
    TWP_CHECK_SHAPE(out, qkv.dim(0), qkv.dim(1), dim);
    return AttentionDims{qkv.dim(0), qkv.dim(1), dim, heads};
}

inline void mse_loss(const Tensor& pred, const Tensor& target, const char* op) {
    TWP_CHECK(pred.shape == target.shape && pred.numel() > 0,
              op << ": pred " << pred.shape.str() << " and target " << target.shape.str()
                 << " must have the same non-empty shape");
}

}  // namespace twp::checks
