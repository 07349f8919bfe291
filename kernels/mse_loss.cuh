// Mean squared error over all elements, as the CPU backend's (engine/cpu/mse_loss.cpp) and
// torch.nn.MSELoss(reduction='mean'). Plain C++ declarations: includable without any CUDA header.
#pragma once

#include "engine/tensor.hpp"
#include "kernels/stream.hpp"

namespace twp::kernels {

// loss [1] = mean((pred - target)^2): summed in double in a fixed order (the same bits every run)
// and rounded to float once, as the CPU's sequential double sum; pred and target of the same
// non-empty shape.
void mse_loss_forward(Tensor pred, Tensor target, Tensor loss, Stream stream);
// dpred = (pred - target) * (2 / numel), in the CPU's order of operations: bit for bit the same.
void mse_loss_backward(Tensor pred, Tensor target, Tensor dpred, Stream stream);

}  // namespace twp::kernels
