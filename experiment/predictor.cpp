// Feature space, data preparation, training and inference of the weight predictor; see
// predictor.hpp.
#include "experiment/predictor.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "engine/buffer.hpp"
#include "engine/random.hpp"
#include "engine/safetensors.hpp"
#include "experiment/progress.hpp"

namespace twp {

// ---- FeatureSpace ----

std::vector<float> FeatureSpace::to_pca(const float* raw, int64_t rows) const {
    if (!use_pca) return std::vector<float>(raw, raw + rows * raw_dim);
    std::vector<float> scores(rows * pca.components);
    pca.transform(raw, rows, scores.data());
    return scores;
}

std::vector<float> FeatureSpace::from_pca(const float* scores, int64_t rows) const {
    if (!use_pca) return std::vector<float>(scores, scores + rows * raw_dim);
    std::vector<float> raw(rows * raw_dim);
    pca.inverse_transform(scores, rows, raw.data());
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

PredictorData finish_data(const WeightRuns& runs, int64_t sequence_length, FeatureSpace space) {
    PredictorData data;
    data.runs = &runs;
    data.space = std::move(space);
    for (const RunSnapshots& r : runs.runs) {
        data.scores.push_back(data.space.to_pca(r.vectors.data(), r.count));
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

PredictorData prepare_predictor_data(const WeightRuns& runs, int64_t sequence_length, bool use_pca,
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
        space.pca = fit_pca(train.data(), n_train, runs.dim, used);
    }
    if (standardize) {
        const int64_t d = space.dim();
        std::vector<double> sum(d, 0.0), sum_sq(d, 0.0);
        for (const RunSnapshots& r : runs.runs) {
            const std::vector<float> scores = space.to_pca(r.vectors.data(), r.split);
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
    return finish_data(runs, sequence_length, std::move(space));
}

PredictorData apply_feature_space(const WeightRuns& runs, int64_t sequence_length, FeatureSpace space) {
    TWP_CHECK(space.raw_dim == runs.dim, "the model was fitted on snapshots of " << space.raw_dim
                                                                               << " weights, these have " << runs.dim);
    return finish_data(runs, sequence_length, std::move(space));
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
    Progress progress("predictor", int64_t(options.epochs) * int64_t(train_order.size()), "win");

    const auto run_batches = [&](const std::vector<Window>& windows, const std::vector<int64_t>& order,
                                 bool train) {
        double loss_sum = 0;
        int64_t batches = 0;
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

    for (int epoch = 1; epoch <= options.epochs; ++epoch) {
        for (int64_t i = int64_t(train_order.size()) - 1; i > 0; --i)
            std::swap(train_order[i], train_order[shuffle.below(uint32_t(i + 1))]);
        const double train_loss = run_batches(data.train_windows, train_order, true);
        const double test_loss = run_batches(data.test_windows, test_order, false);
        result.history.train_loss.push_back(train_loss);
        result.history.test_loss.push_back(test_loss);
        if (test_loss < result.history.best_test_loss) {
            result.history.best_test_loss = test_loss;
            result.history.best_epoch = epoch;
            result.best_parameters = model.parameters().download();
        }
        char line[160];
        std::snprintf(line, sizeof line, "predictor epoch %d/%d: train MSE %.6g, test MSE %.6g%s", epoch,
                      options.epochs, train_loss, test_loss,
                      result.history.best_epoch == epoch ? " (best)" : "");
        if (options.show_progress) progress.update(int64_t(epoch) * int64_t(train_order.size()));
        if (options.show_progress || epoch == options.epochs || epoch % 10 == 0) progress.print_line(line);
    }
    if (options.show_progress) progress.finish();
    result.last_parameters = model.parameters().download();
    if (result.best_parameters.empty()) result.best_parameters = result.last_parameters;  // all NaN
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
