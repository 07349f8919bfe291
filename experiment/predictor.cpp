// Feature space, data preparation, training and inference of the weight predictor; see
// predictor.hpp.
#include "experiment/predictor.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numeric>

#include <zlib.h>

#include "engine/buffer.hpp"
#include "engine/random.hpp"
#include "engine/safetensors.hpp"
#include "experiment/progress.hpp"

namespace twp {

// ---- FeatureSpace ----

std::vector<float> FeatureSpace::to_pca(Backend& backend, const float* raw, int64_t rows) const {
    if (!use_pca) return std::vector<float>(raw, raw + rows * raw_dim);
    std::vector<float> scores(rows * pca.components);
    pca.transform(backend, raw, rows, scores.data());
    return scores;
}

std::vector<float> FeatureSpace::from_pca(Backend& backend, const float* scores, int64_t rows) const {
    if (!use_pca) return std::vector<float>(scores, scores + rows * raw_dim);
    std::vector<float> raw(rows * raw_dim);
    pca.inverse_transform(backend, scores, rows, raw.data());
    return raw;
}

void FeatureSpace::to_model(float* values, int64_t rows) const {
    if (!standardize) return;
    const int64_t d = dim();
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < d; ++j) values[r * d + j] = (values[r * d + j] - mean[j]) / scale[j];
}

void FeatureSpace::from_model(float* values, int64_t rows) const {
    if (!standardize) return;
    const int64_t d = dim();
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < d; ++j) values[r * d + j] = values[r * d + j] * scale[j] + mean[j];
}

// ---- data ----

namespace {

void check_windows(const PredictorData& data, int64_t sequence_length) {
    TWP_CHECK(!data.train_windows.empty(),
              "--sequence_length " << sequence_length << " leaves no training window: each run's train part "
                                   << "needs at least sequence_length + 1 snapshots (take more snapshots per "
                                   << "epoch, more epochs, a larger --train_split or a shorter sequence)");
    TWP_CHECK(!data.test_windows.empty(),
              "--sequence_length " << sequence_length << " leaves no test window: each run's test part "
                                   << "needs at least sequence_length + 1 snapshots (take more snapshots, a "
                                   << "smaller --train_split or a shorter sequence)");
}

PredictorData finish_data(Backend& backend, const WeightRuns& runs, int64_t sequence_length, FeatureSpace space) {
    PredictorData data;
    data.runs = &runs;
    data.space = std::move(space);
    for (const RunSnapshots& r : runs.runs) {
        data.scores.push_back(data.space.to_pca(backend, r.vectors.data(), r.count));
        std::vector<float> model = data.scores.back();
        data.space.to_model(model.data(), r.count);
        data.model.push_back(std::move(model));
    }
    data.train_windows = make_windows(runs, sequence_length, true);
    data.test_windows = make_windows(runs, sequence_length, false);
    check_windows(data, sequence_length);
    return data;
}

}  // namespace

