// The stages' options from the command line; see stage_options.hpp.
#include "experiment/stage_options.hpp"

namespace twp {

BaseTrainingOptions base_training_options(const Config& c) {
    BaseTrainingOptions options;
    options.epochs = c.training_epochs;
    options.snapshots_per_epoch = c.snapshots_per_epoch;
    options.num_runs = c.num_runs;
    options.random_seed = c.random_seed;
    options.snapshot_dir = c.snapshot_dir;
    options.sgd.learning_rate = float(c.base_learning_rate);
    options.resume = c.resume;
    options.tune_threads = c.threads == 0;  // --threads N: exactly N
    return options;
}

DataOptions data_options(const Config& c) {
    DataOptions options;
    options.sequence_length = c.sequence_length;
    options.use_pca = c.apply_pca;
    options.components = c.n_components;
    options.standardize = c.standardize;
    options.validation_fraction = c.validation_fraction;
    return options;
}

}  // namespace twp
