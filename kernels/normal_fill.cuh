// normal_fill: standard normal noise from the counter-based generator, the diffusion forecaster's
// noise (experiment/diffusion_forecaster.cpp). Plain C++ declarations: includable without any
// CUDA header.
#pragma once

#include <cstdint>

#include "engine/tensor.hpp"
#include "kernels/stream.hpp"

namespace twp::kernels {

// x (any shape): x[i] = standard_normal(seed, offset + i) (engine/random.hpp), the function the
// CPU backend calls; the values agree with the CPU's to the few ulps of the GPU's logf/sqrtf/cosf.
void normal_fill(Tensor x, uint64_t seed, uint64_t offset, Stream stream);

}  // namespace twp::kernels