PredictorData prepare_predictor_data(Backend& backend, const WeightRuns& runs, int64_t sequence_length, bool use_pca,
                                     int64_t components, bool standardize, std::string& note) {
    TWP_CHECK(sequence_length >= 1, "--sequence_length must be at least 1, got " << sequence_length);
    // Refuse early, before the (expensive) PCA, when no window fits.
    PredictorData probe;
    probe.train_windows = make_windows(runs, sequence_length, true);
    probe.test_windows = make_windows(runs, sequence_length, false);
    check_windows(probe, sequence_length);

    FeatureSpace space;
    space.raw_dim = runs.dim;
    space.use_pca = use_pca;
    const int64_t n_train = runs.train_snapshots();
    if (use_pca) {
        TWP_CHECK(components >= 1, "--n_components must be at least 1, got " << components);
        std::vector<float> train;
        for (const RunSnapshots& r : runs.runs)
            train.insert(train.end(), r.vectors.begin(), r.vectors.begin() + r.split * runs.dim);
        const int64_t used = std::min({components, n_train, runs.dim});
        if (used < components)
            note += "PCA: --n_components " + std::to_string(components) + " capped at " +
                    std::to_string(used) + " (the number of training snapshots" +
                    (used == runs.dim ? ", the weight count" : "") + "), as the reference does\n";
        space.pca = fit_pca(backend, train.data(), n_train, runs.dim, used);
    }
    if (standardize) {
        const int64_t d = space.dim();
        std::vector<double> sum(d, 0.0), sum_sq(d, 0.0);
        for (const RunSnapshots& r : runs.runs) {
            const std::vector<float> scores = space.to_pca(backend, r.vectors.data(), r.split);
            for (int64_t i = 0; i < r.split; ++i)
                for (int64_t j = 0; j < d; ++j) {
                    sum[j] += scores[i * d + j];
                    sum_sq[j] += double(scores[i * d + j]) * scores[i * d + j];
                }
        }
        space.standardize = true;
        space.mean.resize(d);
        space.scale.resize(d);
        for (int64_t j = 0; j < d; ++j) {
            const double mean = sum[j] / double(n_train);
            const double var = std::max(sum_sq[j] / double(n_train) - mean * mean, 0.0);
            space.mean[j] = float(mean);
            // A constant feature (e.g. a zero-variance PCA tail) keeps scale 1: no division by 0.
            space.scale[j] = var > 1e-24 ? float(std::sqrt(var)) : 1.0f;
        }
    }
    return finish_data(backend, runs, sequence_length, std::move(space));
}

PredictorData apply_feature_space(Backend& backend, const WeightRuns& runs, int64_t sequence_length, FeatureSpace space) {
    TWP_CHECK(space.raw_dim == runs.dim, "the model was fitted on snapshots of " << space.raw_dim
                                                                               << " weights, these have " << runs.dim);
    return finish_data(backend, runs, sequence_length, std::move(space));
}

// ---- training ----

namespace {

// Fills inputs [B, S, D] and targets [B, D] (model space) for windows [first, first + b) of `order`.
void assemble(const PredictorData& data, const std::vector<Window>& windows, const std::vector<int64_t>& order,
              int64_t first, int64_t b, int64_t s, bool delta, std::vector<float>& inputs,
              std::vector<float>& targets) {
    const int64_t d = data.space.dim();
    for (int64_t i = 0; i < b; ++i) {
        const Window& w = windows[order[first + i]];
        const float* run = data.model[w.run_index].data();
        std::copy(run + w.first * d, run + (w.first + s) * d, inputs.begin() + i * s * d);
        const float* next = run + (w.first + s) * d;
        const float* last = run + (w.first + s - 1) * d;
        for (int64_t j = 0; j < d; ++j) targets[i * d + j] = delta ? next[j] - last[j] : next[j];
    }
}

}  // namespace

