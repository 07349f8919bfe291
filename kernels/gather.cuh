// Gathering a batch from data already on the device (the epoch's shuffled order picks the rows):
// gather_rows for the images, gather_labels for their labels. Plain C++ declarations: includable
// without any CUDA header.
#pragma once

#include "engine/tensor.hpp"
#include "kernels/stream.hpp"

namespace twp::kernels {

// dst[i] = src[rows[i]] for whole rows: src [N, ...], rows [B], dst [B, ...] with rows of the same
// size. rows live in device memory, so the launcher cannot check their range: a row index outside
// 0..N-1 fills dst[i] with NaN (visible, never an out-of-bounds read).
void gather_rows(Tensor src, IndexTensor rows, Tensor dst, Stream stream);
// dst[i] = src[rows[i]]: src [N], rows and dst [B]. A row outside 0..N-1 gives the label -1, which
// softmax_cross_entropy turns into a NaN loss.
void gather_labels(IndexTensor src, IndexTensor rows, IndexTensor dst, Stream stream);

}  // namespace twp::kernels
