// Training the weight predictor: Adam on the MSE in model space, shuffled batches of train
// windows, the MSE over the selection set's windows every epoch (the validation windows, or the
// test windows as the reference; only that set is run, so a validation-selected training never
// touches the test windows), the best (lowest selection MSE) and the last parameters. Optionally
// a learning rate schedule (warmup, cosine decay), early stopping after a patience, and an output
// head that starts at zero. Its whole state goes to a checkpoint
// (experiment/predictor_checkpoint.hpp) after the last epoch and at most every
// checkpoint_seconds, from which an interrupted training continues bit for bit; a NaN or Inf in a
// loss or the parameters stops it with twp::Error naming the epoch and step. The defaults are the
// reference's training.
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
    SelectionSet selection = SelectionSet::kTest;  // what the best epoch is chosen on
    // The learning rate at Adam step k (1-based), scheduled_learning_rate(): learning_rate * k /
    // warmup_steps while k <= warmup_steps, then a cosine from learning_rate down to
    // min_learning_rate at step decay_steps (min_learning_rate after it). decay_steps 0: no decay
    // (with warmup_steps 0, the reference's constant learning_rate).
    int64_t warmup_steps = 0;
    int64_t decay_steps = 0;
    float min_learning_rate = 0;
    // > 0: the training ends after this many epochs in a row without a lower selection loss.
    int patience = 0;
    // The output projection starts at zero (weight and bias): the untrained model predicts 0,
    // with a delta target "no change" (the last value).
    bool zero_output_head = false;
    // The initial parameters compete for the best as "epoch 0", scored on the selection windows
    // before the first step: a training that never beats its start keeps it (with a zero head and
    // a delta target, the last value).
    bool select_initial = false;
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

// The series a predictor is trained on: each run's snapshots in `space`'s model space.
struct ModelSeries {
    const FeatureSpace& space;
    const std::vector<std::vector<float>>& model;  // per run, [count, D]
};

float scheduled_learning_rate(const PredictorOptions& options, int64_t step);

// On data's windows and `series` (by default data's own model space).
TrainedPredictor train_predictor(Backend& backend, const PredictorData& data, const ModelSeries& series,
                                 const PredictorOptions& options);
TrainedPredictor train_predictor(Backend& backend, const PredictorData& data, const PredictorOptions& options);

}  // namespace twp