namespace {

std::string float_text(double value, const char* format) {
    char text[40];
    std::snprintf(text, sizeof text, format, value);
    return text;
}

// The shortest text that reads back as exactly this float ("0.1", not "0.100000001").
std::string float_text(float value) {
    char text[32];
    for (int digits = 6; digits <= 9; ++digits) {
        std::snprintf(text, sizeof text, "%.*g", digits, double(value));
        if (std::strtof(text, nullptr) == value) break;
    }
    return text;
}

// A checksum of what the model is trained on (model-space snapshots, windows): a resume on other
// snapshots, another PCA or other standardization statistics would not continue the same training.
uint32_t data_checksum(const PredictorData& data) {
    uLong crc = crc32_z(0L, Z_NULL, 0);
    for (const std::vector<float>& run : data.model)
        crc = crc32_z(crc, reinterpret_cast<const Bytef*>(run.data()), run.size() * sizeof(float));
    for (const std::vector<Window>* windows : {&data.train_windows, &data.test_windows})
        for (const Window& w : *windows) {
            const int64_t pair[2] = {w.run_index, w.first};
            crc = crc32_z(crc, reinterpret_cast<const Bytef*>(pair), sizeof pair);
        }
    return uint32_t(crc);
}

// What a training is: a checkpoint of another cannot be continued. Each with the flag behind it.
struct Setting {
    std::string key, value, flag;
};
std::vector<Setting> training_settings(const PredictorData& data, const PredictorOptions& options,
                                       const TransformerConfig& config) {
    return {{"dim", std::to_string(config.dim), "--n_components"},
            {"heads", std::to_string(config.heads), "--nhead"},
            {"layers", std::to_string(config.layers), "--num_layers"},
            {"feedforward", std::to_string(config.feedforward), "--dim_feedforward"},
            {"dropout", float_text(config.dropout), "--dropout"},
            {"sequence_length", std::to_string(config.sequence_length), "--sequence_length"},
            {"target", options.delta_target ? "delta" : "next", "--target"},
            {"batch_size", std::to_string(options.batch_size), "--batch_size"},
            {"learning_rate", float_text(options.learning_rate), "--learning_rate"},
            {"epochs", std::to_string(options.epochs), "--predictor_epochs"},
            {"seed", std::to_string(options.seed), "--random_seed"},
            {"train_windows", std::to_string(data.train_windows.size()), "--train_split"},
            {"test_windows", std::to_string(data.test_windows.size()), "--train_split"},
            {"data_crc32", std::to_string(data_checksum(data)),
             "the snapshots in --snapshot_dir, --apply_pca, --standardize"}};
}

constexpr const char* kCheckpointFormat = "twp-predictor-checkpoint/1";

}  // namespace

std::filesystem::path predictor_checkpoint_path(const std::filesystem::path& experiment_dir) {
    return experiment_dir / "models" / "predictor_checkpoint.safetensors";
}

void save_predictor_checkpoint(const std::filesystem::path& path, const PredictorCheckpoint& c) {
    const int64_t count = int64_t(c.parameters.size());
    TWP_CHECK(int64_t(c.adam_m.size()) == count && int64_t(c.adam_v.size()) == count &&
                  int64_t(c.best_parameters.size()) == count,
              "predictor checkpoint: parameters, Adam moments and best parameters differ in size");
    const int64_t epochs = int64_t(c.history.train_loss.size());
    TWP_CHECK(epochs == c.epoch && int64_t(c.history.test_loss.size()) == epochs,
              "predictor checkpoint: the loss history does not cover the epochs done");
    SafetensorsFile file;
    file.tensors.push_back(make_f32_tensor("parameters", {count}, c.parameters.data()));
    file.tensors.push_back(make_f32_tensor("adam_m", {count}, c.adam_m.data()));
    file.tensors.push_back(make_f32_tensor("adam_v", {count}, c.adam_v.data()));
    file.tensors.push_back(make_f32_tensor("best_parameters", {count}, c.best_parameters.data()));
    file.tensors.push_back(make_tensor("train_order", DType::I64, {int64_t(c.train_order.size())}, c.train_order.data()));
    file.tensors.push_back(make_tensor("train_loss", DType::F64, {epochs}, c.history.train_loss.data()));
    file.tensors.push_back(make_tensor("test_loss", DType::F64, {epochs}, c.history.test_loss.data()));
    file.metadata = c.settings;
    file.metadata["format"] = kCheckpointFormat;
    file.metadata["epoch"] = std::to_string(c.epoch);
    file.metadata["step"] = std::to_string(c.step);
    file.metadata["dropout_counter"] = std::to_string(c.dropout_counter);
    file.metadata["shuffle_position"] = std::to_string(c.shuffle.position);
    file.metadata["shuffle_used"] = std::to_string(c.shuffle.used);
    file.metadata["best_epoch"] = std::to_string(c.history.best_epoch);
    file.metadata["best_test_loss"] = float_text(c.history.best_test_loss, "%.17g");
    save_safetensors(path, file);
}

