// The linear layers' bias, around the GEMM cuBLAS does: bias_activation adds the bias to the GEMM's
// output (with an optional fused ReLU), bias_gradient sums the output gradient over the rows.
// Results equal the CPU backend's linear layer (engine/cpu/linear.cpp) up to summation order.
// Plain C++ declarations: includable without any CUDA header.
#pragma once

#include "engine/op_params.hpp"
#include "engine/tensor.hpp"
#include "kernels/stream.hpp"

namespace twp::kernels {

// y [R, C] (any shape whose element count is a multiple of C = b.numel()), in place:
// y[r, c] = activation(y[r, c] + b[c]); the ReLU keeps NaN as relu_forward does.
void bias_activation(Tensor y, Tensor b, Activation activation, Stream stream);

// db [C] = sum over r of dy [R, C] (written, not accumulated). Deterministic: every column is
// summed in the same fixed order on every run.
void bias_gradient(Tensor dy, Tensor db, Stream stream);

}  // namespace twp::kernels
