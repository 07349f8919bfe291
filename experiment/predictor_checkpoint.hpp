// Predictor training's state after an epoch: models/<forecaster key>_checkpoint.safetensors in
// the experiment folder (one per learned transformer forecaster), from which an interrupted
// training continues bit for bit.
// Tensors: parameters, adam_m, adam_v, best_parameters [parameter count] (F32), train_order
// [train windows] (I64, permuted in place every epoch), train_loss and selection_loss [epochs
// done] (F64). Metadata: the settings (what the training is, experiment/training_settings.hpp; a
// resume must match them, data_crc32 included, a checksum of the model-space snapshots and
// windows), epoch, step, dropout_counter, the shuffle Rng's position and used words,
// selection_set (validation|test), initial_selection_loss, best_epoch, best_step, best_selection_loss, epochs_since_best, finished
// (1 once the training ended: its last epoch, or stopped early). The checkpoints stay until the
// experiment's results are written, so their presence marks an unfinished experiment.
#pragma once

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "experiment/checkpoint_metadata.hpp"

namespace twp {

// The windows the best epoch is chosen on: the validation windows (split off the train windows),
// or, as the reference, the test windows (an optimistic choice: the test windows then decide it).
enum class SelectionSet { kValidation, kTest };
const char* selection_set_name(SelectionSet set);  // "validation", "test"

// The losses of a predictor training so far.
struct PredictorHistory {
    SelectionSet selection = SelectionSet::kTest;
    std::vector<double> train_loss;      // per epoch, model space MSE over the train windows
    std::vector<double> selection_loss;  // per epoch, model space MSE over the selection set's windows
    double initial_selection_loss = NAN; // of the initial parameters, when they compete (select_initial)
    int best_epoch = 0;                  // the lowest selection loss (the first of equal ones; 0: the initial)
    int64_t best_step = 0;               // Adam steps done at the end of best_epoch
    double best_selection_loss = 0;
    int epochs_since_best = 0;           // the early stopping's count
    bool stopped_early = false;          // ended by the patience before its last epoch
    int64_t steps = 0;                   // Adam steps done
    double seconds = 0;
};

// The header's epoch: epochs done; its step: Adam steps done.
struct PredictorCheckpoint : CheckpointHeader {
    uint64_t dropout_counter = 0;
    bool finished = false;  // the training ended (its last epoch, or stopped early)
    std::vector<int64_t> train_order;
    std::vector<float> parameters, adam_m, adam_v, best_parameters;
    PredictorHistory history;    // seconds is not kept; steps is the header's step
};
// models/<key>_checkpoint.safetensors of the forecaster `key`.
std::filesystem::path predictor_checkpoint_path(const std::filesystem::path& experiment_dir, const std::string& key);
// The predictor checkpoints in the experiment's models/ (any forecaster's).
std::vector<std::filesystem::path> predictor_checkpoints(const std::filesystem::path& experiment_dir);
// Removes them (an experiment whose outputs are written is finished); twp::Error naming a file
// that cannot be removed.
void remove_predictor_checkpoints(const std::filesystem::path& experiment_dir);
void save_predictor_checkpoint(const std::filesystem::path& path, const PredictorCheckpoint& checkpoint);
PredictorCheckpoint load_predictor_checkpoint(const std::filesystem::path& path);
// The experiment folder under results_dir whose predictor checkpoint was written last (the most
// recent unfinished training), or an empty path when none has one.
std::filesystem::path find_unfinished_experiment(const std::filesystem::path& results_dir);

}  // namespace twp
