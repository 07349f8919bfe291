// The transformer predictor's forward and backward as a sequence of backend ops; see
// transformer.hpp for the architecture.
#include "experiment/transformer.hpp"

#include <cmath>
#include <string>

#include "engine/random.hpp"

namespace twp {
namespace {

constexpr float kLayerNormEps = 1e-5f;  // nn.TransformerEncoderLayer's layer_norm_eps

std::string layer_prefix(int layer) {
    return "transformer_encoder.layers." + std::to_string(layer) + ".";
}

}  // namespace

int reference_heads(int64_t dim) {
    if (dim % 8 == 0) return 8;
    if (dim % 5 == 0) return 5;
    for (int h = 8; h > 1; --h)
        if (dim % h == 0) return h;
    return 1;
}

std::vector<float> positional_encoding(int64_t length, int64_t dim) {
    std::vector<float> pe(length * dim, 0.0f);
    // As the reference computes it in float: div_term = exp(arange(0, D, 2) * (-ln(10000) / D)).
    const float scale = -std::log(10000.0f) / float(dim);
    for (int64_t s = 0; s < length; ++s)
        for (int64_t j = 0; 2 * j < dim; ++j) {
            const float angle = float(s) * std::exp(float(2 * j) * scale);
            pe[s * dim + 2 * j] = std::sin(angle);
            if (2 * j + 1 < dim) pe[s * dim + 2 * j + 1] = std::cos(angle);
        }
    return pe;
}

ParamLayout TransformerPredictor::make_layout(const TransformerConfig& c) {
    TWP_CHECK(c.dim > 0 && c.heads > 0 && c.dim % c.heads == 0,
              "the transformer width " << c.dim << " must be a positive multiple of nhead " << c.heads);
    TWP_CHECK(c.layers > 0 && c.feedforward > 0 && c.sequence_length > 0,
              "the transformer needs layers, a feed-forward width and a sequence length above 0");
    TWP_CHECK(c.dropout >= 0 && c.dropout < 1, "dropout must lie in [0, 1), got " << c.dropout);
    const int64_t d = c.dim, f = c.feedforward;
    ParamLayout layout;
    for (int l = 0; l < c.layers; ++l) {
        const std::string p = layer_prefix(l);
        layout.add(p + "self_attn.in_proj_weight", {3 * d, d});
        layout.add(p + "self_attn.in_proj_bias", {3 * d});
        layout.add(p + "self_attn.out_proj.weight", {d, d});
        layout.add(p + "self_attn.out_proj.bias", {d});
        layout.add(p + "linear1.weight", {f, d});
        layout.add(p + "linear1.bias", {f});
        layout.add(p + "linear2.weight", {d, f});
        layout.add(p + "linear2.bias", {d});
        layout.add(p + "norm1.weight", {d});
        layout.add(p + "norm1.bias", {d});
        layout.add(p + "norm2.weight", {d});
        layout.add(p + "norm2.bias", {d});
    }
    layout.add("output_projection.weight", {d, d});
    layout.add("output_projection.bias", {d});
    return layout;
}

TransformerPredictor::TransformerPredictor(Backend& backend, const TransformerConfig& config,
                                           int64_t max_batch)
    : backend_(backend), config_(config), layout_(make_layout(config)), max_batch_(max_batch) {
    TWP_CHECK(max_batch > 0, "the transformer needs a positive batch size, got " << max_batch);
    const int64_t l = config.layers, n = max_batch * config.sequence_length, d = config.dim,
                  f = config.feedforward, s = config.sequence_length;
    parameters_ = Buffer<float>(backend, layout_.total());
    gradients_ = Buffer<float>(backend, layout_.total());
    pe_ = Buffer<float>(backend, s * d);
    pe_.upload(positional_encoding(s, d));
    xs_ = Buffer<float>(backend, (l + 1) * n * d);
    qkv_ = Buffer<float>(backend, l * n * 3 * d);
    probs_ = Buffer<float>(backend, l * max_batch * config.heads * s * s);
    attn_ = Buffer<float>(backend, l * n * d);
    r1_ = Buffer<float>(backend, l * n * d);
    h_ = Buffer<float>(backend, l * n * d);
    r2_ = Buffer<float>(backend, l * n * d);
    mean1_ = Buffer<float>(backend, l * n);
    rstd1_ = Buffer<float>(backend, l * n);
    mean2_ = Buffer<float>(backend, l * n);
    rstd2_ = Buffer<float>(backend, l * n);
    f1_ = Buffer<float>(backend, l * n * f);
    f1d_ = Buffer<float>(backend, l * n * f);
    last_rows_ = Buffer<int32_t>(backend, max_batch);
    std::vector<int32_t> rows(max_batch);
    for (int64_t b = 0; b < max_batch; ++b) rows[b] = int32_t(b * s + s - 1);
    last_rows_.upload(rows);
    last_ = Buffer<float>(backend, max_batch * d);
    pred_ = Buffer<float>(backend, max_batch * d);
    scratch_ = Buffer<float>(backend, n * d);
    dx_ = Buffer<float>(backend, n * d);
    dh_ = Buffer<float>(backend, n * d);
    dtmp_ = Buffer<float>(backend, n * d);
    df_ = Buffer<float>(backend, n * f);
    dqkv_ = Buffer<float>(backend, n * 3 * d);
    dattn_ = Buffer<float>(backend, n * d);
    dlast_ = Buffer<float>(backend, max_batch * d);
}

TransformerPredictor::LayerParams TransformerPredictor::layer_params(float* base, int layer) const {
    const std::string p = layer_prefix(layer);
    const auto v = [&](const std::string& name) { return layout_.view(base, p + name); };
    return {v("self_attn.in_proj_weight"), v("self_attn.in_proj_bias"),
            v("self_attn.out_proj.weight"), v("self_attn.out_proj.bias"),
            v("linear1.weight"), v("linear1.bias"), v("linear2.weight"), v("linear2.bias"),
            v("norm1.weight"), v("norm1.bias"), v("norm2.weight"), v("norm2.bias")};
}

Tensor TransformerPredictor::rows(const Buffer<float>& buffer, int layer, int64_t b,
                                  int64_t width) const {
    // Layer slices are laid out for max_batch, so a smaller batch uses the front of each slice.
    const int64_t slice = max_batch_ * config_.sequence_length * width;
    return Tensor{buffer.data() + layer * slice, {b * config_.sequence_length, width}};
}

void TransformerPredictor::initialize(uint64_t seed, bool zero_output_head) {
    Rng rng(seed, RngStream::kInit);
    std::vector<float> host(layout_.total(), 0.0f);
    const int64_t d = config_.dim;
    const auto fill_uniform = [&](const std::string& name, float bound) {
        const ParamEntry& e = layout_.at(name);
        for (int64_t i = 0; i < e.shape.numel(); ++i) host[e.offset + i] = rng.uniform(bound);
    };
    const auto fill_value = [&](const std::string& name, float value) {
        const ParamEntry& e = layout_.at(name);
        std::fill(host.begin() + e.offset, host.begin() + e.offset + e.shape.numel(), value);
    };
    // Layer 0 in PyTorch's construction order, then copied into the other layers.
    const std::string p = layer_prefix(0);
    fill_uniform(p + "self_attn.in_proj_weight", std::sqrt(6.0f / float(d + 3 * d)));  // xavier
    fill_value(p + "self_attn.in_proj_bias", 0.0f);
    fill_uniform(p + "self_attn.out_proj.weight", 1.0f / std::sqrt(float(d)));
    fill_value(p + "self_attn.out_proj.bias", 0.0f);
    fill_uniform(p + "linear1.weight", 1.0f / std::sqrt(float(d)));
    fill_uniform(p + "linear1.bias", 1.0f / std::sqrt(float(d)));
    fill_uniform(p + "linear2.weight", 1.0f / std::sqrt(float(config_.feedforward)));
    fill_uniform(p + "linear2.bias", 1.0f / std::sqrt(float(config_.feedforward)));
    fill_value(p + "norm1.weight", 1.0f);
    fill_value(p + "norm1.bias", 0.0f);
    fill_value(p + "norm2.weight", 1.0f);
    fill_value(p + "norm2.bias", 0.0f);
    const int64_t layer_size = layout_.at(layer_prefix(1 % config_.layers) + "self_attn.in_proj_weight").offset;
    for (int l = 1; l < config_.layers; ++l)
        std::copy(host.begin(), host.begin() + layer_size, host.begin() + l * layer_size);
    fill_uniform("output_projection.weight", 1.0f / std::sqrt(float(d)));
    fill_uniform("output_projection.bias", 1.0f / std::sqrt(float(d)));
    if (zero_output_head) {
        fill_value("output_projection.weight", 0.0f);
        fill_value("output_projection.bias", 0.0f);
    }
    parameters_.upload(host);
}

uint64_t TransformerPredictor::dropout_counters(int64_t batch) const {
    const int64_t n = batch * config_.sequence_length, s = config_.sequence_length;
    return uint64_t(config_.layers) *
           uint64_t(batch * config_.heads * s * s + 2 * n * config_.dim + n * config_.feedforward);
}

Tensor TransformerPredictor::forward(Tensor inputs, Pass pass, uint64_t dropout_seed,
                                     uint64_t dropout_offset) {
    const int64_t s = config_.sequence_length, d = config_.dim, f = config_.feedforward;
    TWP_CHECK(inputs.shape.rank == 3 && inputs.dim(1) == s && inputs.dim(2) == d,
              "the predictor takes windows [B, " << s << ", " << d << "], got " << inputs.shape.str());
    const int64_t b = inputs.dim(0), n = b * s;
    TWP_CHECK(b > 0 && b <= max_batch_, "batch of " << b << " windows; this model holds 1.." << max_batch_);
    batch_ = b;
    training_ = pass == Pass::kTraining;
    dropout_seed_ = dropout_seed;
    dropout_offset_ = dropout_offset;
    const float p = training_ ? config_.dropout : 0.0f;
    Backend& be = backend_;
    float* params = parameters_.data();

    be.add_row_broadcast(inputs.reshaped({b, s * d}), pe_.view(), rows(xs_, 0, b, d).reshaped({b, s * d}));
    uint64_t counter = dropout_offset;
    const auto next_dropout = [&](int64_t count) {
        const DropoutSpec spec{p, dropout_seed, counter};
        counter += uint64_t(count);
        return spec;
    };
    for (int l = 0; l < config_.layers; ++l) {
        const LayerParams w = layer_params(params, l);
        const Tensor x = rows(xs_, l, b, d), qkv = rows(qkv_, l, b, 3 * d), attn = rows(attn_, l, b, d);
        const Tensor r1 = rows(r1_, l, b, d), h = rows(h_, l, b, d), r2 = rows(r2_, l, b, d);
        const Tensor f1 = rows(f1_, l, b, f), f1d = rows(f1d_, l, b, f);
        const Tensor probs{probs_.data() + l * max_batch_ * config_.heads * s * s, {b, config_.heads, s, s}};
        const Tensor a = scratch_.view({n, d});
        be.linear_forward(x, w.in_proj_weight, w.in_proj_bias, qkv, Activation::kNone);
        be.attention_forward(qkv.reshaped({b, s, 3 * d}), config_.heads, next_dropout(probs.numel()),
                             probs, attn.reshaped({b, s, d}));
        be.linear_forward(attn, w.out_proj_weight, w.out_proj_bias, a, Activation::kNone);
        be.dropout_forward(a, a, next_dropout(n * d));
        be.add(x, a, r1);
        be.layer_norm_forward(r1, w.norm1_weight, w.norm1_bias, kLayerNormEps, h,
                              Tensor{mean1_.data() + l * max_batch_ * s, {n}},
                              Tensor{rstd1_.data() + l * max_batch_ * s, {n}});
        be.linear_forward(h, w.linear1_weight, w.linear1_bias, f1, Activation::kRelu);
        be.dropout_forward(f1, f1d, next_dropout(n * f));
        be.linear_forward(f1d, w.linear2_weight, w.linear2_bias, a, Activation::kNone);
        be.dropout_forward(a, a, next_dropout(n * d));
        be.add(h, a, r2);
        be.layer_norm_forward(r2, w.norm2_weight, w.norm2_bias, kLayerNormEps, rows(xs_, l + 1, b, d),
                              Tensor{mean2_.data() + l * max_batch_ * s, {n}},
                              Tensor{rstd2_.data() + l * max_batch_ * s, {n}});
    }
    const Tensor last = last_.view({b, d}), pred = pred_.view({b, d});
    be.gather_rows(rows(xs_, config_.layers, b, d), last_rows_.view({b}), last);
    be.linear_forward(last, layout_.view(params, "output_projection.weight"),
                      layout_.view(params, "output_projection.bias"), pred, Activation::kNone);
    return pred;
}

void TransformerPredictor::backward(Tensor dpred) {
    const int64_t b = batch_, s = config_.sequence_length, d = config_.dim, f = config_.feedforward, n = b * s;
    TWP_CHECK(training_ && b > 0, "backward needs a Pass::kTraining forward first");
    TWP_CHECK(dpred.shape == Shape({b, d}), "dpred " << dpred.shape.str() << " does not match the last forward's [" << b << ", " << d << "]");
    Backend& be = backend_;
    float* params = parameters_.data();
    float* grads = gradients_.data();
    const float p = config_.dropout;
    // The same masks as the forward: the counters are replayed in the same order.
    std::vector<DropoutSpec> specs;
    uint64_t counter = dropout_offset_;
    for (int l = 0; l < config_.layers; ++l)
        for (int64_t count : {b * config_.heads * s * s, n * d, n * f, n * d}) {
            specs.push_back({p, dropout_seed_, counter});
            counter += uint64_t(count);
        }

    const Tensor last = last_.view({b, d}), dlast = dlast_.view({b, d});
    be.linear_backward(last, layout_.view(params, "output_projection.weight"), dpred, dlast,
                       layout_.view(grads, "output_projection.weight"),
                       layout_.view(grads, "output_projection.bias"));
    const Tensor dx = dx_.view({n, d}), dh = dh_.view({n, d}), dtmp = dtmp_.view({n, d});
    const Tensor df = df_.view({n, f}), dqkv = dqkv_.view({n, 3 * d}), dattn = dattn_.view({n, d});
    be.fill(dx, 0.0f);
    be.scatter_rows(dlast, last_rows_.view({b}), dx);
    for (int l = config_.layers - 1; l >= 0; --l) {
        const LayerParams w = layer_params(params, l), g = layer_params(grads, l);
        const DropoutSpec* spec = &specs[4 * l];  // attention, dropout1, feed-forward, dropout2
        const Tensor x = rows(xs_, l, b, d), qkv = rows(qkv_, l, b, 3 * d), attn = rows(attn_, l, b, d);
        const Tensor r1 = rows(r1_, l, b, d), h = rows(h_, l, b, d), r2 = rows(r2_, l, b, d);
        const Tensor f1 = rows(f1_, l, b, f), f1d = rows(f1d_, l, b, f);
        const Tensor probs{probs_.data() + l * max_batch_ * config_.heads * s * s, {b, config_.heads, s, s}};
        const Tensor mean1{mean1_.data() + l * max_batch_ * s, {n}}, rstd1{rstd1_.data() + l * max_batch_ * s, {n}};
        const Tensor mean2{mean2_.data() + l * max_batch_ * s, {n}}, rstd2{rstd2_.data() + l * max_batch_ * s, {n}};

        // x_next = norm2(r2), r2 = h + dropout2(linear2(dropout(relu(linear1(h))))).
        be.layer_norm_backward(r2, w.norm2_weight, mean2, rstd2, dx, dh, g.norm2_weight, g.norm2_bias);
        be.dropout_backward(dh, dtmp, spec[3]);
        be.linear_backward(f1d, w.linear2_weight, dtmp, df, g.linear2_weight, g.linear2_bias);
        be.dropout_backward(df, df, spec[2]);
        be.relu_backward(f1, df, df);
        be.linear_backward(h, w.linear1_weight, df, dtmp, g.linear1_weight, g.linear1_bias);
        be.add(dh, dtmp, dh);
        // h = norm1(r1), r1 = x + dropout1(out_proj(attention(in_proj(x)))).
        be.layer_norm_backward(r1, w.norm1_weight, mean1, rstd1, dh, dx, g.norm1_weight, g.norm1_bias);
        be.dropout_backward(dx, dtmp, spec[1]);
        be.linear_backward(attn, w.out_proj_weight, dtmp, dattn, g.out_proj_weight, g.out_proj_bias);
        be.attention_backward(qkv.reshaped({b, s, 3 * d}), config_.heads, spec[0], probs,
                              dattn.reshaped({b, s, d}), dqkv.reshaped({b, s, 3 * d}));
        be.linear_backward(x, w.in_proj_weight, dqkv, dtmp, g.in_proj_weight, g.in_proj_bias);
        be.add(dx, dtmp, dx);
    }
}

}  // namespace twp
