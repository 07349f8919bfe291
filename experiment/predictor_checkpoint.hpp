// Predictor training's state after an epoch: models/predictor_checkpoint.safetensors in the
// experiment folder, from which an interrupted training continues bit for bit.
// Tensors: parameters, adam_m, adam_v, best_parameters [parameter count] (F32), train_order
// [train windows] (I64, permuted in place every epoch), train_loss and test_loss [epochs done]
// (F64). Metadata: the settings (what the training is, experiment/training_settings.hpp; a resume
// must match them, data_crc32 included, a checksum of the model-space snapshots and windows),
// epoch, step, dropout_counter, the shuffle Rng's position and used words, best_epoch,
// best_test_loss. The checkpoint stays until the experiment's results are written, so its
// presence marks an unfinished experiment; one of epoch == epochs holds a finished training.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "experiment/checkpoint_metadata.hpp"

namespace twp {

// The losses of a predictor training so far.
struct PredictorHistory {
    std::vector<double> train_loss, test_loss;  // per epoch, model space MSE
    int best_epoch = 0;
    double best_test_loss = 0;
    double seconds = 0;
};

// The header's epoch: epochs done; its step: Adam steps done.
struct PredictorCheckpoint : CheckpointHeader {
    uint64_t dropout_counter = 0;
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

}  // namespace twp