PredictorCheckpoint load_predictor_checkpoint(const std::filesystem::path& path) {
    const SafetensorsFile file = load_safetensors(path);
    const auto format = file.metadata.find("format");
    TWP_CHECK(format != file.metadata.end() && format->second == kCheckpointFormat,
              path.string() << " is not a twp predictor training checkpoint");
    PredictorCheckpoint c;
    c.settings = file.metadata;
    for (const char* key : {"format", "epoch", "step", "dropout_counter", "shuffle_position", "shuffle_used",
                            "best_epoch", "best_test_loss"})
        c.settings.erase(key);
    c.epoch = metadata_number<int>(file, "epoch");
    c.step = metadata_number<int64_t>(file, "step");
    c.dropout_counter = metadata_number<uint64_t>(file, "dropout_counter");
    c.shuffle.position = metadata_number<uint64_t>(file, "shuffle_position");
    c.shuffle.used = metadata_number<int>(file, "shuffle_used");
    c.history.best_epoch = metadata_number<int>(file, "best_epoch");
    const auto best = file.metadata.find("best_test_loss");
    TWP_CHECK(best != file.metadata.end(), path.string() << " has no 'best_test_loss' in its metadata");
    c.history.best_test_loss = std::strtod(best->second.c_str(), nullptr);
    const auto floats = [&](const char* name) {
        const TensorRecord& t = file.at(name);
        TWP_CHECK(t.dtype == DType::F32, path.string() << ": tensor " << name << " is not F32");
        return std::vector<float>(t.f32(), t.f32() + t.numel());
    };
    const auto doubles = [&](const char* name) {
        const TensorRecord& t = file.at(name);
        TWP_CHECK(t.dtype == DType::F64, path.string() << ": tensor " << name << " is not F64");
        return std::vector<double>(t.f64(), t.f64() + t.numel());
    };
    c.parameters = floats("parameters");
    c.adam_m = floats("adam_m");
    c.adam_v = floats("adam_v");
    c.best_parameters = floats("best_parameters");
    const TensorRecord& order = file.at("train_order");
    TWP_CHECK(order.dtype == DType::I64, path.string() << ": tensor train_order is not I64");
    c.train_order.assign(order.i64(), order.i64() + order.numel());
    c.history.train_loss = doubles("train_loss");
    c.history.test_loss = doubles("test_loss");
    const size_t count = c.parameters.size();
    TWP_CHECK(c.adam_m.size() == count && c.adam_v.size() == count && c.best_parameters.size() == count &&
                  c.epoch >= 1 && int64_t(c.history.train_loss.size()) == c.epoch &&
                  int64_t(c.history.test_loss.size()) == c.epoch && c.history.best_epoch >= 1 &&
                  c.history.best_epoch <= c.epoch && c.step >= 0,
              path.string() << ": the checkpoint's tensors and counters do not fit together");
    std::vector<bool> seen(c.train_order.size(), false);
    for (const int64_t w : c.train_order) {
        TWP_CHECK(w >= 0 && w < int64_t(seen.size()) && !seen[w], path.string() << ": train_order is not a permutation");
        seen[w] = true;
    }
    return c;
}

std::filesystem::path find_unfinished_experiment(const std::filesystem::path& results_dir) {
    std::filesystem::path found;
    std::filesystem::file_time_type newest;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(results_dir, error)) {
        if (!entry.is_directory(error) || entry.path().filename().string().rfind("experiment_", 0) != 0) continue;
        const std::filesystem::path checkpoint = predictor_checkpoint_path(entry.path());
        if (!std::filesystem::is_regular_file(checkpoint, error)) continue;
        const auto written = std::filesystem::last_write_time(checkpoint, error);
        if (error) continue;
        if (found.empty() || written > newest || (written == newest && entry.path() > found)) {
            found = entry.path();
            newest = written;
        }
    }
    return found;
}

