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

// ---- building blocks ----

inline void same_size(const Tensor& a, const Tensor& b, const char* op) {
    TWP_CHECK(a.numel() == b.numel(),
              op << ": sizes differ, " << a.shape.str() << " vs " << b.shape.str());
}

inline void workspace(const Tensor& workspace, int64_t needed, const char* op) {
    TWP_CHECK(workspace.numel() >= needed,
              op << " workspace holds " << workspace.numel() << " floats, needs " << needed);
}

inline void dropout(const DropoutSpec& spec, const char* op) {
    TWP_CHECK(spec.p >= 0.0f && spec.p <= 1.0f, op << ": dropout probability " << spec.p
                                                   << " outside [0, 1]");
}

// ---- data ----

// src [N, ...] rows at rows [B] into dst [B, ...]; returns the row size (dst's elements per row).
// An empty batch (B = 0) or empty rows are not an error.
inline int64_t gather_rows(const Tensor& src, const IndexTensor& rows, const Tensor& dst) {
    TWP_CHECK(rows.shape.rank == 1 && dst.shape.rank >= 1 && dst.dim(0) == rows.dim(0),
              "gather_rows: " << rows.shape.str() << " rows into " << dst.shape.str());
    int64_t row_size = 1;  // the product of dst's trailing dimensions, defined when B = 0 too
    for (int i = 1; i < dst.shape.rank; ++i) row_size *= dst.dim(i);
    TWP_CHECK(src.shape.rank >= 1 && src.numel() == src.dim(0) * row_size,
              "gather_rows: source rows " << src.shape.str() << " differ from " << dst.shape.str());
    return row_size;
}

// labels at rows [B] into dst [B].
inline void gather_labels(const IndexTensor& rows, const IndexTensor& dst) {
    TWP_CHECK(rows.shape == dst.shape, "gather_labels: " << rows.shape.str() << " vs "
                                                         << dst.shape.str());
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

// ---- conv2d ----

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

// x [B,Ci,H,W], w [Co,Ci,K,K], b [Co], y [B,Co,Ho,Wo] (the forward; the backward passes db and dy).
inline Conv2dDims conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& y,
                         int padding) {
    Conv2dDims d = conv2d(x.shape, w.shape, padding);
    TWP_CHECK_SHAPE(b, d.out_channels);
    TWP_CHECK_SHAPE(y, d.batch, d.out_channels, d.out_height(), d.out_width());
    return d;
}

// As the forward, with dw like w and dx (optional: empty) like x.
inline Conv2dDims conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& dy,
                                  const Tensor& dx, const Tensor& dw, const Tensor& db,
                                  int padding) {
    const Conv2dDims d = conv2d(x, w, db, dy, padding);
    TWP_CHECK(dw.shape == w.shape, "conv2d dw " << dw.shape.str() << " vs w " << w.shape.str());
    if (!dx.empty())
        TWP_CHECK(dx.shape == x.shape, "conv2d dx " << dx.shape.str() << " vs x " << x.shape.str());
    return d;
}

// ---- pooling, activations, elementwise ----

inline void maxpool2(const Tensor& x, const Tensor& y, const IndexTensor& argmax) {
    TWP_CHECK(x.shape.rank == 4 && x.dim(2) % 2 == 0 && x.dim(3) % 2 == 0,
              "maxpool2 wants [B,C,H,W] with even H and W, got " << x.shape.str());
    TWP_CHECK_SHAPE(y, x.dim(0), x.dim(1), x.dim(2) / 2, x.dim(3) / 2);
    TWP_CHECK(argmax.shape == y.shape, "maxpool2 argmax " << argmax.shape.str()
                                                          << " differs from output " << y.shape.str());
}

inline void relu_backward(const Tensor& y, const Tensor& dy, const Tensor& dx) {
    same_size(y, dy, "relu_backward");
    same_size(y, dx, "relu_backward");
}

// y = a + b, all of one size.
inline void add(const Tensor& a, const Tensor& b, const Tensor& y) {
    same_size(a, b, "add");
    same_size(a, y, "add");
}

// x, y: any shape whose element count is a multiple of row's; returns the number of rows.
inline int64_t row_broadcast(const Tensor& x, const Tensor& row, const Tensor& y) {
    TWP_CHECK(row.numel() > 0 && x.numel() % row.numel() == 0,
              "add_row_broadcast: x " << x.shape.str() << " is not a whole number of rows "
                                      << row.shape.str());
    same_size(x, y, "add_row_broadcast");
    return x.numel() / row.numel();
}

// y = dropout(x): x and y of one size, p in [0, 1] (op: "dropout_forward" or "dropout_backward").
inline void dropout(const Tensor& x, const Tensor& y, const DropoutSpec& spec, const char* op) {
    same_size(x, y, op);
    dropout(spec, op);
}

