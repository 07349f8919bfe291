// fill: every element of a float tensor set to one value (zeroing the momentum buffer, poisoning
// outputs in tests). Plain C++ declarations: includable without any CUDA header.
#pragma once

#include "engine/tensor.hpp"
#include "kernels/stream.hpp"

namespace twp::kernels {

// x (any shape) = value everywhere.
void fill(Tensor x, float value, Stream stream);

}  // namespace twp::kernels
