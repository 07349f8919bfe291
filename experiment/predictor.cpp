// Inference with a trained predictor; see predictor.hpp.
#include "experiment/predictor.hpp"

#include <algorithm>

#include "engine/error.hpp"

namespace twp {

Predictor::Predictor(Backend& backend, const TransformerConfig& config, const std::vector<float>& parameters,
                     bool delta_target, const FeatureSpace& space, int64_t batch)
    : backend_(backend), batch_(batch), model_(backend, config, batch),
      inputs_(backend, batch * config.sequence_length * config.dim), delta_target_(delta_target), space_(space) {
    TWP_CHECK(batch >= 1, "predictor inference needs a batch of at least 1, got " << batch);
    TWP_CHECK(int64_t(parameters.size()) == model_.layout().total(),
              "predictor parameters: " << parameters.size() << " values, the model has " << model_.layout().total());
    model_.parameters().upload(parameters);
}

std::vector<float> Predictor::predict(const std::vector<float>& windows, int64_t count) {
    const int64_t s = config().sequence_length, d = config().dim;
    TWP_CHECK(int64_t(windows.size()) == count * s * d, "predict: windows hold " << windows.size()
                                                                                 << " values, expected " << count * s * d);
    std::vector<float> model_inputs = windows;
    space_.to_model(model_inputs.data(), count * s);
    std::vector<float> out(count * d);
    std::vector<float> host(batch_ * d);
    for (int64_t first = 0; first < count; first += batch_) {
        const int64_t b = std::min(batch_, count - first);
        inputs_.upload(model_inputs.data() + first * s * d, b * s * d);
        const Tensor pred = model_.forward(inputs_.view({b, s, d}), Pass::kInference);
        backend_.copy_to_host(host.data(), pred.data, sizeof(float) * b * d);
        for (int64_t i = 0; i < b; ++i)
            for (int64_t j = 0; j < d; ++j) {
                // A delta is added in PCA space (scaled back from the model space), so that a
                // zero delta gives the last snapshot exactly.
                const float last = windows[((first + i) * s + s - 1) * d + j];
                const float value = host[i * d + j];
                out[(first + i) * d + j] =
                    !delta_target_ ? value : last + (space_.standardize ? value * space_.scale[j] : value);
            }
    }
    if (!delta_target_) space_.from_model(out.data(), count);
    return out;
}

}  // namespace twp