// ---- diffusion ----

// t [B] -> emb [B, E], E even and > 0 (op: "timestep_embedding_forward" or "..._backward").
inline void timestep_embedding(const Tensor& t, const Tensor& emb, const char* op) {
    TWP_CHECK(t.shape.rank == 1 && emb.shape.rank == 2 && emb.dim(0) == t.dim(0),
              op << " wants t [B] and emb [B, E], got " << t.shape.str() << " and " << emb.shape.str());
    TWP_CHECK(emb.dim(1) > 0 && emb.dim(1) % 2 == 0, op << ": the embedding width " << emb.dim(1) << " is not even");
}

// a, c [B]; x, y, out [B, ...] of one size; returns the row size (op: "row_combine_forward" or
// "row_combine_backward", which passes dout as out).
inline int64_t row_combine(const Tensor& a, const Tensor& x, const Tensor& c, const Tensor& y, const Tensor& out,
                           const char* op) {
    TWP_CHECK(x.shape.rank >= 1 && a.shape == Shape({x.dim(0)}) && c.shape == a.shape,
              op << " wants a [B] and c [B] for x [B, ...], got " << a.shape.str() << ", " << c.shape.str() << " and "
                 << x.shape.str());
    TWP_CHECK(y.shape == x.shape && out.shape == x.shape,
              op << ": x " << x.shape.str() << ", y " << y.shape.str() << " and out " << out.shape.str() << " differ");
    return x.dim(0) ? x.numel() / x.dim(0) : 0;
}

// The optional gradients of row_combine_backward: dx, dy like x, da, dc like a (or empty).
inline void row_combine_gradients(const Tensor& a, const Tensor& x, const Tensor& dx, const Tensor& dy,
                                  const Tensor& da, const Tensor& dc) {
    for (const Tensor* g : {&dx, &dy})
        TWP_CHECK(g->empty() || g->shape == x.shape,
                  "row_combine_backward: a gradient " << g->shape.str() << " is not shaped as x " << x.shape.str());
    for (const Tensor* g : {&da, &dc})
        TWP_CHECK(g->empty() || g->shape == a.shape,
                  "row_combine_backward: a gradient " << g->shape.str() << " is not shaped as a " << a.shape.str());
}

// ---- linear ----

// x [B,In], w [Out,In], b [Out], y [B,Out] (the forward; the backward passes db and dy).
inline void linear(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& y) {
    TWP_CHECK(x.shape.rank == 2 && w.shape.rank == 2 && w.dim(1) == x.dim(1),
              "linear wants x [B,In] and w [Out,In], got " << x.shape.str() << " and "
                                                           << w.shape.str());
    TWP_CHECK_SHAPE(b, w.dim(0));
    TWP_CHECK_SHAPE(y, x.dim(0), w.dim(0));
}

// As the forward, with dw like w and dx (optional: empty) like x.
inline void linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy, const Tensor& dx,
                            const Tensor& dw, const Tensor& db) {
    linear(x, w, db, dy);
    TWP_CHECK(dw.shape == w.shape, "linear dw " << dw.shape.str() << " vs w " << w.shape.str());
    if (!dx.empty())
        TWP_CHECK(dx.shape == x.shape, "linear dx " << dx.shape.str() << " vs x " << x.shape.str());
}

// ---- softmax cross-entropy ----

inline void classification(const Tensor& logits, const IndexTensor& labels) {
    TWP_CHECK(logits.shape.rank == 2, "logits must be [B,K], got " << logits.shape.str());
    TWP_CHECK(labels.shape == Shape({logits.dim(0)}),
              "labels " << labels.shape.str() << " do not match logits " << logits.shape.str());
}

// logits [B,K], labels [B], losses [B], correct [B].
inline void softmax_cross_entropy_forward(const Tensor& logits, const IndexTensor& labels,
                                          const Tensor& losses, const IndexTensor& correct) {
    classification(logits, labels);
    TWP_CHECK(losses.shape == labels.shape && correct.shape == labels.shape,
              "losses " << losses.shape.str() << " / correct " << correct.shape.str()
                        << " must be shaped like labels " << labels.shape.str());
}

// logits [B,K], labels [B], dlogits [B,K].
inline void softmax_cross_entropy_backward(const Tensor& logits, const IndexTensor& labels,
                                           const Tensor& dlogits) {
    classification(logits, labels);
    TWP_CHECK(dlogits.shape == logits.shape, "dlogits " << dlogits.shape.str() << " vs logits "
                                                        << logits.shape.str());
}

// ---- layer norm ----

