// Dropout with the counter-based mask of DropoutSpec (engine/op_params.hpp): element i is kept iff
// dropout_keep(seed, offset + i, p) (engine/random.hpp), kept values scaled by 1 / (1 - p), dropped
// ones multiplied by 0 (so NaN stays NaN, as on the CPU). The kernel calls the same generator
// functions as the CPU backend (engine/cpu/dropout.cpp), so both draw identical masks; nothing is
// stored, and backward redraws the mask. Plain C++ declarations: includable without a CUDA header.
#pragma once

#include "engine/op_params.hpp"
#include "engine/tensor.hpp"
#include "kernels/stream.hpp"

namespace twp::kernels {

// y = dropout(x) with spec's mask; x, y of the same size; y may alias x (not overlap otherwise).
// p == 0 is the identity (a copy, or nothing when y is x).
void dropout_forward(Tensor x, Tensor y, const DropoutSpec& spec, Stream stream);
// dx = dy through the same mask and scale (dropout is linear); dx may alias dy.
void dropout_backward(Tensor dy, Tensor dx, const DropoutSpec& spec, Stream stream);

}  // namespace twp::kernels
