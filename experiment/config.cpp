// Command-line parsing: "--flag value" or "--flag=value"; numbers must parse whole and lie in
// range; every mistake is a UsageError that names the flag.
#include "experiment/config.hpp"

#include <charconv>
#include <cmath>
#include <sstream>
#include <functional>
#include <map>

namespace twp {
namespace {

const std::vector<std::string> kModes = {"full",     "train_base",  "train_predictor",
                                         "evaluate", "extrapolate", "plugin_test", "nowcast"};
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

double parse_real(const std::string& flag, const std::string& text, double min_value, double max_value,
                  bool open_min = false, bool open_max = false) {
    double value = 0;
    const char* end = text.data() + text.size();
    const auto [stop, status] = std::from_chars(text.data(), end, value);
    if (status != std::errc() || stop != end || text.empty() || !std::isfinite(value))
        throw UsageError(flag + " wants a number, got '" + text + "'");
    const bool below = open_min ? value <= min_value : value < min_value;
    const bool above = open_max ? value >= max_value : value > max_value;
    if (below || above) {
        std::ostringstream range;
        range << flag << " must lie in " << (open_min ? "(" : "[") << min_value << ", " << max_value
              << (open_max ? ")" : "]") << ", got " << text;
        throw UsageError(range.str());
    }
    return value;
}

std::string one_of(const std::string& flag, const std::string& value,
                   const std::vector<std::string>& allowed) {
    for (const std::string& a : allowed)
        if (a == value) return value;
    throw UsageError(flag + " '" + value + "' is not one of " + joined(allowed));
}

// "a,b,c" -> {a, b, c}; empty items refused.
std::vector<std::string> list_items(const std::string& flag, const std::string& text) {
    std::vector<std::string> items;
    size_t begin = 0;
    while (true) {
        const size_t comma = text.find(',', begin);
        const std::string item = text.substr(begin, comma == std::string::npos ? std::string::npos : comma - begin);
        if (item.empty()) throw UsageError(flag + " '" + text + "' has an empty item: give a comma-separated list");
        items.push_back(item);
        if (comma == std::string::npos) return items;
        begin = comma + 1;
    }
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
        {"--snapshot_frequency",
         [&](const std::string& v) {
             config.snapshots_per_epoch = parse_number("--snapshot_frequency", v, 1);
         }},
        {"--num_runs", [&](const std::string& v) { config.num_runs = parse_number("--num_runs", v, 1); }},
        {"--random_seed",
         [&](const std::string& v) { config.random_seed = parse_number<uint64_t>("--random_seed", v, 0); }},
        {"--snapshot_dir",
         [&](const std::string& v) {
             if (v.empty()) throw UsageError("--snapshot_dir is empty");
             config.snapshot_dir = v;
         }},
        {"--base_learning_rate",
         [&](const std::string& v) {
             config.base_learning_rate = parse_real("--base_learning_rate", v, 0, 1e3, true);
         }},
        {"--data_dir",
         [&](const std::string& v) {
             if (v.empty()) throw UsageError("--data_dir is empty");
             config.data_dir = v;
         }},
        {"--dataset", [&](const std::string& v) { config.dataset = one_of("--dataset", v, kDatasets); }},
        {"--threads", [&](const std::string& v) { config.threads = parse_number("--threads", v, 1); }},
        {"--sequence_length",
         [&](const std::string& v) { config.sequence_length = parse_number<int64_t>("--sequence_length", v, 1); }},
        {"--train_split",
         [&](const std::string& v) { config.train_split = parse_real("--train_split", v, 0, 1, true, true); }},
        {"--batch_size", [&](const std::string& v) { config.batch_size = parse_number<int64_t>("--batch_size", v, 1); }},
        {"--n_components",
         [&](const std::string& v) { config.n_components = parse_number<int64_t>("--n_components", v, 1); }},
        {"--learning_rate",
         [&](const std::string& v) { config.learning_rate = parse_real("--learning_rate", v, 0, 1e3, true); }},
        {"--predictor_epochs",
         [&](const std::string& v) { config.predictor_epochs = parse_number("--predictor_epochs", v, 1); }},
        {"--extrapolation_steps",
         [&](const std::string& v) { config.extrapolation_steps = parse_number("--extrapolation_steps", v, 1); }},
        {"--model_path",
         [&](const std::string& v) {
             if (v.empty()) throw UsageError("--model_path is empty");
             config.model_path = v;
         }},
        {"--results_dir",
         [&](const std::string& v) {
             if (v.empty()) throw UsageError("--results_dir is empty");
             config.results_dir = v;
         }},
        {"--num_layers", [&](const std::string& v) { config.num_layers = parse_number("--num_layers", v, 1); }},
        {"--nhead", [&](const std::string& v) { config.nhead = parse_number("--nhead", v, 1); }},
        {"--dim_feedforward",
         [&](const std::string& v) { config.dim_feedforward = parse_number<int64_t>("--dim_feedforward", v, 1); }},
        {"--dropout", [&](const std::string& v) { config.dropout = parse_real("--dropout", v, 0, 1, false, true); }},
        {"--target", [&](const std::string& v) { config.target = one_of("--target", v, {"next", "delta"}); }},
        {"--forecasters", [&](const std::string& v) { config.forecasters = list_items("--forecasters", v); }},
        {"--forecaster", [&](const std::string& v) { config.forecasters = list_items("--forecaster", v); }},
        {"--samples", [&](const std::string& v) { config.samples = parse_number("--samples", v, 1); }},
        {"--diffusion_steps",
         [&](const std::string& v) { config.diffusion_steps = parse_number("--diffusion_steps", v, 1); }},
        {"--nowcast_every",
         [&](const std::string& v) { config.nowcast_every = parse_number<int64_t>("--nowcast_every", v, 1); }},
        {"--nowcast_horizon",
         [&](const std::string& v) { config.nowcast_horizon = parse_number("--nowcast_horizon", v, 1); }},
        {"--nowcast_momentum",
         [&](const std::string& v) {
             config.nowcast_momentum = one_of("--nowcast_momentum", v, {"keep", "reset", "rescale"});
         }},
        {"--targets",
         [&](const std::string& v) {
             config.targets.clear();
             for (const std::string& item : list_items("--targets", v))
                 config.targets.push_back(parse_real("--targets", item, 0, 100, true, true));
         }},
        {"--validation_fraction",
         [&](const std::string& v) {
             config.validation_fraction = parse_real("--validation_fraction", v, 0, 1, false, true);
         }},
        {"--selection",
         [&](const std::string& v) { config.selection = one_of("--selection", v, {"validation", "test"}); }},
        {"--split", [&](const std::string& v) { config.split = one_of("--split", v, {"time", "runs", "both"}); }},
        {"--repeats", [&](const std::string& v) { config.repeats = parse_number("--repeats", v, 1); }},
        {"--sweep",
         [&](const std::string& v) {
             const size_t eq = v.find('=');
             if (eq == std::string::npos || eq == 0 || eq + 1 == v.size())
                 throw UsageError("--sweep '" + v + "' is not FLAG=V1,V2,... (e.g. sequence_length=3,5,8)");
             list_items("--sweep " + v.substr(0, eq), v.substr(eq + 1));
             config.sweep.push_back(v);
         }},
        {"--jobs", [&](const std::string& v) { config.jobs = parse_number("--jobs", v, 1); }},
        {"--max_width", [&](const std::string& v) { config.max_width = parse_number<int64_t>("--max_width", v, 1); }},
        {"--device",
         [&](const std::string& v) {
             config.device = parse_number("--device", v, 0);
             config.device_given = true;
         }},
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
        } else if (flag == "--tf32" && !has_value) {
            config.tf32 = true;
        } else if (flag == "--apply_pca" && !has_value) {
            config.apply_pca = true;
        } else if (flag == "--resume" && !has_value) {
            config.resume = true;
        } else if (flag == "--standardize" && !has_value) {
            config.standardize = true;
        } else if (flag == "--train_base" && !has_value) {
            legacy_train_base = true;
        } else if (flag == "--sweep" && !has_value) {
            // --sweep a=1,2 b=3,4: every following argument that is not a flag is one more axis.
            if (i + 1 >= args.size() || args[i + 1].rfind("--", 0) == 0) throw UsageError("--sweep needs FLAG=V1,V2,...");
            while (i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0) valued.at("--sweep")(args[++i]);
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
    if (config.selection == "validation" && config.validation_fraction == 0)
        throw UsageError("--validation_fraction 0 leaves no validation windows to choose models on: give "
                         "--selection test as well (the reference's protocol), or a fraction above 0");
    if (config.diffusion_steps > kDiffusionTimesteps)
        throw UsageError("--diffusion_steps " + std::to_string(config.diffusion_steps) + ": the sampler takes at most one "
                         "step per timestep of the noise schedule, " + std::to_string(kDiffusionTimesteps));
    if (config.resume && config.mode != "full" && config.mode != "train_base" && config.mode != "train_predictor" &&
        config.mode != "nowcast")
        throw UsageError("--resume continues an interrupted train_base, train_predictor, full or nowcast run; --mode " +
                         config.mode + " trains nothing");
    return config;
}

}  // namespace twp
