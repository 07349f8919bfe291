// ReLU forward and backward, elementwise, as the CPU backend's (engine/cpu/relu.cpp): forward
// keeps NaN (as torch.relu does), backward passes dy where the output y is positive.
// Plain C++ declarations: includable without any CUDA header.
#pragma once

#include "engine/tensor.hpp"
#include "kernels/stream.hpp"

namespace twp::kernels {

// y = max(x, 0) (NaN kept); x, y of the same size; y may alias x.
void relu_forward(Tensor x, Tensor y, Stream stream);
// dx = y > 0 ? dy : 0; y, dy, dx of the same size; dx may alias dy.
void relu_backward(Tensor y, Tensor dy, Tensor dx, Stream stream);

}  // namespace twp::kernels
