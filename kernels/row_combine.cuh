// row_combine: out[b] = a[b] x[b] + c[b] y[b] row by row, forward and backward, as the CPU
// backend's (engine/cpu/row_combine.cpp): the diffusion forecaster's noising and DDIM steps.
// Plain C++ declarations: includable without any CUDA header.
#pragma once

#include "engine/tensor.hpp"
#include "kernels/stream.hpp"

namespace twp::kernels {

// a, c [B]; x, y, out [B, ...] of one size; out may alias x or y.
void row_combine_forward(Tensor a, Tensor x, Tensor c, Tensor y, Tensor out, Stream stream);
// dx = a dout, dy = c dout, da[b] = dout[b] . x[b], dc[b] = dout[b] . y[b]; each optional (empty).
void row_combine_backward(Tensor a, Tensor x, Tensor c, Tensor y, Tensor dout, Tensor dx, Tensor dy, Tensor da,
                          Tensor dc, Stream stream);

}  // namespace twp::kernels
