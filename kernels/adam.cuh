// torch.optim.Adam over one flat parameter buffer, exactly the CPU backend's step
// (engine/cpu/adam.cpp, the formula at AdamConfig in engine/op_params.hpp): the bias corrections
// in double on the host, then per element, in float and in this order,
//   m = m * b1 + (1 - b1) * g;  v = v * b2 + ((1 - b2) * g) * g;
//   denom = sqrt(v) / sqrt(1 - b2^step) + eps;  p = p + (-step_size * m) / denom.
// Bit for bit the CPU's. Plain C++ declarations: includable without any CUDA header.
#pragma once

#include <cstdint>

#include "engine/op_params.hpp"
#include "engine/tensor.hpp"
#include "kernels/stream.hpp"

namespace twp::kernels {

// params, grads, m, v: [N] each (any shapes of equal size), params, m and v updated in place; the
// four must not overlap. step counts from 1.
void adam_update(Tensor params, Tensor grads, Tensor m, Tensor v, int64_t step,
                 const AdamConfig& config, Stream stream);

}  // namespace twp::kernels
