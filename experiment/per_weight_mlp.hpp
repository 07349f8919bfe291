// The per-weight forecaster's model (experiment/per_weight_forecaster.cpp): one small MLP that
// every weight shares, in the style of WNN / NiNo. Rows are (window, weight) samples:
//   x [B, F] -> fc1 [H, F] -> ReLU -> fc2 [H, H] -> ReLU -> out [1, H] -> y [B, 1].
// Its parameters live in one buffer laid out by one {name, shape} table; the gradients share the
// layout, so Adam is one backend.adam_update over the whole buffer. Activations are sized once for
// batches of up to max_batch rows. Written against the Backend interface only, so it runs on the
// CPU and the CUDA backend alike.
#pragma once

#include <cstdint>

#include "engine/backend.hpp"
#include "engine/buffer.hpp"
#include "engine/param_layout.hpp"

namespace twp {

class PerWeightMlp {
public:
    // fc1.weight [H, F], fc1.bias [H], fc2.weight [H, H], fc2.bias [H], out.weight [1, H], out.bias [1].
    static ParamLayout make_layout(int64_t inputs, int64_t hidden);

    PerWeightMlp(Backend& backend, int64_t inputs, int64_t hidden, int64_t max_batch);

    int64_t inputs() const { return inputs_; }
    int64_t hidden() const { return hidden_; }
    int64_t max_batch() const { return max_batch_; }
    const ParamLayout& layout() const { return layout_; }
    Buffer<float>& parameters() { return parameters_; }  // [layout().total()]
    Buffer<float>& gradients() { return gradients_; }    // same layout

    // The hidden layers as PyTorch's default (uniform in +-1/sqrt(fan_in), weights and biases,
    // from the seed's init stream in table order); the output layer zero, so that the untrained
    // model outputs 0 for every row.
    void initialize(uint64_t seed);

    // x [B, F], 1 <= B <= max_batch -> y [B, 1] (a view into this model's activations).
    Tensor forward(Tensor x);
    // After forward on the same x: writes the gradient of a loss whose gradient by y is dy [B, 1]
    // into gradients().
    void backward(Tensor x, Tensor dy);

private:
    Tensor param(const char* name) { return layout_.view(parameters_.data(), name); }
    Tensor grad(const char* name) { return layout_.view(gradients_.data(), name); }

    Backend& backend_;
    const int64_t inputs_, hidden_, max_batch_;
    const ParamLayout layout_;
    Buffer<float> parameters_, gradients_;
    Buffer<float> hidden1_, hidden2_, output_;  // [max_batch, H], [max_batch, H], [max_batch, 1]
    Buffer<float> d_hidden1_, d_hidden2_;       // their gradients, [max_batch, H]
    int64_t batch_ = 0;                         // of the last forward
};

}  // namespace twp
