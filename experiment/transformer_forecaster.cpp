// The transformer forecasters, seed and transformer; see transformer_forecaster.hpp.
#include "experiment/transformer_forecaster.hpp"

#include <algorithm>
#include <cmath>
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

// Chosen on the validation MSE (model space) of the real snapshots (3 runs x 41, PCA to 60
// components, 39 train and 12 validation windows) only. Tried, peak / min learning rate, warmup,
// steps, patience, batch -> best validation MSE (at epoch): 1e-3/1e-5/100/2000/500/16 -> 1.9925
// (1); 1e-4/1e-6/100/2000/500/16 -> 1.99243 (1); 3e-5/1e-6/... -> 1.99243 (1); 1e-4/1e-6/.../4 ->
// 1.99245 (1). Every one got worse on the validation windows from its first epochs on (the train
// MSE falling): early stopping ends each after the patience, keeping its start.
const TransformerRecipeSettings kTransformerRecipe{
    /*peak_learning_rate=*/1e-4f, /*min_learning_rate=*/1e-6f, /*warmup_steps=*/100,
    /*total_steps=*/2000,         /*patience_steps=*/500,       /*batch_size=*/16};

namespace {

SelectionSet selection_set(const Config& command) {
    return command.selection == "test" ? SelectionSet::kTest : SelectionSet::kValidation;
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

std::string number(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%.6g", value);
    return text;
}

const char* recipe_key(TransformerRecipe recipe) { return recipe == TransformerRecipe::kSeed ? "seed" : "transformer"; }

}  // namespace

PredictorOptions recipe_options(TransformerRecipe recipe, const Config& command, const TransformerConfig& config,
                                const PredictorData& data) {
    PredictorOptions options;
    options.sequence_length = config.sequence_length;
    options.seed = command.random_seed;
    options.model = config;
    options.selection = selection_set(command);
    if (recipe == TransformerRecipe::kSeed) {
        options.batch_size = command.batch_size;
        options.learning_rate = float(command.learning_rate);
        options.epochs = command.predictor_epochs;
        options.delta_target = command.target == "delta";
        return options;
    }
    const TransformerRecipeSettings& r = kTransformerRecipe;
    const int64_t batches = ceil_div(std::max<int64_t>(int64_t(data.train_windows.size()), 1), r.batch_size);
    options.batch_size = r.batch_size;
    options.learning_rate = r.peak_learning_rate;
    options.min_learning_rate = r.min_learning_rate;
    options.warmup_steps = r.warmup_steps;
    options.decay_steps = r.total_steps;
    options.epochs = int(ceil_div(r.total_steps, batches));
    options.patience = int(ceil_div(r.patience_steps, batches));
    options.delta_target = true;
    options.zero_output_head = true;
    options.select_initial = true;
    return options;
}

TransformerForecaster::TransformerForecaster(const ForecasterContext& context, TransformerRecipe recipe)
    : backend_(context.backend), command_(context.config), recipe_(recipe), space_(context.data.space),
      experiment_dir_(context.experiment_dir), resume_(context.resume) {
    if (context.loaded) {
        TWP_CHECK(context.loaded->forecaster == recipe_key(recipe),
                  "the " << recipe_key(recipe) << " forecaster made from a file of " << context.loaded->forecaster);
        config_ = context.loaded->config;
        delta_target_ = context.loaded->delta_target;
        parameters_ = context.loaded->parameters;
        model_path_ = command_.model_path;
        return;
    }
    config_ = model_config(command_, context.data.space.dim());
    if (recipe == TransformerRecipe::kSeed) {
        delta_target_ = command_.target == "delta";
    } else {
        delta_target_ = true;
        // Its own statistics, on the PCA scores (the data's model space is standardized only
        // with --standardize, which is seed's).
        space_.standardize = true;
        const int64_t floored =
            fit_standardization(context.data.scores, context.data.runs, space_.dim(), space_.mean, space_.scale);
        if (floored > 0)
            std::fprintf(stderr, "twp: transformer: %lld of %lld components standardized by the floor (%g of the largest "
                         "standard deviation)\n", static_cast<long long>(floored), static_cast<long long>(space_.dim()),
                         kStandardizeFloor);
    }
}

const ForecasterNames& TransformerForecaster::names() const {
    static const ForecasterNames seed{"seed", "seed (the reference's transformer)", "seed", "the reference's transformer"};
    static const ForecasterNames transformer{"transformer", "transformer (delta, standardized, validated)", "transformer",
                                             "the transformer"};
    return recipe_ == TransformerRecipe::kSeed ? seed : transformer;
}

void TransformerForecaster::fit(const PredictorData& data) {
    if (!parameters_.empty()) return;  // loaded trained
    const std::string key = names().key;
    PredictorOptions options = recipe_options(recipe_, command_, config_, data);
    options.checkpoint_path = predictor_checkpoint_path(experiment_dir_, key);
    options.resume = resume_;
    if (const char* stop = std::getenv("TWP_TEST_STOP_AFTER_PREDICTOR_EPOCH")) options.stop_after_epoch = std::atoi(stop);
    std::fprintf(stderr,
                 "twp: %s: transformer %lld wide, %d heads, %d layers, feed-forward %lld, %zu train, %zu validation "
                 "and %zu test windows, chosen on the %s windows\n",
                 key.c_str(), static_cast<long long>(config_.dim), config_.heads, config_.layers,
                 static_cast<long long>(config_.feedforward), data.train_windows.size(), data.validation_windows.size(),
                 data.test_windows.size(), selection_set_name(options.selection));
    // The model-space series: the data's own for seed, the recipe's standardization otherwise.
    std::vector<std::vector<float>> own_model;
    if (recipe_ == TransformerRecipe::kTransformer)
        for (size_t r = 0; r < data.scores.size(); ++r) {
            own_model.push_back(data.scores[r]);
            space_.to_model(own_model.back().data(), data.runs.runs[r].count);
        }
    const ModelSeries series = recipe_ == TransformerRecipe::kSeed ? ModelSeries{data.space, data.model}
                                                                  : ModelSeries{space_, own_model};
    const TrainedPredictor trained = train_predictor(backend_, data, series, options);
    config_ = trained.config;
    const PredictorHistory& h = trained.history;
    const std::string loss_key = std::string(selection_set_name(h.selection)) + "_loss";
    const std::filesystem::path models = experiment_dir_ / "models";
    save_predictor(models / (key + "_best.safetensors"), key, trained.config, trained.delta_target,
                   trained.best_parameters, space_,
                   {{"epoch", std::to_string(h.best_epoch)}, {loss_key, std::to_string(h.best_selection_loss)}});
    save_predictor(models / (key + "_last.safetensors"), key, trained.config, trained.delta_target,
                   trained.last_parameters, space_,
                   {{"epoch", std::to_string(h.selection_loss.size())},
                    {loss_key, std::to_string(h.selection_loss.back())}});
    model_path_ = (models / (key + "_best.safetensors")).string();
    parameters_ = trained.best_parameters;  // the best on the selection windows is the one evaluated
    options_ = options;
    history_ = trained.history;
}

std::vector<ForecasterFact> TransformerForecaster::facts() const {
    std::vector<ForecasterFact> facts = {{"target", delta_target_ ? "delta" : "next"},
                                         {"standardized", space_.standardize ? "yes" : "no"}};
    if (!history_ || !options_) return facts;
    const PredictorHistory& h = *history_;
    const PredictorOptions& o = *options_;
    std::string schedule = "constant " + number(o.learning_rate);
    if (o.warmup_steps > 0 || o.decay_steps > 0) {
        schedule = o.warmup_steps > 0 ? "linear warmup over " + std::to_string(o.warmup_steps) + " steps to " +
                                            number(o.learning_rate)
                                      : "from " + number(o.learning_rate);
        if (o.decay_steps > o.warmup_steps)
            schedule += ", cosine decay to " + number(o.min_learning_rate) + " at step " + std::to_string(o.decay_steps);
    }
    const std::vector<ForecasterFact> trained = {
        {"selection", selection_set_name(h.selection)},
        {"best_epoch", std::to_string(h.best_epoch)},
        {"best_step", std::to_string(h.best_step)},
        {std::string("best_") + selection_set_name(h.selection) + "_loss", number(h.best_selection_loss)},
        {"epochs_run", std::to_string(h.selection_loss.size())},
        {"steps_run", std::to_string(h.steps)},
        {"stopped_early", h.stopped_early ? "yes" : "no"},
        {"learning_rate_schedule", schedule},
        {"batch_size", std::to_string(o.batch_size)},
        {"zero_output_head", o.zero_output_head ? "yes" : "no"}};
    facts.insert(facts.end(), trained.begin(), trained.end());
    if (o.select_initial)
        facts.push_back({std::string("initial_") + selection_set_name(h.selection) + "_loss",
                         number(h.initial_selection_loss)});
    return facts;
}

std::vector<float> TransformerForecaster::predict(const std::vector<History>& histories, int64_t width) {
    TWP_CHECK(!parameters_.empty(), "the " << names().key << " forecaster predicts before it was fitted");
    const int64_t s = config_.sequence_length, d = config_.dim, count = int64_t(histories.size());
    TWP_CHECK(width == d || (forecasts_weights() && width == space_.raw_dim),
              "the " << names().key << " forecaster forecasts " << d << " PCA scores"
                     << (forecasts_weights() ? " or " + std::to_string(space_.raw_dim) + " weights" : std::string())
                     << ", asked for vectors of " << width);
    if (!predictor_) predictor_.emplace(backend_, config_, parameters_, delta_target_, space_);
    std::vector<float> windows(count * s * width);  // the last s vectors of each history
    for (int64_t i = 0; i < count; ++i) {
        const History& h = histories[i];
        TWP_CHECK(h.length >= s, "the transformer needs " << s << " vectors of history, got " << h.length);
        std::copy(h.vectors + (h.length - s) * width, h.vectors + h.length * width, windows.begin() + i * s * width);
    }
    if (width == d) return predictor_->predict(windows, count);
    // Weights: the last weights moved by the predicted change of the scores mapped back through
    // the PCA, B^T (next - last) = from_pca(next) - from_pca(last) (the mean cancels); what the
    // PCA does not represent stays at its last value.
    const std::vector<float> scores = space_.to_pca(backend_, windows.data(), count * s);
    const std::vector<float> next = predictor_->predict(scores, count);
    std::vector<float> last(count * d);
    for (int64_t i = 0; i < count; ++i)
        std::copy(scores.begin() + (i * s + s - 1) * d, scores.begin() + (i * s + s) * d, last.begin() + i * d);
    const std::vector<float> next_raw = space_.from_pca(backend_, next.data(), count);
    const std::vector<float> last_raw = space_.from_pca(backend_, last.data(), count);
    std::vector<float> weights(count * width);
    for (int64_t i = 0; i < count; ++i) {
        const float* raw_last = windows.data() + (i * s + s - 1) * width;
        for (int64_t j = 0; j < width; ++j)
            weights[i * width + j] = raw_last[j] + (next_raw[i * width + j] - last_raw[i * width + j]);
    }
    return weights;
}

namespace {

// Nothing in an evaluation mode whose --model_path another forecaster saved.
std::unique_ptr<Forecaster> make_recipe(const ForecasterContext& context, TransformerRecipe recipe) {
    if (context.loaded && context.loaded->forecaster != recipe_key(recipe)) return nullptr;
    return std::make_unique<TransformerForecaster>(context, recipe);
}

}  // namespace

std::unique_ptr<Forecaster> make_seed_forecaster(const ForecasterContext& context) {
    return make_recipe(context, TransformerRecipe::kSeed);
}

std::unique_ptr<Forecaster> make_transformer_forecaster(const ForecasterContext& context) {
    return make_recipe(context, TransformerRecipe::kTransformer);
}

}  // namespace twp
