// The predictor's training loop; see predictor_training.hpp.
#include "experiment/predictor_training.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>

#include <zlib.h>

#include "engine/buffer.hpp"
#include "engine/error.hpp"
#include "engine/random.hpp"
#include "experiment/numbers.hpp"
#include "experiment/progress.hpp"
#include "experiment/training_settings.hpp"

namespace twp {
namespace {

using Clock = std::chrono::steady_clock;

// A checksum of what the model is trained on (model-space snapshots, windows): a resume on other
// snapshots, another PCA or other standardization statistics would not continue the same training.
uint32_t data_checksum(const PredictorData& data, const ModelSeries& series) {
    uLong crc = crc32_z(0L, Z_NULL, 0);
    for (const std::vector<float>& run : series.model)
        crc = crc32_z(crc, reinterpret_cast<const Bytef*>(run.data()), run.size() * sizeof(float));
    for (const std::vector<Window>* windows : {&data.train_windows, &data.validation_windows, &data.test_windows})
        for (const Window& w : *windows) {
            const int64_t pair[2] = {w.run_index, w.first};
            crc = crc32_z(crc, reinterpret_cast<const Bytef*>(pair), sizeof pair);
        }
    return uint32_t(crc);
}

// What a training is: a checkpoint of another cannot be continued.
Settings training_settings(const PredictorData& data, const ModelSeries& series, const PredictorOptions& options,
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
            {"validation_windows", std::to_string(data.validation_windows.size()), "--validation_fraction"},
            {"test_windows", std::to_string(data.test_windows.size()), "--train_split"},
            {"selection", selection_set_name(options.selection), "--selection"},
            {"warmup_steps", std::to_string(options.warmup_steps), "the forecaster's recipe"},
            {"decay_steps", std::to_string(options.decay_steps), "the forecaster's recipe"},
            {"min_learning_rate", float_text(options.min_learning_rate), "the forecaster's recipe"},
            {"patience", std::to_string(options.patience), "the forecaster's recipe"},
            {"zero_output_head", options.zero_output_head ? "1" : "0", "the forecaster's recipe"},
            {"select_initial", options.select_initial ? "1" : "0", "the forecaster's recipe"},
            {"data_crc32", std::to_string(data_checksum(data, series)),
             "the snapshots in --snapshot_dir, --apply_pca, --standardize"}};
}

TransformerConfig trained_config(const PredictorData& data, const PredictorOptions& options) {
    TransformerConfig config = options.model;
    config.dim = data.space.dim();
    config.sequence_length = options.sequence_length;
    return config;
}

// One training: the model, Adam's moments, the batch buffers and the loop's counters, with one
// function per part of an epoch.
class PredictorTrainer {
public:
    PredictorTrainer(Backend& backend, const PredictorData& data, const ModelSeries& series,
                     const PredictorOptions& options)
        : backend_(backend), data_(data), series_(series), options_(options),
          selection_windows_(options.selection == SelectionSet::kValidation ? data.validation_windows
                                                                           : data.test_windows),
          config_(trained_config(data, options)),
          s_(config_.sequence_length), d_(config_.dim), batch_(options.batch_size),
          model_(backend, config_, batch_), count_(model_.layout().total()),
          m_(backend, count_), v_(backend, count_), inputs_(backend, batch_ * s_ * d_), targets_(backend, batch_ * d_),
          dpred_(backend, batch_ * d_), loss_(backend, 1), host_inputs_(batch_ * s_ * d_), host_targets_(batch_ * d_),
          adam_{options.learning_rate, 0.9f, 0.999f, 1e-8f}, train_order_(data.train_windows.size()),
          selection_order_(selection_windows_.size()), shuffle_(options.seed, RngStream::kShuffle),
          settings_(training_settings(data, series, options, config_)) {
        model_.initialize(options.seed, options.zero_output_head);
        backend.fill(m_.view(), 0.0f);
        backend.fill(v_.view(), 0.0f);
        std::iota(train_order_.begin(), train_order_.end(), 0);
        std::iota(selection_order_.begin(), selection_order_.end(), 0);
        history_.selection = options.selection;
        history_.best_selection_loss = INFINITY;
    }

