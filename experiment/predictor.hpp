// The predictor pipeline's data and model around the transformer:
// - FeatureSpace: raw LeNet-5 weights -> PCA scores (the "PCA space" every MSE is reported in)
//   -> optionally standardized scores (the "model space" the transformer sees);
// - PredictorData: every run's snapshots in PCA space and model space, and the train/test windows;
// - train_predictor: Adam on MSE, shuffled batches, test MSE every epoch, best and last checkpoints;
// - Predictor: a trained model for inference, predicting the next snapshot in PCA space.
// Targets: "next" (the reference: the model outputs the next snapshot) or "delta" (the model
// outputs next - last, added back to the last input).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engine/backend.hpp"
#include "engine/pca.hpp"
#include "experiment/transformer.hpp"
#include "experiment/weight_dataset.hpp"

namespace twp {

struct FeatureSpace {
    bool use_pca = false;
    PcaModel pca;                    // when use_pca
    bool standardize = false;
    std::vector<float> mean, scale;  // [D], train statistics of the PCA scores (standardize)
    int64_t raw_dim = 0;

    int64_t dim() const { return use_pca ? pca.components : raw_dim; }
    std::vector<float> to_pca(const float* raw, int64_t rows) const;     // [rows, D]
    std::vector<float> from_pca(const float* scores, int64_t rows) const;  // [rows, raw_dim]
    void to_model(float* scores, int64_t rows) const;    // in place, PCA space -> model space
    void from_model(float* values, int64_t rows) const;  // in place, model space -> PCA space
};

struct PredictorOptions {
    int64_t sequence_length = 3;
    int64_t batch_size = 32;
    float learning_rate = 1e-4f;
    int epochs = 100;
    uint64_t seed = 42;
    bool delta_target = false;
    TransformerConfig model;  // dim and sequence_length are filled from the data
    bool show_progress = true;
};

// Every run's snapshots in PCA space (scores) and model space, plus the windows.
struct PredictorData {
    const WeightRuns* runs = nullptr;
    FeatureSpace space;
    std::vector<std::vector<float>> scores;  // per run, [count, D], PCA space
    std::vector<std::vector<float>> model;   // per run, [count, D], model space
    std::vector<Window> train_windows, test_windows;
};

// Builds the feature space on the train snapshots of all runs (PCA fit with `components`
// components when use_pca; standardization statistics when standardize), then the windows.
// `note` receives what the user should know (e.g. the component count was capped).
PredictorData prepare_predictor_data(const WeightRuns& runs, int64_t sequence_length, bool use_pca,
                                     int64_t components, bool standardize, std::string& note);
// The same with a feature space loaded from a saved model (evaluation modes).
PredictorData apply_feature_space(const WeightRuns& runs, int64_t sequence_length, FeatureSpace space);

struct PredictorHistory {
    std::vector<double> train_loss, test_loss;  // per epoch, model space MSE
    int best_epoch = 0;
    double best_test_loss = 0;
    double seconds = 0;
};

struct TrainedPredictor {
    TransformerConfig config;
    bool delta_target = false;
    std::vector<float> best_parameters, last_parameters;
    PredictorHistory history;
};

TrainedPredictor train_predictor(Backend& backend, const PredictorData& data,
                                 const PredictorOptions& options);

// Inference with fixed parameters.
class Predictor {
public:
    Predictor(Backend& backend, const TransformerConfig& config, const std::vector<float>& parameters,
              bool delta_target, const FeatureSpace& space);
    // windows [count, S, D] in PCA space -> next snapshots [count, D] in PCA space.
    std::vector<float> predict(const std::vector<float>& windows, int64_t count);
    const TransformerConfig& config() const { return model_.config(); }

private:
    Backend& backend_;
    TransformerPredictor model_;
    Buffer<float> inputs_;
    bool delta_target_;
    const FeatureSpace& space_;
};

// Model files: the predictor's parameters (state_dict names) with its configuration and the
// feature space in __metadata__ / extra tensors; the PCA beside it as pca.safetensors.
void save_predictor(const std::filesystem::path& path, const TransformerConfig& config,
                    bool delta_target, const std::vector<float>& parameters, const FeatureSpace& space,
                    const std::map<std::string, std::string>& extra_metadata);
struct LoadedPredictor {
    TransformerConfig config;
    bool delta_target = false;
    std::vector<float> parameters;
    FeatureSpace space;
};
LoadedPredictor load_predictor(const std::filesystem::path& path);

}  // namespace twp
