// The diffusion forecaster's denoiser (experiment/diffusion_forecaster.hpp): an MLP that reads a
// noised next delta x_t [B, D], the window it is conditioned on cond [B, C] and the timestep t [B],
// and estimates the noise eps [B, D] that was added:
//   h1 = ReLU(in_x x_t + in_cond cond + in_time emb(t))   (three linear maps, each with its bias)
//   h2 = ReLU(fc2 h1),   eps = skip x_t + out h2,   skip = sqrt(1 - alpha_bar(t)) [B]
// emb(t) [B, E] is the sinusoidal timestep embedding (Backend::timestep_embedding_forward). The
// skip term is the exact noise estimate for targets drawn from N(0, I) (E[eps | x_t] =
// sqrt(1 - alpha_bar) x_t there), so the untrained model (its output layer zero) samples a unit
// Gaussian step and the network learns the correction to it: with a few dozen train windows the
// early-stopped model stays near that prior instead of near an untrained "no noise" estimate,
// which the sampler would turn into steps a hundred times too large (x_0 = x_t / sqrt(alpha_bar)). The
// three input maps are one linear layer over the concatenation [x_t, cond, emb] written as a sum,
// which needs no concatenation op. Its parameters live in one buffer laid out by one {name, shape}
// table; the gradients share the layout, so Adam is one adam_update. Activations are sized once for
// up to max_batch rows. Backend ops only: it runs on the CPU and the CUDA backend alike.
#pragma once

#include <cstdint>

#include "engine/backend.hpp"
#include "engine/buffer.hpp"
#include "engine/param_layout.hpp"

namespace twp {

struct DenoiserShape {
    int64_t dim = 0;        // D: the delta's width
    int64_t condition = 0;  // C: the conditioning vector's width
    int64_t embedding = 64; // E: the timestep embedding's width (even)
    int64_t hidden = 256;   // H
};

class DiffusionDenoiser {
public:
    // in_x.weight [H, D], in_x.bias [H], in_cond.weight [H, C], in_cond.bias [H], in_time.weight [H, E],
    // in_time.bias [H], fc2.weight [H, H], fc2.bias [H], out.weight [D, H], out.bias [D].
    static ParamLayout make_layout(const DenoiserShape& shape);

    DiffusionDenoiser(Backend& backend, const DenoiserShape& shape, int64_t max_batch);

    const DenoiserShape& shape() const { return shape_; }
    int64_t max_batch() const { return max_batch_; }
    const ParamLayout& layout() const { return layout_; }
    Buffer<float>& parameters() { return parameters_; }  // [layout().total()]
    Buffer<float>& gradients() { return gradients_; }    // same layout

    // Every layer as PyTorch's nn.Linear default (uniform in +-1/sqrt(fan_in), weights and biases,
    // from the seed's init stream in table order), but the output layer zero: the untrained model
    // estimates no noise.
    void initialize(uint64_t seed);

    // x [B, D], cond [B, C], t [B] (timesteps as floats), skip [B] (sqrt(1 - alpha_bar(t))),
    // 1 <= B <= max_batch -> eps [B, D] (a view into this model's activations).
    Tensor forward(Tensor x, Tensor cond, Tensor t, Tensor skip);
    // After forward on the same inputs: the gradient of a loss whose gradient by eps is deps [B, D]
    // into gradients() (the inputs get none).
    void backward(Tensor x, Tensor cond, Tensor deps);

private:
    Tensor param(const char* name) { return layout_.view(parameters_.data(), name); }
    Tensor grad(const char* name) { return layout_.view(gradients_.data(), name); }

    Backend& backend_;
    const DenoiserShape shape_;
    const int64_t max_batch_;
    const ParamLayout layout_;
    Buffer<float> parameters_, gradients_;
    Buffer<float> embedding_;                // [max_batch, E]
    Buffer<float> hidden1_, hidden2_, part_;  // [max_batch, H] each (part_: one input map's term)
    Buffer<float> output_, correction_;      // [max_batch, D]: eps, the network's term
    Buffer<float> ones_;                     // [max_batch], 1 everywhere
    Buffer<float> d_hidden1_, d_hidden2_;    // [max_batch, H]
    int64_t batch_ = 0;                      // of the last forward
};

}  // namespace twp