    TrainedPredictor run() {
        if (options_.resume) restore();
        if (options_.select_initial && first_epoch_ == 1) score_initial();
        Progress progress("predictor", int64_t(options_.epochs - first_epoch_ + 1) * int64_t(train_order_.size()), "win");
        for (int epoch = first_epoch_; epoch <= options_.epochs && !finished_; ++epoch) {
            const auto [train_loss, selection_loss] = run_epoch(epoch);
            char line[200];
            std::snprintf(line, sizeof line, "predictor epoch %d/%d: train MSE %.6g, %s MSE %.6g%s%s", epoch,
                          options_.epochs, train_loss, selection_set_name(options_.selection), selection_loss,
                          history_.best_epoch == epoch ? " (best)" : "",
                          history_.stopped_early ? " (stopped early: no better epoch within the patience)" : "");
            if (options_.show_progress)
                progress.update(int64_t(epoch - first_epoch_ + 1) * int64_t(train_order_.size()));
            if (options_.show_progress || epoch == options_.epochs || epoch % 10 == 0 || finished_)
                progress.print_line(line);
            if (epoch == options_.stop_after_epoch)
                TWP_FAIL("predictor training stopped after epoch " << epoch << " as asked (stop_after_epoch)");
        }
        if (options_.show_progress) progress.finish();
        TrainedPredictor result;
        result.config = config_;
        result.delta_target = options_.delta_target;
        result.last_parameters = model_.parameters().download();
        result.best_parameters = best_parameters_.empty() ? result.last_parameters : best_parameters_;
        result.history = history_;
        result.history.steps = step_;
        result.history.seconds = std::chrono::duration<double>(Clock::now() - start_).count();
        return result;
    }

private:
    // --resume: the whole state from the checkpoint, which must be of this very training.
    void restore() {
        const std::string folder = options_.checkpoint_path.parent_path().parent_path().string();
        std::error_code error;
        if (!std::filesystem::exists(options_.checkpoint_path, error)) {
            // Another forecaster of the experiment was interrupted before this one started.
            std::fprintf(stderr, "twp: --resume: %s has no checkpoint yet: this training starts from the beginning\n",
                         options_.checkpoint_path.string().c_str());
            return;
        }
        PredictorCheckpoint c;
        try {
            c = load_predictor_checkpoint(options_.checkpoint_path);
        } catch (const Error& e) {
            TWP_FAIL("cannot resume the predictor training of " << folder << ": " << e.what()
                     << "; start a new experiment without --resume");
        }
        if (const auto mismatch = find_mismatch(settings_, c.settings))
            TWP_FAIL("cannot resume the predictor training of " << folder << ": it was started with "
                     << mismatch->setting.key << " " << mismatch->written << " (" << mismatch->setting.flag
                     << "), this command has " << mismatch->setting.value << "; resume with the flags in " << folder
                     << "/config.txt, or start a new experiment without --resume");
        TWP_CHECK(int64_t(c.parameters.size()) == count_ && c.train_order.size() == train_order_.size() &&
                      c.epoch <= options_.epochs && shuffle_.set_state(c.shuffle),
                  options_.checkpoint_path.string() << " does not fit this model; start a new experiment without --resume");
        model_.parameters().upload(c.parameters);
        m_.upload(c.adam_m);
        v_.upload(c.adam_v);
        train_order_ = std::move(c.train_order);
        step_ = c.step;
        dropout_counter_ = c.dropout_counter;
        history_ = std::move(c.history);
        best_parameters_ = std::move(c.best_parameters);
        finished_ = c.finished;
        checkpoint_epoch_ = c.epoch;
        first_epoch_ = c.epoch + 1;
        std::fprintf(stderr, "twp: predictor training resumed after epoch %d/%d (step %lld)\n", c.epoch,
                     options_.epochs, static_cast<long long>(step_));
    }

    // select_initial: the initial parameters are the best so far, as epoch 0.
    void score_initial() {
        history_.initial_selection_loss = run_batches(selection_windows_, selection_order_, false, 0);
        history_.best_selection_loss = history_.initial_selection_loss;
        history_.best_epoch = 0;
        history_.best_step = 0;
        best_parameters_ = model_.parameters().download();
    }

