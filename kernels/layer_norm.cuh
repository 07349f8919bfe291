// Layer norm over the last dimension, as the CPU backend's (engine/cpu/layer_norm.cpp) and
// torch.nn.LayerNorm: per row of x [N, D], mean and biased variance, rstd = 1 / sqrt(var + eps),
// y = (x - mean) * rstd * gamma + beta. Statistics and per-element arithmetic in double, as the CPU
// op, so both backends agree to float rounding. Deterministic: fixed reduction orders, no atomics.
// Plain C++ declarations: includable without any CUDA header.
#pragma once

#include "engine/tensor.hpp"
#include "kernels/stream.hpp"

namespace twp::kernels {

// x, y [N, D]; gamma, beta [D]; mean, rstd [N] written for backward. y may alias x.
void layer_norm_forward(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor y, Tensor mean,
                        Tensor rstd, Stream stream);
// dx [N, D] (optional: an empty view skips it); dgamma, dbeta [D] summed over the rows, written
// (not accumulated). mean and rstd are what the forward saved.
void layer_norm_backward(Tensor x, Tensor gamma, Tensor mean, Tensor rstd, Tensor dy, Tensor dx,
                         Tensor dgamma, Tensor dbeta, Stream stream);

}  // namespace twp::kernels
