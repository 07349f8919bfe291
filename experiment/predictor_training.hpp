// Training the weight predictor: Adam on the MSE in model space, shuffled batches of train
// windows, the test MSE every epoch, the best (lowest test MSE) and the last parameters. Its whole
// state goes to a checkpoint (experiment/predictor_checkpoint.hpp) after the last epoch and at
// most every checkpoint_seconds, from which an interrupted training continues bit for bit; a NaN
// or Inf in a loss or the parameters stops it with twp::Error naming the epoch and step.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include "engine/backend.hpp"
#include "experiment/feature_space.hpp"
#include "experiment/predictor_checkpoint.hpp"
#include "experiment/transformer.hpp"

namespace twp {

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

struct TrainedPredictor {
    TransformerConfig config;
    bool delta_target = false;
    std::vector<float> best_parameters, last_parameters;
    PredictorHistory history;
};

TrainedPredictor train_predictor(Backend& backend, const PredictorData& data, const PredictorOptions& options);

}  // namespace twp