    // Shuffles, trains on every train window, scores the selection set's windows, looks for
    // non-finite parameters, keeps the best, counts the patience, and checkpoints when due.
    // Returns the epoch's (train, selection) MSE.
    std::pair<double, double> run_epoch(int epoch) {
        for (int64_t i = int64_t(train_order_.size()) - 1; i > 0; --i)
            std::swap(train_order_[i], train_order_[shuffle_.below(uint32_t(i + 1))]);
        const double train_loss = run_batches(data_.train_windows, train_order_, true, epoch);
        const double selection_loss = run_batches(selection_windows_, selection_order_, false, epoch);
        std::vector<float> parameters = model_.parameters().download();
        if (const int64_t bad = first_non_finite(parameters.data(), count_); bad >= 0)
            fail(epoch, "after step " + std::to_string(step_),
                 "the parameters became non-finite (" + model_.layout().entry_at(bad).name + " holds " +
                     number_text(parameters[bad]) + ")");
        history_.train_loss.push_back(train_loss);
        history_.selection_loss.push_back(selection_loss);
        if (selection_loss < history_.best_selection_loss) {
            history_.best_selection_loss = selection_loss;
            history_.best_epoch = epoch;
            history_.best_step = step_;
            history_.epochs_since_best = 0;
            best_parameters_ = parameters;
        } else {
            ++history_.epochs_since_best;
        }
        history_.steps = step_;
        history_.stopped_early =
            options_.patience > 0 && history_.epochs_since_best >= options_.patience && epoch < options_.epochs;
        finished_ = epoch == options_.epochs || history_.stopped_early;
        save_if_due(epoch, std::move(parameters));
        return {train_loss, selection_loss};
    }

    // One pass over `order`'s windows in batches; training passes step Adam. As the reference:
    // the mean of the batch means.
    double run_batches(const std::vector<Window>& windows, const std::vector<int64_t>& order, bool train, int epoch) {
        double loss_sum = 0;
        int64_t batches = 0;
        const int64_t total = (int64_t(order.size()) + batch_ - 1) / batch_;
        for (int64_t first = 0; first < int64_t(order.size()); first += batch_) {
            const int64_t b = std::min(batch_, int64_t(order.size()) - first);
            assemble(windows, order, first, b);
            inputs_.upload(host_inputs_.data(), b * s_ * d_);
            targets_.upload(host_targets_.data(), b * d_);
            const Tensor pred = model_.forward(inputs_.view({b, s_, d_}), train ? Pass::kTraining : Pass::kInference,
                                               options_.seed, dropout_counter_);
            backend_.mse_loss_forward(pred, targets_.view({b, d_}), loss_.view({1}));
            float value = 0;
            loss_.download(&value, 1);
            if (!std::isfinite(value))
                fail(epoch,
                     train ? "step " + std::to_string(step_ + 1) + " (batch " + std::to_string(batches + 1) + " of " +
                                 std::to_string(total) + ")"
                           : std::string(selection_set_name(options_.selection)) + " pass after step " +
                                 std::to_string(step_),
                     std::string(train ? "the training" : std::string("the ") + selection_set_name(options_.selection)) +
                         " MSE became " + number_text(value));
            loss_sum += value;
            ++batches;
            if (train) {
                dropout_counter_ += model_.dropout_counters(b);
                backend_.mse_loss_backward(pred, targets_.view({b, d_}), dpred_.view({b, d_}));
                model_.backward(dpred_.view({b, d_}));
                AdamConfig adam = adam_;
                adam.learning_rate = scheduled_learning_rate(options_, ++step_);
                backend_.adam_update(model_.parameters().view(), model_.gradients().view(), m_.view(), v_.view(),
                                     step_, adam);
            }
        }
        return loss_sum / double(std::max<int64_t>(batches, 1));
    }

    // host_inputs_ [b, S, D] and host_targets_ [b, D] (model space) for windows [first, first + b) of `order`.
    void assemble(const std::vector<Window>& windows, const std::vector<int64_t>& order, int64_t first, int64_t b) {
        for (int64_t i = 0; i < b; ++i) {
            const Window& w = windows[order[first + i]];
            const float* run = series_.model[w.run_index].data();
            std::copy(run + w.first * d_, run + (w.first + s_) * d_, host_inputs_.begin() + i * s_ * d_);
            const float* next = run + (w.first + s_) * d_;
            const float* last = run + (w.first + s_ - 1) * d_;
            for (int64_t j = 0; j < d_; ++j)
                host_targets_[i * d_ + j] = options_.delta_target ? next[j] - last[j] : next[j];
        }
    }