TrainedPredictor train_predictor(Backend& backend, const PredictorData& data,
                                 const PredictorOptions& options) {
    const auto start = std::chrono::steady_clock::now();
    TrainedPredictor result;
    result.config = options.model;
    result.config.dim = data.space.dim();
    result.config.sequence_length = options.sequence_length;
    result.delta_target = options.delta_target;
    const TransformerConfig& config = result.config;
    const int64_t s = config.sequence_length, d = config.dim, batch = options.batch_size;
    TWP_CHECK(batch >= 1, "--batch_size must be at least 1, got " << batch);
    TWP_CHECK(options.epochs >= 1, "--predictor_epochs must be at least 1, got " << options.epochs);
    TWP_CHECK(!options.resume || !options.checkpoint_path.empty(), "resuming needs a checkpoint path");

    TransformerPredictor model(backend, config, batch);
    model.initialize(options.seed);
    const int64_t count = model.layout().total();
    Buffer<float> m(backend, count), v(backend, count);
    backend.fill(m.view(), 0.0f);
    backend.fill(v.view(), 0.0f);
    Buffer<float> inputs(backend, batch * s * d), targets(backend, batch * d), dpred(backend, batch * d),
        loss(backend, 1);
    std::vector<float> host_inputs(batch * s * d), host_targets(batch * d);
    const AdamConfig adam{options.learning_rate, 0.9f, 0.999f, 1e-8f};

    std::vector<int64_t> train_order(data.train_windows.size()), test_order(data.test_windows.size());
    std::iota(train_order.begin(), train_order.end(), 0);
    std::iota(test_order.begin(), test_order.end(), 0);
    Rng shuffle(options.seed, RngStream::kShuffle);
    int64_t step = 0;
    uint64_t dropout_counter = 0;
    result.history.best_test_loss = INFINITY;
    int first_epoch = 1, checkpoint_epoch = 0;
    auto last_checkpoint = start;

    const std::vector<Setting> settings = training_settings(data, options, config);
    if (options.resume) {
        const std::string folder = options.checkpoint_path.parent_path().parent_path().string();
        PredictorCheckpoint c;
        try {
            c = load_predictor_checkpoint(options.checkpoint_path);
        } catch (const Error& e) {
            TWP_FAIL("cannot resume the predictor training of " << folder << ": " << e.what()
                     << "; start a new experiment without --resume");
        }
        for (const Setting& setting : settings) {
            const auto found = c.settings.find(setting.key);
            const std::string written = found == c.settings.end() ? "(none)" : found->second;
            if (written != setting.value)
                TWP_FAIL("cannot resume the predictor training of " << folder << ": it was started with "
                         << setting.key << " " << written << " (" << setting.flag << "), this command has "
                         << setting.value << "; resume with the flags in " << folder
                         << "/config.txt, or start a new experiment without --resume");
        }
        TWP_CHECK(int64_t(c.parameters.size()) == count && c.train_order.size() == train_order.size() &&
                      c.epoch <= options.epochs && shuffle.set_state(c.shuffle),
                  options.checkpoint_path.string() << " does not fit this model; start a new experiment without --resume");
        model.parameters().upload(c.parameters);
        m.upload(c.adam_m);
        v.upload(c.adam_v);
        train_order = std::move(c.train_order);
        step = c.step;
        dropout_counter = c.dropout_counter;
        result.history = std::move(c.history);
        result.best_parameters = std::move(c.best_parameters);
        checkpoint_epoch = c.epoch;
        first_epoch = c.epoch + 1;
        std::fprintf(stderr, "twp: predictor training resumed after epoch %d/%d (step %lld)\n", c.epoch,
                     options.epochs, static_cast<long long>(step));
    }
    Progress progress("predictor", int64_t(options.epochs - first_epoch + 1) * int64_t(train_order.size()), "win");

    // A NaN or Inf: stop with where it happened and what to try; the last checkpoint stays.
    const auto fail = [&](int epoch, const std::string& where, const std::string& what) {
        const std::string kept =
            checkpoint_epoch > 0 ? "the checkpoint of epoch " + std::to_string(checkpoint_epoch) + " stays in " +
                                       options.checkpoint_path.string()
                                 : std::string("nothing was saved");
        TWP_FAIL("predictor training, epoch " << epoch << ", " << where << ": " << what << ". Training stopped; "
                 << kept << ". The optimization diverged: try a lower --learning_rate (now " << options.learning_rate
                 << ")" << (data.space.standardize ? "" : " or --standardize (PCA scores of very different scales)"));
    };

    const auto run_batches = [&](const std::vector<Window>& windows, const std::vector<int64_t>& order,
                                 bool train, int epoch) {
        double loss_sum = 0;
        int64_t batches = 0;
        const int64_t total = (int64_t(order.size()) + batch - 1) / batch;
        for (int64_t first = 0; first < int64_t(order.size()); first += batch) {
            const int64_t b = std::min(batch, int64_t(order.size()) - first);
            assemble(data, windows, order, first, b, s, options.delta_target, host_inputs, host_targets);
            inputs.upload(host_inputs.data(), b * s * d);
            targets.upload(host_targets.data(), b * d);
            const Tensor pred = model.forward(inputs.view({b, s, d}), train ? Pass::kTraining : Pass::kInference,
                                              options.seed, dropout_counter);
            backend.mse_loss_forward(pred, targets.view({b, d}), loss.view({1}));
            float value = 0;
            loss.download(&value, 1);
            if (!std::isfinite(value))
                fail(epoch,
                     train ? "step " + std::to_string(step + 1) + " (batch " + std::to_string(batches + 1) + " of " +
                                 std::to_string(total) + ")"
                           : "test pass after step " + std::to_string(step),
                     std::string(train ? "the training" : "the test") + " MSE became " + float_text(value, "%g"));
            loss_sum += value;
            ++batches;
            if (train) {
                dropout_counter += model.dropout_counters(b);
                backend.mse_loss_backward(pred, targets.view({b, d}), dpred.view({b, d}));
                model.backward(dpred.view({b, d}));
                backend.adam_update(model.parameters().view(), model.gradients().view(), m.view(), v.view(),
                                    ++step, adam);
            }
        }
        // As the reference: the mean of the batch means.
        return loss_sum / double(std::max<int64_t>(batches, 1));
    };

    for (int epoch = first_epoch; epoch <= options.epochs; ++epoch) {
        for (int64_t i = int64_t(train_order.size()) - 1; i > 0; --i)
            std::swap(train_order[i], train_order[shuffle.below(uint32_t(i + 1))]);
        const double train_loss = run_batches(data.train_windows, train_order, true, epoch);
        const double test_loss = run_batches(data.test_windows, test_order, false, epoch);
        std::vector<float> parameters = model.parameters().download();
        for (const ParamEntry& e : model.layout().entries())
            for (int64_t i = e.offset; i < e.offset + e.shape.numel(); ++i)
                if (!std::isfinite(parameters[i]))
                    fail(epoch, "after step " + std::to_string(step),
                         "the parameters became non-finite (" + e.name + " holds " + float_text(parameters[i], "%g") + ")");
        result.history.train_loss.push_back(train_loss);
        result.history.test_loss.push_back(test_loss);
        if (test_loss < result.history.best_test_loss) {
            result.history.best_test_loss = test_loss;
            result.history.best_epoch = epoch;
            result.best_parameters = parameters;
        }
        const bool checkpoint_due =
            epoch == options.epochs || epoch == options.stop_after_epoch ||
            std::chrono::duration<double>(std::chrono::steady_clock::now() - last_checkpoint).count() >=
                options.checkpoint_seconds;
        if (!options.checkpoint_path.empty() && checkpoint_due) {
            PredictorCheckpoint c;
            for (const Setting& setting : settings) c.settings[setting.key] = setting.value;
            c.epoch = epoch;
            c.step = step;
            c.dropout_counter = dropout_counter;
            c.shuffle = shuffle.state();
            c.train_order = train_order;
            c.parameters = std::move(parameters);
            c.adam_m = m.download();
            c.adam_v = v.download();
            c.best_parameters = result.best_parameters;
            c.history = result.history;
            save_predictor_checkpoint(options.checkpoint_path, c);
            checkpoint_epoch = epoch;
            last_checkpoint = std::chrono::steady_clock::now();
        }
        char line[160];
        std::snprintf(line, sizeof line, "predictor epoch %d/%d: train MSE %.6g, test MSE %.6g%s", epoch,
                      options.epochs, train_loss, test_loss,
                      result.history.best_epoch == epoch ? " (best)" : "");
        if (options.show_progress)
            progress.update(int64_t(epoch - first_epoch + 1) * int64_t(train_order.size()));
        if (options.show_progress || epoch == options.epochs || epoch % 10 == 0) progress.print_line(line);
        if (epoch == options.stop_after_epoch)
            TWP_FAIL("predictor training stopped after epoch " << epoch << " as asked (stop_after_epoch)");
    }
    if (options.show_progress) progress.finish();
    result.last_parameters = model.parameters().download();
    if (result.best_parameters.empty()) result.best_parameters = result.last_parameters;
    result.history.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
}

