// The CPU reference ops, on raw row-major pointers, templated on the scalar type: float is what
// the CPU backend runs, double is what the finite-difference gradient checks run (the same code
// in double precision). Shapes were checked by the caller (engine/op_checks.hpp). Parallel over
// the batch with OpenMP; results do not depend on the number of threads.
#pragma once

#include <cstdint>

#include "engine/op_dims.hpp"    // Conv2dDims, AttentionDims
#include "engine/op_params.hpp"  // DropoutSpec

namespace twp::cpu {

// The batch's weight gradient is summed in this many fixed chunks of images, then the chunks in
// order: parallel, yet the same bits whatever the thread count.
constexpr int64_t kGradientChunks = 8;

// Elementwise ops over fewer elements than this run on the calling thread: forking a team and
// joining it at the barrier costs microseconds, as much as the work (LeNet-5's fc activations
// are 3,840 values), and more where a core is shared.
constexpr int64_t kParallelElements = 1 << 15;

// Workspace floats (or doubles) conv2d needs for dims.batch images.
int64_t conv2d_workspace_size(const Conv2dDims& dims);

// x [B,Ci,H,W], w [Co,Ci,K,K], b [Co] -> y [B,Co,Ho,Wo] (with ReLU applied when relu). Keeps
// nothing for backward: the workspace is scratch.
template <class T>
void conv2d_forward(const T* x, const T* w, const T* b, T* y, const Conv2dDims& dims, bool relu,
                    T* workspace);

// From the forward's input x again (backward builds its im2col matrices itself); dx may be null.
template <class T>
void conv2d_backward(const T* x, const T* w, const T* dy, T* dx, T* dw, T* db, const Conv2dDims& dims,
                     T* workspace);

// 2x2 max pooling over `planes` = B*C planes of [height, width] (both even).
template <class T>
void maxpool2_forward(const T* x, T* y, int32_t* argmax, int64_t planes, int64_t height,
                      int64_t width);
template <class T>
void maxpool2_backward(const T* dy, const int32_t* argmax, T* dx, int64_t planes, int64_t height,
                       int64_t width);

template <class T>
void relu_forward(const T* x, T* y, int64_t count);
template <class T>
void relu_backward(const T* y, const T* dy, T* dx, int64_t count);

// y [B,Out] = x [B,In] · w^T + b
template <class T>
void linear_forward(const T* x, const T* w, const T* b, T* y, int64_t batch, int64_t in,
                    int64_t out);
// dx (may be null) [B,In], dw [Out,In], db [Out]
template <class T>
void linear_backward(const T* x, const T* w, const T* dy, T* dx, T* dw, T* db, int64_t batch,
                     int64_t in, int64_t out);

template <class T>
void softmax_cross_entropy_forward(const T* logits, const int32_t* labels, T* losses,
                                   int32_t* correct, int64_t batch, int64_t classes);
template <class T>
void softmax_cross_entropy_backward(const T* logits, const int32_t* labels, T* dlogits,
                                    int64_t batch, int64_t classes);

void sgd_update(float* params, const float* grads, float* momentum_buffer, int64_t count,
                float learning_rate, float momentum, float weight_decay);

// ---- the transformer's ops ----
// y = a + b; y may alias a or b.
template <class T>
void add(const T* a, const T* b, T* y, int64_t count);
// y [rows, width] = x [rows, width] + row [width] on every row; y may alias x.
template <class T>
void add_row_broadcast(const T* x, const T* row, T* y, int64_t rows, int64_t width);
// dst[rows[i]] = src[i] for i < count, rows of `width` values; rows were checked to lie inside dst.
// With a repeated index the last one wins.
template <class T>
void scatter_rows(const T* src, const int32_t* rows, T* dst, int64_t count, int64_t width);

// ---- the diffusion forecaster's ops ----
// x[i] = standard_normal(seed, offset + i) (engine/random.hpp) for i < count.
void normal_fill(float* x, int64_t count, uint64_t seed, uint64_t offset);
// t [rows] -> emb [rows, width], width even: sin(t f_i) then cos(t f_i), f_i = 10000^(-i / (width/2)).
template <class T>
void timestep_embedding_forward(const T* t, T* emb, int64_t rows, int64_t width);
// dt [rows] = sum_i demb[r, i] * d emb[r, i] / d t[r].
template <class T>
void timestep_embedding_backward(const T* t, const T* demb, T* dt, int64_t rows, int64_t width);
// out [rows, width] = a[r] x[r] + c[r] y[r]; out may alias x or y.
template <class T>
void row_combine_forward(const T* a, const T* x, const T* c, const T* y, T* out, int64_t rows, int64_t width);
// dx = a dout, dy = c dout, da[r] = dout[r] . x[r], dc[r] = dout[r] . y[r] (sums in double); each may be null.
template <class T>
void row_combine_backward(const T* a, const T* x, const T* c, const T* y, const T* dout, T* dx, T* dy, T* da, T* dc,
                          int64_t rows, int64_t width);

// Layer norm over rows of x [rows, width]: y = (x - mean) * rstd * gamma + beta, mean and rstd
// [rows] saved (sums in double).
template <class T>
void layer_norm_forward(const T* x, const T* gamma, const T* beta, double eps, T* y, T* mean,
                        T* rstd, int64_t rows, int64_t width);
// dx (may be null) [rows, width]; dgamma, dbeta [width] summed over rows in row order.
template <class T>
void layer_norm_backward(const T* x, const T* gamma, const T* mean, const T* rstd, const T* dy,
                         T* dx, T* dgamma, T* dbeta, int64_t rows, int64_t width);

// y[i] = x[i] * (kept ? 1 / (1 - p) : 0) with the mask of DropoutSpec; y may alias x. Dropout is
// linear with a fixed mask, so the same call is its backward (dy -> dx).
template <class T>
void dropout(const T* x, T* y, int64_t count, const DropoutSpec& spec);
// multipliers[i] = the factor dropout applies to the element at counter first_counter + i:
// 1 / (1 - p) where kept, 0 where dropped (1 everywhere when p == 0).
template <class T>
void dropout_multipliers(const DropoutSpec& spec, uint64_t first_counter, int64_t count,
                         T* multipliers);

// qkv [B, S, 3D] -> probs [B, H, S, S] (softmax of the scaled scores, before dropout) and
// out [B, S, D] = dropout(probs) · v, heads side by side.
template <class T>
void attention_forward(const T* qkv, T* probs, T* out, const AttentionDims& dims,
                       const DropoutSpec& dropout);
// dqkv [B, S, 3D] from dout [B, S, D], the probs forward saved and the same dropout.
template <class T>
void attention_backward(const T* qkv, const T* probs, const T* dout, T* dqkv,
                        const AttentionDims& dims, const DropoutSpec& dropout);

// loss[0] = mean((pred - target)^2) over count elements (summed in double, in order).
template <class T>
void mse_loss_forward(const T* pred, const T* target, T* loss, int64_t count);
// dpred = 2 (pred - target) / count
template <class T>
void mse_loss_backward(const T* pred, const T* target, T* dpred, int64_t count);

// torch.optim.Adam's single-tensor step (engine/cpu/adam.cpp), step >= 1.
void adam_update(float* params, const float* grads, float* m, float* v, int64_t count, int64_t step,
                 float learning_rate, float beta1, float beta2, float eps);

}  // namespace twp::cpu