    // The checkpoint after the last epoch (or the one that stopped early), the epoch a test stops
    // at, and once checkpoint_seconds have passed since the previous one.
    void save_if_due(int epoch, std::vector<float> parameters) {
        const bool due = finished_ || epoch == options_.stop_after_epoch ||
                         std::chrono::duration<double>(Clock::now() - last_checkpoint_).count() >=
                             options_.checkpoint_seconds;
        if (options_.checkpoint_path.empty() || !due) return;
        PredictorCheckpoint c;
        c.settings = settings_metadata(settings_);
        c.epoch = epoch;
        c.step = step_;
        c.dropout_counter = dropout_counter_;
        c.finished = finished_;
        c.shuffle = shuffle_.state();
        c.train_order = train_order_;
        c.parameters = std::move(parameters);
        c.adam_m = m_.download();
        c.adam_v = v_.download();
        c.best_parameters = best_parameters_;
        c.history = history_;
        save_predictor_checkpoint(options_.checkpoint_path, c);
        checkpoint_epoch_ = epoch;
        last_checkpoint_ = Clock::now();
    }

    // A NaN or Inf: stop with where it happened and what to try; the last checkpoint stays.
    [[noreturn]] void fail(int epoch, const std::string& where, const std::string& what) const {
        const std::string kept = checkpoint_epoch_ > 0 ? "the checkpoint of epoch " + std::to_string(checkpoint_epoch_) +
                                                             " stays in " + options_.checkpoint_path.string()
                                                       : std::string("nothing was saved");
        TWP_FAIL("predictor training, epoch " << epoch << ", " << where << ": " << what << ". Training stopped; "
                 << kept << ". The optimization diverged: try a lower --learning_rate (now " << options_.learning_rate
                 << ")" << (series_.space.standardize ? "" : " or --standardize (PCA scores of very different scales)"));
    }

    Backend& backend_;
    const PredictorData& data_;
    const ModelSeries series_;
    const PredictorOptions& options_;
    const std::vector<Window>& selection_windows_;
    const Clock::time_point start_ = Clock::now();
    const TransformerConfig config_;
    const int64_t s_, d_, batch_;
    TransformerPredictor model_;
    const int64_t count_;  // parameters
    Buffer<float> m_, v_, inputs_, targets_, dpred_, loss_;
    std::vector<float> host_inputs_, host_targets_;
    const AdamConfig adam_;
    std::vector<int64_t> train_order_, selection_order_;
    Rng shuffle_;
    const Settings settings_;
    int64_t step_ = 0;
    uint64_t dropout_counter_ = 0;
    PredictorHistory history_;
    std::vector<float> best_parameters_;
    int first_epoch_ = 1, checkpoint_epoch_ = 0;
    bool finished_ = false;
    Clock::time_point last_checkpoint_ = start_;
};

}  // namespace

float scheduled_learning_rate(const PredictorOptions& o, int64_t step) {
    if (o.warmup_steps > 0 && step <= o.warmup_steps)
        return float(double(o.learning_rate) * double(step) / double(o.warmup_steps));
    if (o.decay_steps <= o.warmup_steps) return o.learning_rate;
    const double t = std::min(1.0, double(step - o.warmup_steps) / double(o.decay_steps - o.warmup_steps));
    const double pi = 3.14159265358979323846;
    return float(double(o.min_learning_rate) +
                 0.5 * (double(o.learning_rate) - double(o.min_learning_rate)) * (1.0 + std::cos(pi * t)));
}

TrainedPredictor train_predictor(Backend& backend, const PredictorData& data, const ModelSeries& series,
                                 const PredictorOptions& options) {
    TWP_CHECK(options.batch_size >= 1, "--batch_size must be at least 1, got " << options.batch_size);
    TWP_CHECK(options.epochs >= 1, "--predictor_epochs must be at least 1, got " << options.epochs);
    TWP_CHECK(!options.resume || !options.checkpoint_path.empty(), "resuming needs a checkpoint path");
    TWP_CHECK(options.warmup_steps >= 0 && options.decay_steps >= 0 && options.patience >= 0,
              "the learning rate schedule and the patience take counts of 0 or more");
    TWP_CHECK(options.selection == SelectionSet::kTest || !data.validation_windows.empty(),
              "choosing the predictor on the validation windows needs some: give a --validation_fraction above 0, "
              "or --selection test (the reference's protocol)");
    TWP_CHECK(series.model.size() == data.model.size() && series.space.dim() == data.space.dim(),
              "the predictor's series do not match the data's runs");
    return PredictorTrainer(backend, data, series, options).run();
}

TrainedPredictor train_predictor(Backend& backend, const PredictorData& data, const PredictorOptions& options) {
    return train_predictor(backend, data, ModelSeries{data.space, data.model}, options);
}

}  // namespace twp