// ---- inference ----

Predictor::Predictor(Backend& backend, const TransformerConfig& config, const std::vector<float>& parameters,
                     bool delta_target, const FeatureSpace& space)
    : backend_(backend), model_(backend, config, 64), inputs_(backend, 64 * config.sequence_length * config.dim),
      delta_target_(delta_target), space_(space) {
    TWP_CHECK(int64_t(parameters.size()) == model_.layout().total(),
              "predictor parameters: " << parameters.size() << " values, the model has " << model_.layout().total());
    model_.parameters().upload(parameters);
}

std::vector<float> Predictor::predict(const std::vector<float>& windows, int64_t count) {
    const int64_t s = config().sequence_length, d = config().dim;
    TWP_CHECK(int64_t(windows.size()) == count * s * d, "predict: windows hold " << windows.size()
                                                                                 << " values, expected " << count * s * d);
    std::vector<float> model_inputs = windows;
    space_.to_model(model_inputs.data(), count * s);
    std::vector<float> out(count * d);
    for (int64_t first = 0; first < count; first += 64) {
        const int64_t b = std::min<int64_t>(64, count - first);
        inputs_.upload(model_inputs.data() + first * s * d, b * s * d);
        const Tensor pred = model_.forward(inputs_.view({b, s, d}), Pass::kInference);
        std::vector<float> host(b * d);
        backend_.copy_to_host(host.data(), pred.data, sizeof(float) * b * d);
        for (int64_t i = 0; i < b; ++i)
            for (int64_t j = 0; j < d; ++j) {
                const float last = model_inputs[((first + i) * s + s - 1) * d + j];
                out[(first + i) * d + j] = delta_target_ ? last + host[i * d + j] : host[i * d + j];
            }
    }
    space_.from_model(out.data(), count);
    return out;
}

