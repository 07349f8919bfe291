// The core of multi-head self-attention (Backend::attention_forward / attention_backward,
// engine/backend.hpp; DropoutSpec in engine/op_params.hpp), fused: one thread block per (batch
// item, head) computes the head's scores, softmax, dropout and output (forward), or its dq, dk,
// dv (backward), keeping the S x S matrices in shared memory. The same formulas, in double, as the CPU backend (engine/cpu/attention.cpp),
// with the dropout multipliers drawn by the CPU's Philox functions (engine/random.hpp), so both
// backends agree to about one float rounding and draw identical masks. Deterministic: fixed
// reduction orders, no atomics. Plain C++ declarations: includable without any CUDA header.
//
// Limits: the sequence length S (qkv's second dimension) is 1..kAttentionMaxSeq; the head width
// Dh = D / heads is any positive size (it is streamed through shared memory in tiles).
#pragma once

#include "engine/op_params.hpp"
#include "engine/tensor.hpp"
#include "kernels/stream.hpp"

namespace twp::kernels {

inline constexpr int kAttentionMaxSeq = 32;

// qkv [B, S, 3D] (q, k, v side by side; head h uses columns h*Dh .. (h+1)*Dh - 1 of each);
// probs [B, heads, S, S] = softmax(q k^T / sqrt(Dh)) written (before dropout), for backward;
// out [B, S, D] = dropout(probs) v, heads side by side. The dropout element index is the linear
// index into probs (counter dropout.offset + that index).
void attention_forward(Tensor qkv, int heads, const DropoutSpec& dropout, Tensor probs, Tensor out,
                       Stream stream);
// dqkv [B, S, 3D] (dq, dk, dv side by side, written, not accumulated) from dout [B, S, D], the
// probs the forward saved and the same dropout. dqkv must not overlap qkv.
void attention_backward(Tensor qkv, int heads, const DropoutSpec& dropout, Tensor probs, Tensor dout,
                        Tensor dqkv, Stream stream);

}  // namespace twp::kernels
