// torch.optim.SGD over one flat parameter buffer, exactly the CPU backend's step
// (engine/cpu/sgd.cpp, the formula at SgdConfig in engine/op_params.hpp):
//   d = g + weight_decay * p;  buf = momentum * buf + d;  p = p - learning_rate * buf.
// Plain C++ declarations: includable without any CUDA header.
#pragma once

#include "engine/op_params.hpp"
#include "engine/tensor.hpp"
#include "kernels/stream.hpp"

namespace twp::kernels {

// params, grads, momentum_buffer: [N] each (any shapes of equal size), updated in place; the
// three must not overlap.
void sgd_update(Tensor params, Tensor grads, Tensor momentum_buffer, const SgdConfig& config,
                Stream stream);

}  // namespace twp::kernels
