// conv2d for LeNet-5's small planes: stride 1, zero padding p on every side, square kernels, as the
// CPU backend's (engine/cpu/conv2d.cpp). Made for images of at most a few thousand floats (LeNet-5:
// [1, 28, 28] and [6, 14, 14]), staged whole in shared memory; the launchers refuse shapes whose
// staging would not fit in 48 KiB. Plain C++ declarations: includable without any CUDA header.
#pragma once

#include <cstdint>

#include "engine/op_params.hpp"
#include "engine/tensor.hpp"
#include "kernels/stream.hpp"

namespace twp::kernels {

// y [B, Co, Ho, Wo] = activation(conv(x [B, Ci, H, W], w [Co, Ci, K, K]) + b [Co]),
// Ho = H + 2p - K + 1, Wo likewise. The ReLU keeps NaN, as relu_forward does.
void conv2d_forward(Tensor x, Tensor w, Tensor b, Tensor y, int padding, Activation activation,
                    Stream stream);

// Floats of workspace conv2d_backward needs for x's batch: the per-chunk partial sums of the
// weight and bias gradients.
int64_t conv2d_backward_workspace_floats(Shape x, Shape w, int padding);

// From x, w and dy [B, Co, Ho, Wo]: dx [B, Ci, H, W] (optional: skipped when dx.empty()),
// dw [Co, Ci, K, K] and db [Co] summed over the batch (written, not accumulated). The batch is
// summed in fixed chunks and the chunks in order: the same bits run to run, no atomics.
void conv2d_backward(Tensor x, Tensor w, Tensor dy, Tensor dx, Tensor dw, Tensor db, int padding,
                     Tensor workspace, Stream stream);

}  // namespace twp::kernels