// x [N, D], gamma [D], mean and rstd [N].
inline void layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& mean, const Tensor& rstd) {
    TWP_CHECK(x.shape.rank == 2 && x.dim(1) > 0,
              "layer_norm wants x [N, D] with D > 0, got " << x.shape.str());
    TWP_CHECK_SHAPE(gamma, x.dim(1));
    TWP_CHECK_SHAPE(mean, x.dim(0));
    TWP_CHECK_SHAPE(rstd, x.dim(0));
}

// As layer_norm, with beta like gamma, y like x and eps >= 0.
inline void layer_norm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps,
                               const Tensor& y, const Tensor& mean, const Tensor& rstd) {
    layer_norm(x, gamma, mean, rstd);
    TWP_CHECK(beta.shape == gamma.shape && y.shape == x.shape,
              "layer_norm_forward: beta " << beta.shape.str() << " / y " << y.shape.str()
                                          << " must be shaped like gamma / x");
    TWP_CHECK(eps >= 0.0f, "layer_norm_forward: eps " << eps << " is negative");
}

// As layer_norm, with dy and dx (optional: empty) like x, dgamma and dbeta like gamma.
inline void layer_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean,
                                const Tensor& rstd, const Tensor& dy, const Tensor& dx,
                                const Tensor& dgamma, const Tensor& dbeta) {
    layer_norm(x, gamma, mean, rstd);
    TWP_CHECK(dy.shape == x.shape && (dx.empty() || dx.shape == x.shape),
              "layer_norm_backward: dy " << dy.shape.str() << " / dx " << dx.shape.str()
                                         << " must be shaped like x " << x.shape.str());
    TWP_CHECK(dgamma.shape == gamma.shape && dbeta.shape == gamma.shape,
              "layer_norm_backward: dgamma " << dgamma.shape.str() << " / dbeta "
                                             << dbeta.shape.str() << " must be shaped like gamma "
                                             << gamma.shape.str());
}

// ---- attention ----

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

// As attention, and dropout's p in [0, 1].
inline AttentionDims attention_forward(const Tensor& qkv, int heads, const DropoutSpec& dropout_spec,
                                       const Tensor& probs, const Tensor& out) {
    const AttentionDims d = attention(qkv, heads, probs, out);
    dropout(dropout_spec, "attention_forward");
    return d;
}

// As attention (dout shaped like out), with dqkv like qkv and dropout's p in [0, 1].
inline AttentionDims attention_backward(const Tensor& qkv, int heads,
                                        const DropoutSpec& dropout_spec, const Tensor& probs,
                                        const Tensor& dout, const Tensor& dqkv) {
    const AttentionDims d = attention(qkv, heads, probs, dout);
    TWP_CHECK(dqkv.shape == qkv.shape, "attention_backward: dqkv " << dqkv.shape.str()
                                                                   << " vs qkv " << qkv.shape.str());
    dropout(dropout_spec, "attention_backward");
    return d;
}

// ---- losses ----

inline void mse_loss(const Tensor& pred, const Tensor& target, const char* op) {
    TWP_CHECK(pred.shape == target.shape && pred.numel() > 0,
              op << ": pred " << pred.shape.str() << " and target " << target.shape.str()
                 << " must have the same non-empty shape");
}

// pred and target of one non-empty shape, loss [1].
inline void mse_loss_forward(const Tensor& pred, const Tensor& target, const Tensor& loss) {
    mse_loss(pred, target, "mse_loss_forward");
    TWP_CHECK_SHAPE(loss, 1);
}

// pred, target and dpred of one non-empty shape.
inline void mse_loss_backward(const Tensor& pred, const Tensor& target, const Tensor& dpred) {
    mse_loss(pred, target, "mse_loss_backward");
    TWP_CHECK(dpred.shape == pred.shape, "mse_loss_backward: dpred " << dpred.shape.str()
                                                                     << " vs pred " << pred.shape.str());
}

// ---- optimizers, over one flat parameter buffer ----

// params, grads, momentum_buffer of one size.
inline void sgd_update(const Tensor& params, const Tensor& grads, const Tensor& momentum_buffer) {
    same_size(params, grads, "sgd_update");
    same_size(params, momentum_buffer, "sgd_update");
}

// params, grads, m, v of one size; step counts from 1.
inline void adam_update(const Tensor& params, const Tensor& grads, const Tensor& m, const Tensor& v,
                        int64_t step) {
    same_size(params, grads, "adam_update");
    same_size(params, m, "adam_update");
    same_size(params, v, "adam_update");
    TWP_CHECK(step >= 1, "adam_update: step " << step << " (steps count from 1)");
}

}  // namespace twp::checks