// ---- files ----

void save_predictor(const std::filesystem::path& path, const TransformerConfig& config, bool delta_target,
                    const std::vector<float>& parameters, const FeatureSpace& space,
                    const std::map<std::string, std::string>& extra_metadata) {
    const ParamLayout layout = TransformerPredictor::make_layout(config);
    TWP_CHECK(int64_t(parameters.size()) == layout.total(), "saving " << parameters.size()
                                                                      << " parameters for a model of " << layout.total());
    SafetensorsFile file;
    for (const ParamEntry& e : layout.entries())
        file.tensors.push_back(make_f32_tensor(
            e.name, std::vector<int64_t>(e.shape.dims.begin(), e.shape.dims.begin() + e.shape.rank),
            parameters.data() + e.offset));
    if (space.standardize) {
        file.tensors.push_back(make_f32_tensor("twp.standardize.mean", {space.dim()}, space.mean.data()));
        file.tensors.push_back(make_f32_tensor("twp.standardize.scale", {space.dim()}, space.scale.data()));
    }
    file.metadata = extra_metadata;
    file.metadata["format"] = "twp-transformer-predictor/1";
    file.metadata["input_dim"] = std::to_string(config.dim);
    file.metadata["nhead"] = std::to_string(config.heads);
    file.metadata["num_layers"] = std::to_string(config.layers);
    file.metadata["dim_feedforward"] = std::to_string(config.feedforward);
    file.metadata["dropout"] = std::to_string(config.dropout);
    file.metadata["sequence_length"] = std::to_string(config.sequence_length);
    file.metadata["target"] = delta_target ? "delta" : "next";
    file.metadata["standardize"] = space.standardize ? "true" : "false";
    file.metadata["raw_dim"] = std::to_string(space.raw_dim);
    file.metadata["pca"] = space.use_pca ? "pca.safetensors" : "none";
    save_safetensors(path, file);
    if (space.use_pca) save_pca(path.parent_path() / "pca.safetensors", space.pca);
}

