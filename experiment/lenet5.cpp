// LeNet-5 forward and backward as a sequence of backend ops; see lenet5.hpp for the architecture.
#include "experiment/lenet5.hpp"

#include <cmath>
#include <vector>

#include "engine/random.hpp"

namespace twp {

const ParamLayout& LeNet5::layout() {
    static const ParamLayout table{
        {"conv1.weight", {6, 1, 5, 5}}, {"conv1.bias", {6}},
        {"conv2.weight", {16, 6, 5, 5}}, {"conv2.bias", {16}},
        {"fc1.weight", {120, 400}},      {"fc1.bias", {120}},
        {"fc2.weight", {84, 120}},       {"fc2.bias", {84}},
        {"fc3.weight", {10, 84}},        {"fc3.bias", {10}},
    };
    return table;
}

LeNet5::LeNet5(Backend& backend, int64_t max_batch)
    : backend_(backend), max_batch_(max_batch) {
    TWP_CHECK(max_batch > 0, "LeNet5 needs a positive batch size, got " << max_batch);
    const int64_t b = max_batch;
    parameters_ = Buffer<float>(backend, layout().total());
    gradients_ = Buffer<float>(backend, layout().total());
    conv1_out_ = Buffer<float>(backend, b * 6 * 28 * 28);
    pool1_out_ = Buffer<float>(backend, b * 6 * 14 * 14);
    conv2_out_ = Buffer<float>(backend, b * 16 * 10 * 10);
    pool2_out_ = Buffer<float>(backend, b * 16 * 5 * 5);
    fc1_out_ = Buffer<float>(backend, b * 120);
    fc2_out_ = Buffer<float>(backend, b * 84);
    logits_ = Buffer<float>(backend, b * kClasses);
    pool1_argmax_ = Buffer<int32_t>(backend, pool1_out_.count());
    pool2_argmax_ = Buffer<int32_t>(backend, pool2_out_.count());
    d_conv1_ = Buffer<float>(backend, conv1_out_.count());
    d_pool1_ = Buffer<float>(backend, pool1_out_.count());
    d_conv2_ = Buffer<float>(backend, conv2_out_.count());
    d_pool2_ = Buffer<float>(backend, pool2_out_.count());
    d_fc1_ = Buffer<float>(backend, fc1_out_.count());
    d_fc2_ = Buffer<float>(backend, fc2_out_.count());
    d_logits_ = Buffer<float>(backend, logits_.count());
    conv1_workspace_ = Buffer<float>(
        backend, backend.conv2d_workspace_floats({b, 1, 28, 28}, {6, 1, 5, 5}, 2));
    conv2_workspace_ = Buffer<float>(
        backend, backend.conv2d_workspace_floats({b, 6, 14, 14}, {16, 6, 5, 5}, 0));
}

void LeNet5::initialize(uint64_t seed) {
    Rng rng(seed, RngStream::kInit);
    std::vector<float> host(layout().total());
    // The fan-in of a weight [out, in, ...] is in * prod(kernel); a bias shares its weight's.
    float bound = 0;
    for (const ParamEntry& e : layout().entries()) {
        if (e.shape.rank > 1) bound = 1.0f / std::sqrt(float(e.shape.numel() / e.shape[0]));
        for (int64_t i = 0; i < e.shape.numel(); ++i) host[e.offset + i] = rng.uniform(bound);
    }
    parameters_.upload(host);
}

Tensor LeNet5::forward(Tensor images, Pass pass) {
    TWP_CHECK(images.shape.rank == 4 && images.dim(1) == 1 && images.dim(2) == kImageSize &&
                  images.dim(3) == kImageSize,
              "LeNet5 wants images [B, 1, 28, 28], got " << images.shape.str());
    const int64_t b = images.dim(0);
    TWP_CHECK(b > 0 && b <= max_batch_, "batch of " << b << " images; this model holds 1.."
                                                    << max_batch_);
    batch_ = b;
    training_ = pass == Pass::kTraining;
    Backend& be = backend_;
    const Tensor c1 = conv1_out_.view({b, 6, 28, 28}), p1 = pool1_out_.view({b, 6, 14, 14});
    const Tensor c2 = conv2_out_.view({b, 16, 10, 10}), p2 = pool2_out_.view({b, 16, 5, 5});
    const Tensor f1 = fc1_out_.view({b, 120}), f2 = fc2_out_.view({b, 84});
    const Tensor out = logits_.view({b, kClasses});

    const Activation relu = Activation::kRelu;
    be.conv2d_forward(images, param("conv1.weight"), param("conv1.bias"), c1, 2, relu, pass,
                      conv1_workspace_.view());
    be.maxpool2_forward(c1, p1, pool1_argmax_.view(p1.shape));
    be.conv2d_forward(p1, param("conv2.weight"), param("conv2.bias"), c2, 0, relu, pass,
                      conv2_workspace_.view());
    be.maxpool2_forward(c2, p2, pool2_argmax_.view(p2.shape));
    be.linear_forward(p2.reshaped({b, 400}), param("fc1.weight"), param("fc1.bias"), f1, relu);
    be.linear_forward(f1, param("fc2.weight"), param("fc2.bias"), f2, relu);
    be.linear_forward(f2, param("fc3.weight"), param("fc3.bias"), out, Activation::kNone);
    return out;
}

void LeNet5::loss(IndexTensor labels, Tensor losses, IndexTensor correct) {
    backend_.softmax_cross_entropy_forward(logits_.view({batch_, kClasses}), labels, losses,
                                           correct);
}

void LeNet5::backward(Tensor images, IndexTensor labels) {
    const int64_t b = batch_;
    TWP_CHECK(b > 0 && images.dim(0) == b && training_,
              "backward needs a Pass::kTraining forward on the same batch first");
    Backend& be = backend_;
    const Tensor c1 = conv1_out_.view({b, 6, 28, 28}), p1 = pool1_out_.view({b, 6, 14, 14});
    const Tensor c2 = conv2_out_.view({b, 16, 10, 10}), p2 = pool2_out_.view({b, 16, 5, 5});
    const Tensor f1 = fc1_out_.view({b, 120}), f2 = fc2_out_.view({b, 84});
    const Tensor dc1 = d_conv1_.view(c1.shape), dp1 = d_pool1_.view(p1.shape);
    const Tensor dc2 = d_conv2_.view(c2.shape), dp2 = d_pool2_.view(p2.shape);
    const Tensor df1 = d_fc1_.view(f1.shape), df2 = d_fc2_.view(f2.shape);
    const Tensor dout = d_logits_.view({b, kClasses});

    be.softmax_cross_entropy_backward(logits_.view({b, kClasses}), labels, dout);
    be.linear_backward(f2, param("fc3.weight"), dout, df2, grad("fc3.weight"), grad("fc3.bias"));
    be.relu_backward(f2, df2, df2);
    be.linear_backward(f1, param("fc2.weight"), df2, df1, grad("fc2.weight"), grad("fc2.bias"));
    be.relu_backward(f1, df1, df1);
    be.linear_backward(p2.reshaped({b, 400}), param("fc1.weight"), df1, dp2.reshaped({b, 400}),
                       grad("fc1.weight"), grad("fc1.bias"));
    be.maxpool2_backward(dp2, pool2_argmax_.view(p2.shape), dc2);
    be.relu_backward(c2, dc2, dc2);
    be.conv2d_backward(p1, param("conv2.weight"), dc2, dp1, grad("conv2.weight"),
                       grad("conv2.bias"), 0, conv2_workspace_.view());
    be.maxpool2_backward(dp1, pool1_argmax_.view(p1.shape), dc1);
    be.relu_backward(c1, dc1, dc1);
    // The images need no gradient: dx is left empty.
    be.conv2d_backward(images, param("conv1.weight"), dc1, Tensor{}, grad("conv1.weight"),
                       grad("conv1.bias"), 2, conv1_workspace_.view());
}

}  // namespace twp
