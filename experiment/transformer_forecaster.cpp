// The transformer forecaster; see transformer_forecaster.hpp.
#include "experiment/transformer_forecaster.hpp"

#include <cstdio>
#include <cstdlib>

#include "engine/error.hpp"
#include "experiment/config.hpp"

namespace twp {

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

TransformerForecaster::TransformerForecaster(const ForecasterContext& context)
    : backend_(context.backend), command_(context.config), space_(context.data.space),
      experiment_dir_(context.experiment_dir), resume_(context.resume) {
    if (context.loaded) {
        config_ = context.loaded->config;
        delta_target_ = context.loaded->delta_target;
        parameters_ = context.loaded->parameters;
        model_path_ = command_.model_path;
    } else {
        config_ = model_config(command_, context.data.space.dim());
        delta_target_ = command_.target == "delta";
    }
}

const ForecasterNames& TransformerForecaster::names() const {
    static const ForecasterNames names{"transformer", "transformer", "transformer", "transformer"};
    return names;
}

void TransformerForecaster::fit(const PredictorData& data) {
    if (!parameters_.empty()) return;  // loaded trained
    PredictorOptions options;
    options.sequence_length = config_.sequence_length;
    options.batch_size = command_.batch_size;
    options.learning_rate = float(command_.learning_rate);
    options.epochs = command_.predictor_epochs;
    options.seed = command_.random_seed;
    options.delta_target = delta_target_;
    options.model = config_;
    options.checkpoint_path = predictor_checkpoint_path(experiment_dir_);
    options.resume = resume_;
    if (const char* stop = std::getenv("TWP_TEST_STOP_AFTER_PREDICTOR_EPOCH")) options.stop_after_epoch = std::atoi(stop);
    std::fprintf(stderr, "twp: transformer %lld wide, %d heads, %d layers, feed-forward %lld, %zu train and %zu test windows\n",
                 static_cast<long long>(config_.dim), config_.heads, config_.layers,
                 static_cast<long long>(config_.feedforward), data.train_windows.size(), data.test_windows.size());
    const TrainedPredictor trained = train_predictor(backend_, data, options);
    config_ = trained.config;
    const std::filesystem::path models = experiment_dir_ / "models";
    save_predictor(models / "predictor_best.safetensors", trained.config, trained.delta_target, trained.best_parameters,
                   data.space,
                   {{"epoch", std::to_string(trained.history.best_epoch)},
                    {"test_loss", std::to_string(trained.history.best_test_loss)}});
    save_predictor(models / "predictor_last.safetensors", trained.config, trained.delta_target, trained.last_parameters,
                   data.space,
                   {{"epoch", std::to_string(trained.history.test_loss.size())},
                    {"test_loss", std::to_string(trained.history.test_loss.back())}});
    model_path_ = (models / "predictor_best.safetensors").string();
    parameters_ = trained.best_parameters;  // evaluated as the reference does: the best checkpoint
    history_ = trained.history;
}

std::vector<float> TransformerForecaster::predict(const std::vector<History>& histories, int64_t width) {
    TWP_CHECK(!parameters_.empty(), "the transformer forecaster predicts before it was fitted");
    const int64_t s = config_.sequence_length, d = config_.dim;
    TWP_CHECK(width == d, "the transformer forecasts " << d << " PCA scores, asked for vectors of " << width);
    if (!predictor_) predictor_.emplace(backend_, config_, parameters_, delta_target_, space_);
    std::vector<float> windows(histories.size() * s * d);
    for (size_t i = 0; i < histories.size(); ++i) {
        const History& h = histories[i];
        TWP_CHECK(h.length >= s, "the transformer needs " << s << " vectors of history, got " << h.length);
        std::copy(h.vectors + (h.length - s) * d, h.vectors + h.length * d, windows.begin() + i * s * d);
    }
    return predictor_->predict(windows, int64_t(histories.size()));
}

std::unique_ptr<Forecaster> make_transformer_forecaster(const ForecasterContext& context) {
    return std::make_unique<TransformerForecaster>(context);
}

}  // namespace twp
