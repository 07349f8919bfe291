// The transformer as a forecaster, in two recipes registered as two forecasters:
// - seed: the reference's transformer as it is trained there: the target of --target (the next
//   snapshot by default), the scores of the data's model space (raw PCA scores unless
//   --standardize), --learning_rate constant for --predictor_epochs epochs of --batch_size;
// - transformer: the same architecture made to learn: always the delta target, always scores
//   standardized by its own train statistics (fit_standardization, whatever --standardize says),
//   an output head that starts at zero (the untrained model predicts "no change", the last
//   value), a fixed budget of Adam steps with a linear warmup and a cosine decay, and early
//   stopping on the selection windows (kTransformerRecipe below). Its weight-space forecast is
//   the last weights moved by its predicted change (forecasts_weights()), so that the part of
//   the weights outside the PCA is held at its last value instead of lost.
// Both choose their best epoch on --selection's windows (the validation windows by default) and
// save models/<key>_best.safetensors (the one evaluated) and models/<key>_last.safetensors in the
// experiment folder, checkpointing into models/<key>_checkpoint.safetensors and continuing an
// interrupted training with --resume. Made from a --model_path, the forecaster whose key the file
// records is made, fitted already (the other's factory makes nothing).
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

enum class TransformerRecipe { kSeed, kTransformer };

// The transformer recipe's training, chosen on the validation windows of the real snapshots
// (3 runs x 41 snapshots, PCA to 60 components): see the constants in transformer_forecaster.cpp.
struct TransformerRecipeSettings {
    float peak_learning_rate;
    float min_learning_rate;
    int64_t warmup_steps;
    int64_t total_steps;     // the budget: epochs are as many as these steps take
    int64_t patience_steps;  // early stopping: steps without a better selection loss
    int64_t batch_size;
};
extern const TransformerRecipeSettings kTransformerRecipe;

// The PredictorOptions a recipe trains with on `data` (checkpoint and resume aside).
PredictorOptions recipe_options(TransformerRecipe recipe, const Config& command, const TransformerConfig& config,
                                const PredictorData& data);

class TransformerForecaster final : public Forecaster {
public:
    TransformerForecaster(const ForecasterContext& context, TransformerRecipe recipe);

    const ForecasterNames& names() const override;
    ForecasterRole role() const override { return ForecasterRole::kLearned; }
    int64_t min_history() const override { return config_.sequence_length; }
    // The transformer recipe (a delta target) forecasts the weights too: the last weights plus
    // its predicted change of the scores mapped back through the PCA. seed's weights are its
    // scores mapped back, as the reference's.
    bool forecasts_weights() const override { return recipe_ == TransformerRecipe::kTransformer && space_.use_pca; }
    void fit(const PredictorData& data) override;
    std::vector<ForecasterFact> facts() const override;
    std::vector<float> predict(const std::vector<History>& histories, int64_t width) override;

    // What the results report about the predictor.
    TransformerRecipe recipe() const { return recipe_; }
    const TransformerConfig& config() const { return config_; }
    bool delta_target() const { return delta_target_; }
    const FeatureSpace& space() const { return space_; }                          // its model space
    const std::optional<PredictorHistory>& history() const { return history_; }  // when fit() trained it
    const std::string& model_path() const { return model_path_; }                // the file evaluated

private:
    Backend& backend_;
    const Config& command_;  // the command line: the training settings
    TransformerRecipe recipe_;
    FeatureSpace space_;     // the data's, with the transformer recipe's own standardization
    std::filesystem::path experiment_dir_;
    bool resume_;
    TransformerConfig config_;
    bool delta_target_ = false;
    std::vector<float> parameters_;  // empty until fitted
    std::optional<PredictorOptions> options_;  // what fit() trained with
    std::optional<PredictorHistory> history_;
    std::string model_path_;
    std::optional<Predictor> predictor_;  // made at the first prediction
};

}  // namespace twp
