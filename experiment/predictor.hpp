// The predictor pipeline's data and model around the transformer:
// - FeatureSpace: raw LeNet-5 weights -> PCA scores (the "PCA space" every MSE is reported in)
//   -> optionally standardized scores (the "model space" the transformer sees);
// - PredictorData: every run's snapshots in PCA space and model space, and the train/test windows;
// - train_predictor: Adam on MSE, shuffled batches, test MSE every epoch, best and last checkpoints;
//   its whole state goes to a PredictorCheckpoint after the last epoch and at most every
//   checkpoint_seconds, from which an interrupted training continues bit for bit; a NaN or Inf
//   in a loss or the parameters stops it with twp::Error naming the epoch and step;
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
#include "engine/random.hpp"
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
    // Through the PCA on `backend` (cuBLAS on the GPU, BLAS on the CPU); the identity without PCA.
    std::vector<float> to_pca(Backend& backend, const float* raw, int64_t rows) const;     // [rows, D]
    std::vector<float> from_pca(Backend& backend, const float* scores, int64_t rows) const;  // [rows, raw_dim]
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
    // When not empty, a checkpoint is written there (atomically, predictor_checkpoint_path())
    // after the last epoch, and after any epoch that ends checkpoint_seconds or more after the
    // previous checkpoint: a crash loses at most that much training, and a wide model (four
    // parameter-sized tensors per checkpoint) does not spend its time writing them every epoch.
    std::filesystem::path checkpoint_path;
    double checkpoint_seconds = 30;
    bool resume = false;       // continue from checkpoint_path, which must exist
    int stop_after_epoch = 0;  // > 0: throw twp::Error once that epoch's checkpoint is written, as
                               // a crash would stop it (how tests interrupt a training)
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
PredictorData prepare_predictor_data(Backend& backend, const WeightRuns& runs, int64_t sequence_length, bool use_pca,
                                     int64_t components, bool standardize, std::string& note);
// The same with a feature space loaded from a saved model (evaluation modes).
PredictorData apply_feature_space(Backend& backend, const WeightRuns& runs, int64_t sequence_length, FeatureSpace space);

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

// Predictor training's state after an epoch: models/predictor_checkpoint.safetensors in the
// experiment folder. Tensors: parameters, adam_m, adam_v, best_parameters [parameter count] (F32),
// train_order [train windows] (I64, permuted in place every epoch), train_loss and test_loss
// [epochs done] (F64). Metadata: the settings (what the training is; a resume must match them,
// data_crc32 included, a checksum of the model-space snapshots and windows), epoch, step,
// dropout_counter, the shuffle Rng's position and used words, best_epoch, best_test_loss.
// The checkpoint stays until the experiment's results are written, so its presence marks an
// unfinished experiment; one of epoch == epochs holds a finished training.
struct PredictorCheckpoint {
    std::map<std::string, std::string> settings;
    int epoch = 0;               // epochs done
    int64_t step = 0;            // Adam steps done
    uint64_t dropout_counter = 0;
    RngState shuffle;
    std::vector<int64_t> train_order;
    std::vector<float> parameters, adam_m, adam_v, best_parameters;
    PredictorHistory history;    // seconds is not kept
};
std::filesystem::path predictor_checkpoint_path(const std::filesystem::path& experiment_dir);
void save_predictor_checkpoint(const std::filesystem::path& path, const PredictorCheckpoint& checkpoint);
PredictorCheckpoint load_predictor_checkpoint(const std::filesystem::path& path);
// The experiment folder under results_dir whose predictor checkpoint was written last (the most
// recent unfinished training), or an empty path when none has one.
std::filesystem::path find_unfinished_experiment(const std::filesystem::path& results_dir);

// Inference with fixed parameters.
class Predictor {
public:
    Predictor(Backend& backend, const TransformerConfig& config, const std::vector<float>& parameters,
              bool delta_target, const FeatureSpace& space);
    // windows [count, S, D] in PCA space -> next snapshots [count, D] in PCA space.
    std::vector<float> predict(const std::vector<float>& windows, int64_t count);
    const TransformerConfig& config() const { return model_.config(); }
    Backend& backend() const { return backend_; }

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
