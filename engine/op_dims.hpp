// The geometry of the ops whose shapes need more than a size: a convolution's and attention's.
// engine/op_checks.hpp computes them from the tensors' shapes (after checking those); every
// backend's op, the CPU reference (engine/cpu/) and the CUDA kernels (kernels/), then works from
// them. Part of the vocabulary shared by the engine and the kernels (engine/op_params.hpp): only
// the standard library.
#pragma once

#include <cstdint>

namespace twp {

// Geometry of a stride-1, zero-padded 2D convolution; shared by every backend's conv.
struct Conv2dDims {
    int64_t batch = 0, in_channels = 0, height = 0, width = 0;
    int64_t out_channels = 0, kernel = 0, padding = 0;

    int64_t out_height() const { return height + 2 * padding - kernel + 1; }
    int64_t out_width() const { return width + 2 * padding - kernel + 1; }
    int64_t pixels() const { return out_height() * out_width(); }           // P
    int64_t patch() const { return in_channels * kernel * kernel; }         // Kd
};

// Geometry of multi-head self-attention over qkv [B, S, 3D]; shared by every backend's attention.
struct AttentionDims {
    int64_t batch = 0, seq = 0, dim = 0, heads = 0;  // B, S, D (the model width), H

    int64_t head_dim() const { return dim / heads; }  // Dh
};

}  // namespace twp
