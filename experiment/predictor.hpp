// Inference with a trained weight predictor: windows in PCA space -> the next snapshot in PCA
// space, through the model space (standardization) and the target ("next": the model outputs the
// next snapshot, as the reference; "delta": it outputs next - last, scaled back to PCA space and
// added to the last input there, so that a zero delta is the last snapshot exactly).
#pragma once

#include <cstdint>
#include <vector>

#include "engine/backend.hpp"
#include "engine/buffer.hpp"
#include "experiment/feature_space.hpp"
#include "experiment/transformer.hpp"

namespace twp {

class Predictor {
public:
    // Windows go through the model in batches of up to this many (the activations' size).
    static constexpr int64_t kDefaultBatch = 64;

    Predictor(Backend& backend, const TransformerConfig& config, const std::vector<float>& parameters,
              bool delta_target, const FeatureSpace& space, int64_t batch = kDefaultBatch);
    // windows [count, S, D] in PCA space -> next snapshots [count, D] in PCA space.
    std::vector<float> predict(const std::vector<float>& windows, int64_t count);
    const TransformerConfig& config() const { return model_.config(); }
    Backend& backend() const { return backend_; }

private:
    Backend& backend_;
    int64_t batch_;
    TransformerPredictor model_;
    Buffer<float> inputs_;
    bool delta_target_;
    const FeatureSpace& space_;
};

}  // namespace twp
