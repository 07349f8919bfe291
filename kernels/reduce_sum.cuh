// The sum of a tensor's elements into one value: the epoch's loss sum and correct count, summed
// on the device so that only one value crosses to the host. Deterministic: a fixed reduction
// order, the same bits run to run. Plain C++ declarations: includable without any CUDA header.
#pragma once

#include "engine/tensor.hpp"
#include "kernels/stream.hpp"

namespace twp::kernels {

// out [1] = sum of x (any shape), accumulated in double and rounded to float once at the end, as
// the host's std::accumulate(..., 0.0) over the losses.
void sum(Tensor x, Tensor out, Stream stream);
// out [1] = sum of x (any shape), accumulated in 64 bits; the total must fit in int32.
void sum(IndexTensor x, IndexTensor out, Stream stream);

}  // namespace twp::kernels
