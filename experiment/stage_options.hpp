// The options the experiment's stages take, read off the command line once: base training's and
// the predictor data's (the full experiment and the nowcast build theirs from these).
#pragma once

#include "experiment/base_training.hpp"
#include "experiment/config.hpp"
#include "experiment/feature_space.hpp"

namespace twp {

// --training_epochs, --snapshots_per_epoch, --num_runs, --random_seed, --snapshot_dir,
// --base_learning_rate and --resume; the rest as base training's defaults (the reference's).
BaseTrainingOptions base_training_options(const Config& config);
// --sequence_length, --apply_pca, --n_components, --standardize, --validation_fraction.
DataOptions data_options(const Config& config);

}  // namespace twp
