// 2x2 max pooling, stride 2, as the CPU backend's (engine/cpu/maxpool2.cpp): each output keeps
// the position 0..3 (row-major inside its window) of the first maximum, as PyTorch; a NaN wins so
// that it propagates. Plain C++ declarations: includable without any CUDA header.
#pragma once

#include "engine/tensor.hpp"
#include "kernels/stream.hpp"

namespace twp::kernels {

// x [B, C, H, W] (H, W even) -> y, argmax [B, C, H/2, W/2].
void maxpool2_forward(Tensor x, Tensor y, IndexTensor argmax, Stream stream);
// dx [B, C, H, W] = dy routed to each window's argmax position, zero elsewhere (written, not
// accumulated).
void maxpool2_backward(Tensor dy, IndexTensor argmax, Tensor dx, Stream stream);

}  // namespace twp::kernels
