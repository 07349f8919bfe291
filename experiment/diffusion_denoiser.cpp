// The diffusion forecaster's denoiser on the Backend interface; see diffusion_denoiser.hpp.
#include "experiment/diffusion_denoiser.hpp"

#include <cmath>
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "experiment/linear_init.hpp"

namespace twp {

ParamLayout DiffusionDenoiser::make_layout(const DenoiserShape& s) {
    TWP_CHECK(s.dim >= 1 && s.condition >= 1 && s.hidden >= 1 && s.embedding >= 2 && s.embedding % 2 == 0,
              "a denoiser of width " << s.dim << ", condition " << s.condition << ", embedding " << s.embedding
                                     << " (even) and hidden " << s.hidden);
    return ParamLayout{{"in_x.weight", {s.hidden, s.dim}},          {"in_x.bias", {s.hidden}},
                       {"in_cond.weight", {s.hidden, s.condition}}, {"in_cond.bias", {s.hidden}},
                       {"in_time.weight", {s.hidden, s.embedding}}, {"in_time.bias", {s.hidden}},
                       {"fc2.weight", {s.hidden, s.hidden}},        {"fc2.bias", {s.hidden}},
                       {"out.weight", {s.dim, s.hidden}},           {"out.bias", {s.dim}}};
}

DiffusionDenoiser::DiffusionDenoiser(Backend& backend, const DenoiserShape& shape, int64_t max_batch)
    : backend_(backend), shape_(shape), max_batch_(max_batch), layout_(make_layout(shape)),
      parameters_(backend, layout_.total()), gradients_(backend, layout_.total()),
      embedding_(backend, max_batch * shape.embedding), hidden1_(backend, max_batch * shape.hidden),
      hidden2_(backend, max_batch * shape.hidden), part_(backend, max_batch * shape.hidden),
      output_(backend, max_batch * shape.dim), correction_(backend, max_batch * shape.dim), ones_(backend, max_batch),
      d_hidden1_(backend, max_batch * shape.hidden),
      d_hidden2_(backend, max_batch * shape.hidden) {
    TWP_CHECK(max_batch >= 1, "a denoiser needs a positive batch size, got " << max_batch);
    backend.fill(ones_.view(), 1.0f);
}

void DiffusionDenoiser::initialize(uint64_t seed) {
    parameters_.upload(linear_default_parameters(layout_, {"in_x", "in_cond", "in_time", "fc2"}, seed));
}

Tensor DiffusionDenoiser::forward(Tensor x, Tensor cond, Tensor t, Tensor skip) {
    const int64_t b = x.shape.rank == 2 ? x.dim(0) : -1;
    TWP_CHECK(b >= 1 && b <= max_batch_ && x.shape == Shape({b, shape_.dim}) && cond.shape == Shape({b, shape_.condition}) &&
                  t.shape == Shape({b}) && skip.shape == Shape({b}),
              "the denoiser takes x [B, " << shape_.dim << "], cond [B, " << shape_.condition << "] t [B] and skip [B], 1 <= B <= "
                                          << max_batch_ << "; got " << x.shape.str() << ", " << cond.shape.str()
                                          << ", " << t.shape.str() << " and " << skip.shape.str());
    batch_ = b;
    const int64_t h = shape_.hidden;
    const Tensor emb = embedding_.view({b, shape_.embedding}), h1 = hidden1_.view({b, h}), h2 = hidden2_.view({b, h}),
                 part = part_.view({b, h}), eps = output_.view({b, shape_.dim});
    backend_.timestep_embedding_forward(t, emb);
    backend_.linear_forward(x, param("in_x.weight"), param("in_x.bias"), h1, Activation::kNone);
    backend_.linear_forward(cond, param("in_cond.weight"), param("in_cond.bias"), part, Activation::kNone);
    backend_.add(h1, part, h1);
    backend_.linear_forward(emb, param("in_time.weight"), param("in_time.bias"), part, Activation::kNone);
    backend_.add(h1, part, h1);
    backend_.relu_forward(h1, h1);
    backend_.linear_forward(h1, param("fc2.weight"), param("fc2.bias"), h2, Activation::kRelu);
    const Tensor correction = correction_.view({b, shape_.dim});
    backend_.linear_forward(h2, param("out.weight"), param("out.bias"), correction, Activation::kNone);
    backend_.row_combine_forward(skip, x, ones_.view({b}), correction, eps);
    return eps;
}

void DiffusionDenoiser::backward(Tensor x, Tensor cond, Tensor deps) {
    const int64_t b = batch_, h = shape_.hidden;
    TWP_CHECK(b >= 1 && x.shape == Shape({b, shape_.dim}) && cond.shape == Shape({b, shape_.condition}) &&
                  deps.shape == Shape({b, shape_.dim}),
              "denoiser backward of x " << x.shape.str() << ", cond " << cond.shape.str() << " and deps "
                                        << deps.shape.str() << " after a forward of " << b << " rows");
    const Tensor emb = embedding_.view({b, shape_.embedding}), h1 = hidden1_.view({b, h}), h2 = hidden2_.view({b, h});
    const Tensor dh1 = d_hidden1_.view({b, h}), dh2 = d_hidden2_.view({b, h});
    backend_.linear_backward(h2, param("out.weight"), deps, dh2, grad("out.weight"), grad("out.bias"));
    backend_.relu_backward(h2, dh2, dh2);
    backend_.linear_backward(h1, param("fc2.weight"), dh2, dh1, grad("fc2.weight"), grad("fc2.bias"));
    backend_.relu_backward(h1, dh1, dh1);
    backend_.linear_backward(x, param("in_x.weight"), dh1, Tensor{}, grad("in_x.weight"), grad("in_x.bias"));
    backend_.linear_backward(cond, param("in_cond.weight"), dh1, Tensor{}, grad("in_cond.weight"), grad("in_cond.bias"));
    backend_.linear_backward(emb, param("in_time.weight"), dh1, Tensor{}, grad("in_time.weight"), grad("in_time.bias"));
}

}  // namespace twp
