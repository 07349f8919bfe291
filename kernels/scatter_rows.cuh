// scatter_rows, the transpose of gather_rows (kernels/gather.cuh): dst[rows[i]] = src[i], whole
// rows; the rows of dst not named are untouched. As the CPU backend's (engine/cpu/scatter_rows.cpp)
// for distinct indices, which is how the transformer calls it (the last position of each window
// goes back to its own row). Plain C++ declarations: includable without any CUDA header.
#pragma once

#include "engine/tensor.hpp"
#include "kernels/stream.hpp"

namespace twp::kernels {

// src [B, ...], rows [B], dst [N, ...] (the same row size). The indices live on the device and are
// not read by the host: an index outside 0..N-1 writes nothing (where the CPU backend throws), and
// with a repeated index one of the rows wins, which one is unspecified (the CPU keeps the last).
void scatter_rows(Tensor src, IndexTensor rows, Tensor dst, Stream stream);

}  // namespace twp::kernels
