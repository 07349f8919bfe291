// The per-weight MLP on the Backend interface; see per_weight_mlp.hpp.
#include "experiment/per_weight_mlp.hpp"

#include <cmath>
#include <vector>

#include "engine/error.hpp"
#include "experiment/linear_init.hpp"

namespace twp {

ParamLayout PerWeightMlp::make_layout(int64_t inputs, int64_t hidden) {
    TWP_CHECK(inputs >= 1 && hidden >= 1, "a per-weight MLP of " << inputs << " inputs and " << hidden << " hidden units");
    return ParamLayout{{"fc1.weight", {hidden, inputs}}, {"fc1.bias", {hidden}},
                       {"fc2.weight", {hidden, hidden}}, {"fc2.bias", {hidden}},
                       {"out.weight", {1, hidden}},      {"out.bias", {1}}};
}

PerWeightMlp::PerWeightMlp(Backend& backend, int64_t inputs, int64_t hidden, int64_t max_batch)
    : backend_(backend), inputs_(inputs), hidden_(hidden), max_batch_(max_batch), layout_(make_layout(inputs, hidden)),
      parameters_(backend, layout_.total()), gradients_(backend, layout_.total()),
      hidden1_(backend, max_batch * hidden), hidden2_(backend, max_batch * hidden), output_(backend, max_batch),
      d_hidden1_(backend, max_batch * hidden), d_hidden2_(backend, max_batch * hidden) {
    TWP_CHECK(max_batch >= 1, "a per-weight MLP needs a positive batch size, got " << max_batch);
}

void PerWeightMlp::initialize(uint64_t seed) {
    parameters_.upload(linear_default_parameters(layout_, {"fc1", "fc2"}, seed));
}

Tensor PerWeightMlp::forward(Tensor x) {
    TWP_CHECK(x.shape.rank == 2 && x.dim(1) == inputs_,
              "the per-weight MLP takes rows of " << inputs_ << " features, got " << x.shape.str());
    const int64_t b = x.dim(0);
    TWP_CHECK(b >= 1 && b <= max_batch_, "a batch of " << b << " rows; this per-weight MLP holds 1.." << max_batch_);
    batch_ = b;
    const Tensor h1 = hidden1_.view({b, hidden_}), h2 = hidden2_.view({b, hidden_}), y = output_.view({b, 1});
    backend_.linear_forward(x, param("fc1.weight"), param("fc1.bias"), h1, Activation::kRelu);
    backend_.linear_forward(h1, param("fc2.weight"), param("fc2.bias"), h2, Activation::kRelu);
    backend_.linear_forward(h2, param("out.weight"), param("out.bias"), y, Activation::kNone);
    return y;
}

void PerWeightMlp::backward(Tensor x, Tensor dy) {
    const int64_t b = batch_;
    TWP_CHECK(b >= 1 && x.shape == Shape({b, inputs_}) && dy.shape == Shape({b, 1}),
              "per-weight MLP backward of x " << x.shape.str() << " and dy " << dy.shape.str()
                                              << " after a forward of " << b << " rows");
    const Tensor h1 = hidden1_.view({b, hidden_}), h2 = hidden2_.view({b, hidden_});
    const Tensor dh1 = d_hidden1_.view({b, hidden_}), dh2 = d_hidden2_.view({b, hidden_});
    backend_.linear_backward(h2, param("out.weight"), dy, dh2, grad("out.weight"), grad("out.bias"));
    backend_.relu_backward(h2, dh2, dh2);
    backend_.linear_backward(h1, param("fc2.weight"), dh2, dh1, grad("fc2.weight"), grad("fc2.bias"));
    backend_.relu_backward(h1, dh1, dh1);
    backend_.linear_backward(x, param("fc1.weight"), dh1, Tensor{}, grad("fc1.weight"), grad("fc1.bias"));
}

}  // namespace twp
