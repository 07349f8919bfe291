// The transformer as a forecaster: the experiment's predictor. Made from a --model_path it is
// fitted already; otherwise fit() trains it (experiment/predictor_training.hpp) with the
// configuration's settings, checkpointing into the experiment's models/ folder and continuing an
// interrupted training with --resume, and then saves predictor_best.safetensors (the lowest test
// MSE, the one evaluated, as the reference) and predictor_last.safetensors there.
#pragma once

#include <optional>
#include <string>

#include "experiment/forecaster.hpp"
#include "experiment/predictor.hpp"
#include "experiment/predictor_file.hpp"
#include "experiment/predictor_training.hpp"

namespace twp {

// The transformer's shape from the command line, for inputs of width `dim`; UsageError for an
// nhead that does not divide it or a width above --max_width.
TransformerConfig model_config(const Config& config, int64_t dim);

class TransformerForecaster final : public Forecaster {
public:
    explicit TransformerForecaster(const ForecasterContext& context);

    const ForecasterNames& names() const override;
    ForecasterRole role() const override { return ForecasterRole::kLearned; }
    int64_t min_history() const override { return config_.sequence_length; }
    void fit(const PredictorData& data) override;
    std::vector<float> predict(const std::vector<History>& histories, int64_t width) override;

    // What the results report about the predictor.
    const TransformerConfig& config() const { return config_; }
    bool delta_target() const { return delta_target_; }
    const std::optional<PredictorHistory>& history() const { return history_; }  // when fit() trained it
    const std::string& model_path() const { return model_path_; }                // the file evaluated

private:
    Backend& backend_;
    const Config& command_;  // the command line: the training settings
    const FeatureSpace& space_;
    std::filesystem::path experiment_dir_;
    bool resume_;
    TransformerConfig config_;
    bool delta_target_ = false;
    std::vector<float> parameters_;  // empty until fitted
    std::optional<PredictorHistory> history_;
    std::string model_path_;
    std::optional<Predictor> predictor_;  // made at the first prediction
};

}  // namespace twp
