// The command line: the reference project's flags (same names and defaults) plus ours, parsed
// into one Config. Invalid values are errors before anything runs, so a bad command writes
// nothing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/error.hpp"

namespace twp {

// A mistake on the command line: main prints it with a pointer to --help and exits 2.
class UsageError : public Error {
public:
    using Error::Error;
};

// The diffusion forecaster's noise schedule's timesteps (experiment/diffusion_schedule.hpp).
inline constexpr int kDiffusionTimesteps = 1000;

struct Config {
    std::string mode = "full";  // full|train_base|train_predictor|evaluate|extrapolate|plugin_test|nowcast
    // Base training (LeNet-5 on MNIST), as the reference.
    int training_epochs = 20;
    int snapshots_per_epoch = 1;
    int num_runs = 3;
    uint64_t random_seed = 42;  // run r uses random_seed + r - 1
    std::string snapshot_dir = "./data/snapshots";
    double base_learning_rate = 0.005;  // SGD's, as the reference hard-codes it
    // The predictor pipeline, as the reference.
    int64_t sequence_length = 3;
    double train_split = 0.5;
    int64_t batch_size = 32;
    bool apply_pca = false;
    int64_t n_components = 500;
    double learning_rate = 1e-4;
    int predictor_epochs = 100;
    int extrapolation_steps = 5;
    std::string model_path;  // evaluation modes: a saved predictor (the PCA is read from beside it)
    std::string results_dir = "./results";
    // The transformer, the reference's values by default.
    int num_layers = 6;
    int nhead = 0;  // 0: the reference's rule (8, else 5, else the largest divisor up to 8)
    int64_t dim_feedforward = 2048;
    double dropout = 0.1;
    // Beyond the reference, off by default.
    std::string target = "next";  // next|delta
    bool standardize = false;
    int64_t max_width = 4096;  // refuse wider transformers (without PCA the width is 61,706)
    // The honest protocol (issue 14).
    // The forecasters evaluated, in order (keys of experiment/forecasters.cpp); empty: the ones
    // registered to be evaluated by default.
    std::vector<std::string> forecasters;
    double validation_fraction = 0.2;    // of each run's train windows, kept apart to choose models on
    std::string selection = "validation";  // validation|test: what the best predictor epoch is chosen on
    std::string split = "time";          // time|runs|both
    int repeats = 1;                     // the whole experiment, with seeds random_seed + 1000 i
    // Sweeps: "flag=v1,v2,..." each; every cell of the grid is its own experiment.
    std::vector<std::string> sweep;
    int jobs = 1;                        // sweep cells run at once
    // The diffusion forecaster (experiment/diffusion_forecaster.hpp), over kDiffusionTimesteps.
    int samples = 32;          // draws per forecast
    int diffusion_steps = 50;  // DDIM steps per draw
    // Nowcasting (--mode nowcast, experiment/nowcast.hpp).
    int64_t nowcast_every = 0;  // SGD steps between jumps, at least; 0: the snapshot interval
    int nowcast_horizon = 1;    // snapshot intervals a jump goes ahead
    std::string nowcast_momentum = "keep";  // keep|reset|rescale
    std::vector<double> targets = {98.0, 98.5, 99.0};  // test accuracies (percent) to reach
    // Ours.
    std::string dataset = "mnist";  // mnist|fashion-mnist
    std::string data_dir;           // default: data/<dataset>
    bool resume = false;  // continue an interrupted train_base / train_predictor / full run
    bool no_cuda = false;
    int device = 0;  // which CUDA device
    bool device_given = false;
    bool tf32 = false;  // TF32 tensor cores for the GPU's GEMMs (off: the GPU agrees with the CPU in fp32)
    int threads = 0;  // CPU threads; 0 = all cores
    bool help = false;
    std::vector<std::string> arguments;  // as given, for the logs

    std::string resolved_data_dir() const { return data_dir.empty() ? "data/" + dataset : data_dir; }
};

// Parses argv[1..]; throws UsageError naming the flag and the accepted values.
Config parse_args(const std::vector<std::string>& args);
// The --help text (experiment/usage.cpp).
std::string usage_text();

}  // namespace twp
