// Command-line parsing: "--flag value" or "--flag=value"; numbers must parse whole and lie in
// range; every mistake is a UsageError that names the flag.
#include "experiment/config.hpp"

#include <charconv>
#include <functional>
#include <map>

namespace twp {
namespace {

const std::vector<std::string> kModes = {"full",     "train_base",  "train_predictor",
                                         "evaluate", "extrapolate", "plugin_test"};
const std::vector<std::string> kDatasets = {"mnist", "fashion-mnist"};

std::string joined(const std::vector<std::string>& items) {
    std::string text;
    for (const std::string& item : items) text += (text.empty() ? "" : "|") + item;
    return text;
}

template <class T>
T parse_number(const std::string& flag, const std::string& text, T min_value) {
    T value{};
    const char* end = text.data() + text.size();
    const auto [stop, status] = std::from_chars(text.data(), end, value);
    if (status != std::errc() || stop != end || text.empty())
        throw UsageError(flag + " wants an integer, got '" + text + "'");
    if (value < min_value)
        throw UsageError(flag + " must be at least " + std::to_string(min_value) + ", got " + text);
    return value;
}

std::string one_of(const std::string& flag, const std::string& value,
                   const std::vector<std::string>& allowed) {
    for (const std::string& a : allowed)
        if (a == value) return value;
    throw UsageError(flag + " '" + value + "' is not one of " + joined(allowed));
}

}  // namespace

Config parse_args(const std::vector<std::string>& args) {
    Config config;
    config.arguments = args;
    using Setter = std::function<void(const std::string&)>;
    // Flags that take a value; aliases map to the same setter.
    const std::map<std::string, Setter> valued = {
        {"--mode", [&](const std::string& v) { config.mode = one_of("--mode", v, kModes); }},
        {"--training_epochs",
         [&](const std::string& v) { config.training_epochs = parse_number("--training_epochs", v, 1); }},
        {"--base_epochs",
         [&](const std::string& v) { config.training_epochs = parse_number("--base_epochs", v, 1); }},
        {"--snapshots_per_epoch",
         [&](const std::string& v) {
             config.snapshots_per_epoch = parse_number("--snapshots_per_epoch", v, 1);
         }},
        {"--saves_per_epoch",
         [&](const std::string& v) {
             config.snapshots_per_epoch = parse_number("--saves_per_epoch", v, 1);
         }},
        {"--num_runs", [&](const std::string& v) { config.num_runs = parse_number("--num_runs", v, 1); }},
        {"--random_seed",
         [&](const std::string& v) { config.random_seed = parse_number<uint64_t>("--random_seed", v, 0); }},
        {"--snapshot_dir",
         [&](const std::string& v) {
             if (v.empty()) throw UsageError("--snapshot_dir is empty");
             config.snapshot_dir = v;
         }},
        {"--data_dir",
         [&](const std::string& v) {
             if (v.empty()) throw UsageError("--data_dir is empty");
             config.data_dir = v;
         }},
        {"--dataset", [&](const std::string& v) { config.dataset = one_of("--dataset", v, kDatasets); }},
        {"--threads", [&](const std::string& v) { config.threads = parse_number("--threads", v, 1); }},
    };
    bool legacy_train_base = false;
    for (size_t i = 0; i < args.size(); ++i) {
        std::string flag = args[i], value;
        bool has_value = false;
        if (const size_t eq = flag.find('='); flag.rfind("--", 0) == 0 && eq != std::string::npos) {
            value = flag.substr(eq + 1);
            flag = flag.substr(0, eq);
            has_value = true;
        }
        if (flag == "--help" || flag == "-h") {
            config.help = true;
        } else if (flag == "--no_cuda" && !has_value) {
            config.no_cuda = true;
        } else if (flag == "--train_base" && !has_value) {
            legacy_train_base = true;
        } else if (const auto it = valued.find(flag); it != valued.end()) {
            if (!has_value) {
                if (i + 1 >= args.size()) throw UsageError(flag + " needs a value");
                value = args[++i];
            }
            it->second(value);
        } else {
            throw UsageError("unknown argument '" + args[i] + "'");
        }
    }
    // As the reference: the legacy flag turns the default full mode into train_base.
    if (legacy_train_base && config.mode == "full") config.mode = "train_base";
    return config;
}

std::string usage_text() {
    return R"(twp: can a transformer forecast how a network's weights evolve during training?

usage: twp [--mode MODE] [options]

modes (--mode, default full):
  train_base        train LeNet-5 on MNIST --num_runs times and save weight snapshots
  full, train_predictor, evaluate, extrapolate, plugin_test
                    the predictor pipeline (not in this version yet: they say so and exit 1)

base training (the reference project's flags and defaults):
  --training_epochs N     epochs per run (alias --base_epochs)           [20]
  --snapshots_per_epoch N snapshots per epoch, evenly spaced, the last at
                          the end of the epoch (alias --saves_per_epoch) [1]
  --num_runs N            independent runs; run r is seeded random_seed+r-1 [3]
  --random_seed N         seed of run 1                                  [42]
  --snapshot_dir DIR      where runs are written: DIR/training_runs/run_<r>/
                                                                         [./data/snapshots]
  --train_base            legacy spelling of --mode train_base
data and machine:
  --dataset NAME          mnist | fashion-mnist                          [mnist]
  --data_dir DIR          IDX files (raw or .gz)                         [data/<dataset>]
  --no_cuda               never use a GPU
  --threads N             CPU threads                                    [all cores]
  --help                  this text

Fetch the data first with tools/fetch-data.sh [--dataset fashion-mnist].
)";
}

}  // namespace twp
