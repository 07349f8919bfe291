// The sinusoidal timestep embedding of the diffusion forecaster's denoiser, forward and backward,
// as the CPU backend's (engine/cpu/timestep_embedding.cpp). Plain C++ declarations: includable
// without any CUDA header.
#pragma once

#include "engine/tensor.hpp"
#include "kernels/stream.hpp"

namespace twp::kernels {

// t [B] -> emb [B, E], E even: sin(t f_i) then cos(t f_i), f_i = 10000^(-i / (E/2)).
void timestep_embedding_forward(Tensor t, Tensor emb, Stream stream);
// dt [B] = sum_i demb[b, i] d emb[b, i] / d t_b.
void timestep_embedding_backward(Tensor t, Tensor demb, Tensor dt, Stream stream);

}  // namespace twp::kernels
