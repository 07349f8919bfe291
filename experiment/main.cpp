// twp's entry point: parse the command line, check everything that can be refused, pick the
// backend, run the mode. Every failure ends here as one clear message and a non-zero exit (2 for
// a usage mistake, 1 for anything else).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "engine/device_backend.hpp"
#include "experiment/base_training.hpp"
#include "experiment/config.hpp"
#include "experiment/evaluation.hpp"
#include "experiment/mnist.hpp"
#include "experiment/predictor.hpp"
#include "experiment/results.hpp"
#include "experiment/snapshots.hpp"
#include "experiment/weight_dataset.hpp"

namespace twp {
namespace {

bool trains_predictor(const std::string& mode) { return mode == "full" || mode == "train_predictor"; }
bool evaluates(const std::string& mode) { return mode != "train_base" && mode != "train_predictor"; }

// Refusals that need no data: before anything is loaded, trained or written.
void check_plan(const Config& c) {
    if (evaluates(c.mode) && c.mode != "full" && c.model_path.empty())
        throw UsageError("--mode " + c.mode + " evaluates a saved predictor: give --model_path "
                         "(results/experiment_<time>/models/predictor_best.safetensors)");
    if (trains_predictor(c.mode) && !c.apply_pca && LeNet5::kParameterCount > c.max_width)
        throw UsageError("without --apply_pca the transformer is as wide as the weights (61,706), whose "
                         "attention and feed-forward layers alone would need about " +
                         std::to_string(int64_t(6.0 * (4.0 * 61706 * 61706 + 2.0 * 2 * 2048 * 61706) * 4 / 1e9)) +
                         " GB; use --apply_pca (with --n_components), or raise --max_width if you mean it");
}

// In full mode: whether the snapshots base training will take leave a train and a test window.
void check_windows_ahead(const Config& c, int64_t train_images) {
    if (c.mode == "full") {
        const int64_t per_epoch = int64_t(snapshot_batches((train_images + 31) / 32, c.snapshots_per_epoch).size());
        const int64_t n = per_epoch * c.training_epochs, split = int64_t(std::floor(double(n) * c.train_split));
        if (split <= c.sequence_length || n - split <= c.sequence_length)
            throw UsageError("each run will take " + std::to_string(n) + " snapshots, " + std::to_string(split) +
                             " of them train: --sequence_length " + std::to_string(c.sequence_length) +
                             " leaves no train or no test window; take more epochs or --snapshots_per_epoch");
    }
}

TransformerConfig model_config(const Config& c, int64_t dim) {
    TransformerConfig m;
    m.dim = dim;
    m.heads = c.nhead ? c.nhead : reference_heads(dim);
    if (dim % m.heads != 0)
        throw UsageError("--nhead " + std::to_string(m.heads) + " does not divide the input width " + std::to_string(dim));
    if (dim > c.max_width)
        throw UsageError("the transformer would be " + std::to_string(dim) + " wide, above --max_width " +
                         std::to_string(c.max_width) + ": lower --n_components or raise --max_width");
    m.layers = c.num_layers;
    m.feedforward = c.dim_feedforward;
    m.dropout = float(c.dropout);
    m.sequence_length = c.sequence_length;
    return m;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int run(const Config& config) {
    check_plan(config);
    // Data needed by the mode is loaded (and refused if missing) before anything is written.
    const bool needs_images = config.mode == "full" || config.mode == "train_base" || config.mode == "plugin_test";
    Dataset dataset;
    if (needs_images) dataset = load_dataset(config.resolved_data_dir(), config.dataset);
    if (needs_images) check_windows_ahead(config, dataset.train.count);
    std::optional<LoadedPredictor> loaded;
    if (!config.model_path.empty() && config.mode != "full" && config.mode != "train_base" &&
        config.mode != "train_predictor")
        loaded = load_predictor(config.model_path);
    // One writer per snapshot folder: a second twp pointed at it is refused before it writes.
    std::optional<FolderLock> snapshot_lock;
    if (config.mode == "full" || config.mode == "train_base")
        snapshot_lock.emplace(config.snapshot_dir, "wait for it or use another --snapshot_dir");
    // Everything runs on one backend: the GPU where there is one, else the CPU. Only file writing
    // and plotting stay on the host.
    ChosenBackend chosen = choose_backend({config.no_cuda, config.device, config.device_given, config.tf32, config.threads});
    Backend& backend = *chosen.backend;
    const std::string device_note = chosen.note;
    std::fprintf(stderr, "twp: %s\n", device_note.c_str());
    std::fprintf(stderr, "twp: backend %s\n", backend.description().c_str());

    // A backend may bound the attention window (the GPU's kernels keep its scores in shared memory).
    if (const int64_t longest = backend.max_attention_sequence();
        longest > 0 && config.mode != "train_base" && config.sequence_length > longest && !loaded)
        throw UsageError("--sequence_length " + std::to_string(config.sequence_length) + " is longer than the " +
                         backend.name() + " backend's attention takes (" + std::to_string(longest) +
                         "): use a shorter window, or --no_cuda");

    ExperimentResults results;
    results.mode = config.mode;
    results.backend = backend.description();
    results.dataset = config.dataset;
    if (config.mode == "full" || config.mode == "train_base") {
        const auto start = std::chrono::steady_clock::now();
        BaseTrainingOptions options;
        options.epochs = config.training_epochs;
        options.snapshots_per_epoch = config.snapshots_per_epoch;
        options.num_runs = config.num_runs;
        options.random_seed = config.random_seed;
        options.snapshot_dir = config.snapshot_dir;
        options.sgd.learning_rate = float(config.base_learning_rate);
        options.resume = config.resume;
        results.base_runs = train_base(backend, dataset, options);
        results.stage_seconds.push_back({"base_training", seconds_since(start)});
        std::printf("Base training done: %d run%s of %d epochs on %s.\n", config.num_runs,
                    config.num_runs > 1 ? "s" : "", config.training_epochs, dataset.name.c_str());
        for (const RunSummary& r : results.base_runs) {
            std::printf("  run %d (seed %llu): final test accuracy %.2f%%, loss %.4f, %d snapshots, ", r.run,
                        static_cast<unsigned long long>(r.seed), r.final_test.accuracy, r.final_test.loss, r.snapshots);
            if (r.already_complete)
                std::printf("already complete (--resume)\n");
            else if (r.resumed_at_step > 0)
                std::printf("resumed at step %lld, %.0f s (%.0f img/s)\n", static_cast<long long>(r.resumed_at_step),
                            r.seconds, r.train_images_per_second);
            else
                std::printf("%.0f s (%.0f img/s)\n", r.seconds, r.train_images_per_second);
        }
        std::printf("Snapshots: %s (one index.json per run lists them in training order)\n",
                    (std::filesystem::path(config.snapshot_dir) / "training_runs").string().c_str());
        if (config.mode == "train_base") return 0;
    }

    // The predictor pipeline.
    auto start = std::chrono::steady_clock::now();
    const WeightRuns runs = load_weight_runs(config.snapshot_dir, config.train_split);
    results.runs = &runs;
    const int64_t sequence_length = loaded ? loaded->config.sequence_length : config.sequence_length;
    PredictorData data;
    if (loaded) {
        if (sequence_length != config.sequence_length)
            results.notes += "The model was trained on windows of " + std::to_string(sequence_length) +
                             " snapshots: its sequence length is used, not --sequence_length.\n";
        data = apply_feature_space(backend, runs, sequence_length, loaded->space);
    } else {
        data = prepare_predictor_data(backend, runs, sequence_length, config.apply_pca, config.n_components, config.standardize,
                                      results.notes);
    }
    results.data = &data;
    results.stage_seconds.push_back({"snapshots_and_pca", seconds_since(start)});
    if (!results.notes.empty()) std::fprintf(stderr, "twp: %s", results.notes.c_str());
    if (data.space.use_pca) {
        double explained = 0;
        for (double v : data.space.pca.explained_variance_ratio) explained += v;
        std::fprintf(stderr, "twp: PCA %lld -> %lld dimensions, explained variance ratio %.4f\n",
                     static_cast<long long>(data.space.raw_dim), static_cast<long long>(data.space.dim()), explained);
    }

    // --resume continues the most recent unfinished predictor training in its own folder.
    std::filesystem::path dir;
    if (config.resume && trains_predictor(config.mode)) {
        dir = find_unfinished_experiment(config.results_dir);
        if (dir.empty())
            std::fprintf(stderr, "twp: --resume: no unfinished predictor training under %s: starting a new experiment\n",
                         config.results_dir.c_str());
        else
            std::fprintf(stderr, "twp: --resume: continuing the predictor training of %s\n", dir.string().c_str());
    }
    const bool resuming = !dir.empty();
    if (!resuming) dir = create_experiment_dir(config.results_dir);
    // A folder whose predictor is being trained has one writer: a second --resume is refused.
    std::optional<FolderLock> experiment_lock;
    if (trains_predictor(config.mode)) experiment_lock.emplace(dir, "wait for it, or start a new experiment without --resume");
    if (resuming) {
        for (const char* sub : {"", "models", "plots"}) remove_stale_temporaries(dir / sub);
    } else {
        write_config(dir, config, results.backend, device_note);
    }
    const std::filesystem::path checkpoint = predictor_checkpoint_path(dir);
    std::vector<float> parameters;
    if (loaded) {
        results.model = loaded->config;
        results.delta_target = loaded->delta_target;
        results.model_path = config.model_path;
        parameters = loaded->parameters;
    } else {
        start = std::chrono::steady_clock::now();
        PredictorOptions options;
        options.sequence_length = sequence_length;
        options.batch_size = config.batch_size;
        options.learning_rate = float(config.learning_rate);
        options.epochs = config.predictor_epochs;
        options.seed = config.random_seed;
        options.delta_target = config.target == "delta";
        options.model = model_config(config, data.space.dim());
        options.checkpoint_path = checkpoint;
        options.resume = resuming;
        if (const char* stop = std::getenv("TWP_TEST_STOP_AFTER_PREDICTOR_EPOCH")) options.stop_after_epoch = std::atoi(stop);
        std::fprintf(stderr, "twp: transformer %lld wide, %d heads, %d layers, feed-forward %lld, %zu train and %zu test windows\n",
                     static_cast<long long>(options.model.dim), options.model.heads, options.model.layers,
                     static_cast<long long>(options.model.feedforward), data.train_windows.size(), data.test_windows.size());
        const TrainedPredictor trained = train_predictor(backend, data, options);
        results.stage_seconds.push_back({"predictor_training", seconds_since(start)});
        results.history = trained.history;
        results.model = trained.config;
        results.delta_target = trained.delta_target;
        const std::map<std::string, std::string> best_meta = {
            {"epoch", std::to_string(trained.history.best_epoch)},
            {"test_loss", std::to_string(trained.history.best_test_loss)}};
        save_predictor(dir / "models" / "predictor_best.safetensors", trained.config, trained.delta_target,
                       trained.best_parameters, data.space, best_meta);
        save_predictor(dir / "models" / "predictor_last.safetensors", trained.config, trained.delta_target,
                       trained.last_parameters, data.space,
                       {{"epoch", std::to_string(trained.history.test_loss.size())},
                        {"test_loss", std::to_string(trained.history.test_loss.back())}});
        results.model_path = (dir / "models" / "predictor_best.safetensors").string();
        parameters = trained.best_parameters;  // evaluated as the reference does: the best checkpoint
    }

    if (evaluates(config.mode)) {
        Predictor predictor(backend, results.model, parameters, results.delta_target, data.space);
        start = std::chrono::steady_clock::now();
        if (config.mode == "full" || config.mode == "evaluate") results.direct = evaluate_direct(predictor, data);
        if (config.mode != "evaluate") results.extrapolation = extrapolate(predictor, data, config.extrapolation_steps);
        results.stage_seconds.push_back({"evaluation", seconds_since(start)});
        if (config.mode == "full" || config.mode == "plugin_test") {
            start = std::chrono::steady_clock::now();
            if (dataset.name != runs.runs.front().dataset)
                dataset = load_dataset(config.data_dir.empty() ? "data/" + runs.runs.front().dataset : config.data_dir,
                                       runs.runs.front().dataset);
            results.plugin = plugin_test(backend, dataset.test, data, *results.extrapolation);
            results.stage_seconds.push_back({"plug_in_test", seconds_since(start)});
        }
    }
    write_results(dir, results);
    write_plots(dir, results);
    // The experiment is complete: its predictor checkpoint no longer marks it unfinished.
    std::error_code error;
    std::filesystem::remove(checkpoint, error);
    if (error) TWP_FAIL("cannot remove " << checkpoint.string() << ": " << error.message());
    std::fputs(summary_text(results).c_str(), stdout);
    std::printf("Results: %s\n", dir.string().c_str());
    return 0;
}

}  // namespace
}  // namespace twp

int main(int argc, char** argv) {
    try {
        const twp::Config config = twp::parse_args(std::vector<std::string>(argv + 1, argv + argc));
        if (config.help) {
            std::fputs(twp::usage_text().c_str(), stdout);
            return 0;
        }
        return twp::run(config);
    } catch (const twp::UsageError& e) {
        std::fprintf(stderr, "twp: %s\nRun `twp --help` for the options.\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "twp: error: %s\n", e.what());
        return 1;
    }
}
