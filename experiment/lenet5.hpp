// LeNet-5 as the reference PyTorch project defines it:
//   conv1(1->6, k5, pad 2) -> ReLU -> maxpool2 -> conv2(6->16, k5) -> ReLU -> maxpool2
//   -> fc1(400->120) -> ReLU -> fc2(120->84) -> ReLU -> fc3(84->10)
// on 1x28x28 images. Its 61,706 parameters live in one buffer in PyTorch state_dict order and
// layouts, so a snapshot is a copy of that buffer. Written against the Backend interface only.
#pragma once

#include <cstdint>

#include "engine/backend.hpp"
#include "engine/buffer.hpp"
#include "engine/param_layout.hpp"

namespace twp {

class LeNet5 {
public:
    static constexpr int64_t kImageSize = 28;
    static constexpr int64_t kClasses = 10;
    static constexpr int64_t kParameterCount = 61706;

    static const ParamLayout& layout();

    // Activations and workspaces are sized once for batches of up to max_batch images.
    LeNet5(Backend& backend, int64_t max_batch);

    int64_t max_batch() const { return max_batch_; }
    Buffer<float>& parameters() { return parameters_; }  // [61706], state_dict order
    Buffer<float>& gradients() { return gradients_; }    // same layout

    // PyTorch's default initialization: every weight and bias uniform in +-1/sqrt(fan_in), drawn
    // from the seed's init stream in state_dict order.
    void initialize(uint64_t seed);

    // images [B, 1, 28, 28] -> logits [B, 10] (a view into this model's activations).
    // Pass::kInference when no backward follows (evaluation): it keeps less and runs faster.
    Tensor forward(Tensor images, Pass pass = Pass::kTraining);
    // After forward on the same images: writes the gradient of the batch-mean cross-entropy into
    // gradients().
    void backward(Tensor images, IndexTensor labels);
    // Per-sample loss and hit for the logits of the last forward.
    void loss(IndexTensor labels, Tensor losses, IndexTensor correct);

private:
    Tensor param(const char* name) { return layout().view(parameters_.data(), name); }
    Tensor grad(const char* name) { return layout().view(gradients_.data(), name); }

    Backend& backend_;
    int64_t max_batch_;
    Buffer<float> parameters_, gradients_;
    // Activations, [max_batch, ...]; the ReLUs run in place on their producer's output.
    Buffer<float> conv1_out_, pool1_out_, conv2_out_, pool2_out_, fc1_out_, fc2_out_, logits_;
    Buffer<int32_t> pool1_argmax_, pool2_argmax_;
    // Gradients of the activations, same shapes.
    Buffer<float> d_conv1_, d_pool1_, d_conv2_, d_pool2_, d_fc1_, d_fc2_, d_logits_;
    Buffer<float> conv1_workspace_, conv2_workspace_;
    int64_t batch_ = 0;      // of the last forward
    bool training_ = false;  // whether the last forward kept what backward needs
};

}  // namespace twp
