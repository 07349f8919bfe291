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

struct Config {
    std::string mode = "full";  // full|train_base|train_predictor|evaluate|extrapolate|plugin_test
    // Base training (LeNet-5 on MNIST), as the reference.
    int training_epochs = 20;
    int snapshots_per_epoch = 1;
    int num_runs = 3;
    uint64_t random_seed = 42;  // run r uses random_seed + r - 1
    std::string snapshot_dir = "./data/snapshots";
    // Ours.
    std::string dataset = "mnist";  // mnist|fashion-mnist
    std::string data_dir;           // default: data/<dataset>
    bool no_cuda = false;
    int threads = 0;  // CPU threads; 0 = all cores
    bool help = false;
    std::vector<std::string> arguments;  // as given, for the logs

    std::string resolved_data_dir() const { return data_dir.empty() ? "data/" + dataset : data_dir; }
};

// Parses argv[1..]; throws UsageError naming the flag and the accepted values.
Config parse_args(const std::vector<std::string>& args);
std::string usage_text();

}  // namespace twp
