// Elementwise additions, as the CPU backend's (engine/cpu/add.cpp): the transformer's residual
// connections (y = a + b) and a row added to every row of a matrix (the positional encoding).
// Exact: one float addition per element, the same as the CPU's. Plain C++ declarations.
#pragma once

#include "engine/tensor.hpp"
#include "kernels/stream.hpp"

namespace twp::kernels {

// y = a + b; a, b, y of the same size (any shapes); y may alias a or b.
void add(Tensor a, Tensor b, Tensor y, Stream stream);
// y[r] = x[r] + row for every row r: x, y of the same size, a whole number of rows of
// row.numel() values (any shapes); y may alias x.
void add_row_broadcast(Tensor x, Tensor row, Tensor y, Stream stream);

}  // namespace twp::kernels
