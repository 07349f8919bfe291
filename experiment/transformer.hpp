// The weight predictor: PyTorch's nn.TransformerEncoder of nn.TransformerEncoderLayer(d_model = D,
// nhead = H, dim_feedforward = F, dropout = p, batch_first = True) — post-norm, ReLU — with the
// reference's sinusoidal positional encoding added to the input and a Linear(D, D) on the last
// position:
//   x = src + pe[:S]
//   per layer:  x = norm1(x + dropout1(out_proj(attention(in_proj(x)))))
//               x = norm2(x + dropout2(linear2(dropout(relu(linear1(x))))))
//   prediction = output_projection(x[:, S - 1])
// Parameters live in one buffer laid out by a {name, shape} table with PyTorch's state_dict names
// (transformer_encoder.layers.<l>.self_attn.in_proj_weight [3D, D], ..., output_projection.bias
// [D]). Written against the Backend interface only.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/backend.hpp"
#include "engine/buffer.hpp"
#include "engine/param_layout.hpp"

namespace twp {

struct TransformerConfig {
    int64_t dim = 0;              // D, the input width (PCA components)
    int heads = 8;                // H, divides D
    int layers = 6;
    int64_t feedforward = 2048;   // F
    float dropout = 0.1f;
    int64_t sequence_length = 3;  // S
};

// nhead as the reference chooses it: 8 if D % 8 == 0, else 5 if D % 5 == 0, else the largest
// divisor of D up to 8.
int reference_heads(int64_t dim);

// The reference's positional encoding, [S, D]: pe[s, 2j] = sin(s w_j), pe[s, 2j+1] = cos(s w_j),
// w_j = exp(-2j ln(10000) / D) (odd D handled as the reference does: the last sine has no cosine).
std::vector<float> positional_encoding(int64_t length, int64_t dim);

class TransformerPredictor {
public:
    static ParamLayout make_layout(const TransformerConfig& config);

    // Activations are sized once for batches of up to max_batch windows.
    TransformerPredictor(Backend& backend, const TransformerConfig& config, int64_t max_batch);

    const TransformerConfig& config() const { return config_; }
    const ParamLayout& layout() const { return layout_; }
    Buffer<float>& parameters() { return parameters_; }
    Buffer<float>& gradients() { return gradients_; }

    // PyTorch's initialization: xavier-uniform packed in-projection with zero biases, zero
    // out-projection bias, default Linear init (uniform +-1/sqrt(fan_in)) elsewhere, LayerNorm 1
    // and 0. nn.TransformerEncoder deep-copies one layer, so every layer starts as layer 0 does.
    // zero_output_head: then output_projection's weight and bias are set to zero (the draws are
    // the same, so every other parameter is as without it), and the model predicts 0 until trained.
    void initialize(uint64_t seed, bool zero_output_head = false);

    // inputs [B, S, D] -> predictions [B, D] (a view into this model's memory). A training pass
    // draws its dropout masks from (dropout_seed, counters from dropout_offset on) and keeps what
    // backward needs; it uses dropout_counters(B) counters.
    Tensor forward(Tensor inputs, Pass pass, uint64_t dropout_seed = 0, uint64_t dropout_offset = 0);
    // After a training forward: dpred [B, D], the loss gradient for the predictions; writes
    // gradients().
    void backward(Tensor dpred);
    uint64_t dropout_counters(int64_t batch) const;

private:
    struct LayerParams {
        Tensor in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias;
        Tensor linear1_weight, linear1_bias, linear2_weight, linear2_bias;
        Tensor norm1_weight, norm1_bias, norm2_weight, norm2_bias;
    };
    LayerParams layer_params(float* base, int layer) const;
    // Per-layer slices of the saved activations for a batch of b windows.
    Tensor rows(const Buffer<float>& buffer, int layer, int64_t b, int64_t width) const;

    Backend& backend_;
    TransformerConfig config_;
    ParamLayout layout_;
    int64_t max_batch_;
    Buffer<float> parameters_, gradients_;
    Buffer<float> pe_;  // [S * D]
    // Saved activations, [L(+1), max_batch * S, width]; xs_[l] is layer l's input, xs_[L] the output.
    Buffer<float> xs_, qkv_, probs_, attn_, r1_, h_, mean1_, rstd1_, f1_, f1d_, r2_, mean2_, rstd2_;
    Buffer<int32_t> last_rows_;  // [max_batch]: b * S + S - 1
    Buffer<float> last_, pred_, scratch_;  // [B, D], [B, D], [B * S, D]
    // Gradients of activations.
    Buffer<float> dx_, dh_, dtmp_, df_, dqkv_, dattn_, dlast_;
    int64_t batch_ = 0;
    bool training_ = false;
    uint64_t dropout_seed_ = 0, dropout_offset_ = 0;
};

}  // namespace twp
