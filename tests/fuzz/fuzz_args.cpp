// libFuzzer target for the command line (experiment/config): the input is split into arguments
// on '\0' and '\n' and parsed as twp's argv[1..]. A bad command line must end in twp::Error (the
// CLI's UsageError is one); anything else (a sanitizer report, another exception, a parsed value
// outside the range the parser promises) crashes the run. Built and run by tools/fuzz.sh.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "experiment/config.hpp"

namespace {

[[noreturn]] void broken(const char* what) {
    std::fprintf(stderr, "fuzz_args: broken invariant: %s\n", what);
    std::abort();
}

void check(const twp::Config& config) {
    if (config.training_epochs < 1 || config.snapshots_per_epoch < 1 || config.num_runs < 1 ||
        config.sequence_length < 1 || config.batch_size < 1 || config.n_components < 1 ||
        config.predictor_epochs < 1 || config.extrapolation_steps < 1 || config.num_layers < 1 ||
        config.nhead < 0 || config.dim_feedforward < 1 || config.max_width < 1 ||
        config.threads < 0) {
        broken("a count below its minimum");
    }
    if (!(config.train_split > 0 && config.train_split < 1)) broken("train_split outside (0, 1)");
    if (!(config.learning_rate > 0 && config.learning_rate <= 1e3)) broken("learning_rate range");
    if (!(config.dropout >= 0 && config.dropout < 1)) broken("dropout outside [0, 1)");
    if (config.nowcast_every < 0 || config.nowcast_horizon < 1) broken("a nowcast interval or horizon below 1");
    for (double target : config.targets)
        if (!(target > 0 && target < 100)) broken("a target accuracy outside (0, 100)");
    static const char* const modes[] = {"full",     "train_base",  "train_predictor",
                                        "evaluate", "extrapolate", "plugin_test", "nowcast"};
    bool known_mode = false;
    for (const char* mode : modes) known_mode = known_mode || config.mode == mode;
    if (!known_mode) broken("mode");
    if (config.target != "next" && config.target != "delta") broken("target");
    if (config.dataset != "mnist" && config.dataset != "fashion-mnist") broken("dataset");
    if (config.snapshot_dir.empty() || config.results_dir.empty()) broken("empty directory");
    if (config.resolved_data_dir().empty()) broken("empty data dir");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::vector<std::string> args;
    std::string current;
    for (size_t i = 0; i < size; ++i) {
        const char c = char(data[i]);
        if (c == '\0' || c == '\n') {
            args.push_back(current);
            current.clear();
        } else {
            current.push_back(c);
        }
    }
    if (!current.empty()) args.push_back(current);
    try {
        const twp::Config config = twp::parse_args(args);
        if (config.arguments != args) broken("arguments not recorded as given");
        check(config);
    } catch (const twp::Error&) {
        // Expected on a bad command line.
    }
    return 0;
}