LoadedPredictor load_predictor(const std::filesystem::path& path) {
    std::error_code error;
    if (!std::filesystem::is_regular_file(path, error))
        TWP_FAIL("--model_path " << path.string() << " does not exist (it is a predictor_best.safetensors "
                                 << "or predictor_last.safetensors from a results folder's models/)");
    const SafetensorsFile file = load_safetensors(path);
    const auto meta = [&](const char* key) {
        const auto it = file.metadata.find(key);
        if (it == file.metadata.end()) TWP_FAIL(path.string() << " is not a twp predictor: no '" << key << "' in its metadata");
        return it->second;
    };
    TWP_CHECK(meta("format") == "twp-transformer-predictor/1", path.string() << " is not a twp predictor file");
    LoadedPredictor loaded;
    try {
        loaded.config.dim = std::stoll(meta("input_dim"));
        loaded.config.heads = std::stoi(meta("nhead"));
        loaded.config.layers = std::stoi(meta("num_layers"));
        loaded.config.feedforward = std::stoll(meta("dim_feedforward"));
        loaded.config.dropout = std::stof(meta("dropout"));
        loaded.config.sequence_length = std::stoll(meta("sequence_length"));
        loaded.space.raw_dim = std::stoll(meta("raw_dim"));
    } catch (const std::logic_error&) {
        TWP_FAIL(path.string() << ": malformed number in the predictor's metadata");
    }
    loaded.delta_target = meta("target") == "delta";
    const ParamLayout layout = TransformerPredictor::make_layout(loaded.config);
    loaded.parameters.resize(layout.total());
    for (const ParamEntry& e : layout.entries()) {
        const TensorRecord& t = file.at(e.name);
        TWP_CHECK(t.dtype == DType::F32 && t.numel() == e.shape.numel(),
                  path.string() << ": tensor " << e.name << " does not match the configuration in its metadata");
        std::copy(t.f32(), t.f32() + t.numel(), loaded.parameters.begin() + e.offset);
    }
    loaded.space.use_pca = meta("pca") != "none";
    if (loaded.space.use_pca) {
        loaded.space.pca = load_pca(path.parent_path() / "pca.safetensors");
        TWP_CHECK(loaded.space.pca.components == loaded.config.dim,
                  "the PCA beside " << path.string() << " has " << loaded.space.pca.components
                                    << " components, the predictor " << loaded.config.dim);
    }
    if (meta("standardize") == "true") {
        loaded.space.standardize = true;
        const TensorRecord& mean = file.at("twp.standardize.mean");
        const TensorRecord& scale = file.at("twp.standardize.scale");
        TWP_CHECK(mean.numel() == loaded.config.dim && scale.numel() == loaded.config.dim,
                  path.string() << ": standardization statistics of the wrong width");
        loaded.space.mean.assign(mean.f32(), mean.f32() + mean.numel());
        loaded.space.scale.assign(scale.f32(), scale.f32() + scale.numel());
    }
    return loaded;
}

}  // namespace twp
